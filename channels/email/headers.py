"""Reading headers of real mail: encoded words, raw 8-bit bytes, broken addresses and ids.
Pure: nothing here raises on bad input."""

from __future__ import annotations

import email.header
import email.utils
import hashlib
import re
from email.message import Message

_FALLBACK_CHARSETS = ("utf-8", "windows-1251", "koi8-r", "latin-1")
# Headers whose parsed text differs from their plain text (addresses are re-quoted, dates
# re-written): always read through the header parser.
_PARSED = frozenset(
    ("from", "to", "cc", "bcc", "reply-to", "sender", "resent-from", "resent-to", "resent-cc",
     "date", "resent-date", "content-type", "content-disposition", "mime-version")
)  # fmt: skip


def header(msg: Message, name: str) -> str:
    """A header as text, whatever it holds: encoded words decoded, raw 8-bit bytes read as the
    most likely charset, never an exception."""
    raw = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), None)
    if raw is None:
        return ""
    if isinstance(raw, str) and name.lower() not in _PARSED and raw.isascii() and "=?" not in raw:
        # Nothing to decode: what the header parser would return is the text itself, unfolded
        # (and the parser costs more than the rest of reading a message).
        return " ".join(raw.replace("\x00", "").split())
    if isinstance(raw, str) and _has_escapes(raw):
        # Raw 8-bit bytes (not allowed, still common): read them as the likeliest charset,
        # before the header parser replaces them with question marks.
        text = clean(raw)
    else:
        try:
            text = str(msg.get(name))
        except Exception:  # policy.default can fail on a header it cannot parse at all
            text = _decoded_words(str(raw))
    return " ".join(clean(text).split())


def _decoded_words(value: str) -> str:
    try:
        parts = email.header.decode_header(value)
    except Exception:
        return value
    return "".join(p.decode(c or "utf-8", "replace") if isinstance(p, bytes) else p for p, c in parts)


_ESCAPES = re.compile("[\udc80-\udcff]")


def _has_escapes(text: str) -> bool:
    return _ESCAPES.search(text) is not None


def clean(text: str) -> str:
    """Text without surrogate escapes (8-bit junk) or NULs, safe to store and send as JSON."""
    if _has_escapes(text):
        raw = text.encode("utf-8", "surrogateescape")
        mostly_utf8 = raw.decode("utf-8", "replace")
        # UTF-8 with a stray bad byte stays UTF-8; text that is not UTF-8 at all is most
        # likely a Cyrillic 8-bit charset in mail that reaches us.
        bad = mostly_utf8.count("\ufffd")
        non_ascii = sum(1 for c in mostly_utf8 if ord(c) > 127)
        text = mostly_utf8 if bad * 3 <= non_ascii else decode(raw, None)
    return text.replace("\x00", "")


def decode(raw: bytes, charset: str | None) -> str:
    for candidate in ((charset,) if charset else ()) + _FALLBACK_CHARSETS:
        try:
            return raw.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return raw.decode("utf-8", "replace")  # pragma: no cover - latin-1 decodes anything


def address(value: str) -> tuple[str, str] | None:
    if not value:
        return None
    try:
        name, addr = email.utils.parseaddr(value)
    except Exception:
        return None
    addr = addr.strip().lower()
    if "@" not in addr or len(addr) > 254 or " " in addr:
        return None
    return name.strip(), addr


def addresses(value: str) -> list[str]:
    try:
        pairs = email.utils.getaddresses([value]) if value else []
    except Exception:
        return []
    return [a.lower() for _, a in pairs if "@" in a][:50]


_ID = re.compile(r"<[^<>\s]{1,250}>")


def ids(value: str) -> list[str]:
    return _ID.findall(value)[-50:]


def first_id(value: str) -> str | None:
    found = _ID.findall(value)
    if found:
        return found[0]
    bare = value.strip()
    # Some clients write the id without angle brackets.
    return f"<{bare}>" if bare and " " not in bare and "@" in bare and len(bare) < 250 else None


def synthetic_id(raw: bytes) -> str:
    """A message without a Message-ID gets one made from its bytes: a resend is the same."""
    return f"<{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id.callyard>"
