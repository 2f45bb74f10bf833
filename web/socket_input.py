"""Checks on what browsers send over the agent socket: anything may arrive, from any tab."""

from __future__ import annotations

from typing import Any

from callyard.errors import InvalidInput
from callyard.services.compose import clean_subject, upload_ids

# The largest id a database column can hold; a bigger number made SQLite fail with an overflow.
MAX_ID = 2**63 - 1


def positive_id(data: Any, key: str) -> int:
    value = data.get(key) if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise InvalidInput(f"{key} must be a positive integer", error_id="invalid-input")
    return value


def since_of(data: Any) -> int | None:
    """The journal number a tab has seen up to, if it sent a usable one."""
    value = data.get("since") if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        return None
    return value


def text_of(data: Any, key: str, *, required: bool = True) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be text", error_id="invalid-input")
    return value


def criteria_of(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidInput("search with an object of criteria", error_id="invalid-search")
    return data


def reply_extras(data: Any) -> dict[str, Any]:
    """A reply's files (upload ids) and, for email, its subject, when the composer sent them."""
    extras: dict[str, Any] = {"uploads": upload_ids(data.get("attachments"))}
    subject = data.get("subject")
    if subject is not None and clean_subject(subject):
        extras["meta"] = {"subject": clean_subject(subject)}
    return extras
