"""What can go wrong on the API channel, as domain errors the REST API renders."""

from __future__ import annotations

from callyard.errors import Conflict


class NotAnApiInteraction(Conflict):
    error_id = "not-an-api-interaction"
