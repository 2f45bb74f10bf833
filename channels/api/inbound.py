"""What an integrator posts, turned into the kernel's terms. Pure: no I/O.

An API conversation is named by the integrator: ``source`` says where it happens (``sms``,
``whatsapp``, ``crm-form``) and ``thread`` is their id for it. Together they are the
interaction's thread key, so the next message on the same thread continues the conversation.
"""

from __future__ import annotations

import re

from callyard.errors import InvalidInput

SOURCE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_THREAD = 200


def thread_key(source: str, thread: str) -> str:
    if not SOURCE_RE.match(source):
        raise InvalidInput(
            "source: 1-32 characters of a-z, 0-9, '_' and '-', starting with a letter or digit",
            error_id="invalid-source",
        )
    if not 1 <= len(thread) <= MAX_THREAD or not thread.isprintable():
        raise InvalidInput(f"thread: 1-{MAX_THREAD} printable characters", error_id="invalid-thread")
    return f"{source}:{thread}"


def split_thread_key(key: str | None) -> tuple[str, str]:
    """(source, thread) of an API interaction's thread key."""
    source, _, thread = (key or "").partition(":")
    return source, thread
