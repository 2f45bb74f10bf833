"""What can go wrong with a chat visitor, as domain errors the widget understands."""

from __future__ import annotations

from callyard.errors import Forbidden, Unauthorized


class InvalidVisitorToken(Unauthorized):
    error_id = "invalid-visitor-token"


class OriginNotAllowed(Forbidden):
    error_id = "origin-not-allowed"
