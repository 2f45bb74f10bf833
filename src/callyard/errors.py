"""Domain exceptions: each carries an HTTP-ish status, a stable ``error_id`` and details.

The web layer renders them as JSON (REST) or as an error ack (Socket.IO); the CLI prints the
message and exits. Messages say what to do about the problem.
"""

from __future__ import annotations

from typing import Any


class CallyardError(Exception):
    status = 500
    error_id = "internal-error"

    def __init__(self, message: str, *, error_id: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if error_id:
            self.error_id = error_id
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error_id": self.error_id, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


class ConfigError(CallyardError):
    status = 500
    error_id = "invalid-config"


class InvalidInput(CallyardError):
    status = 400
    error_id = "invalid-input"


class Unauthorized(CallyardError):
    status = 401
    error_id = "unauthorized"


class Forbidden(CallyardError):
    status = 403
    error_id = "forbidden"


class NotFound(CallyardError):
    status = 404
    error_id = "not-found"


class Conflict(CallyardError):
    status = 409
    error_id = "conflict"


class Unavailable(CallyardError):
    status = 503
    error_id = "unavailable"
