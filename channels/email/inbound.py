"""Mail in: raw RFC 5322 bytes → what the core stores. Pure: no I/O, no clock.

Parsing uses the standard ``email`` package with ``policy.default``. Real mail is often
broken: headers with raw 8-bit bytes, unknown or lying charsets, missing headers, boundaries
that never close. None of that raises here; the message is stored as well as it can be read.
Only the limits (attachments, their sizes) refuse a message.
"""

from __future__ import annotations

import email
import functools
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage, Message
from typing import Any

from callyard.services.attachments import safe_filename

from . import html as html_mod
from .auto import automatic
from .errors import AttachmentTooLarge, TooManyAttachments
from .headers import address, addresses, clean, decode, first_id, header, ids, synthetic_id

log = logging.getLogger(__name__)

# The conversation number we put in our replies' subjects: "Re: Order [#123]".
TOKEN = re.compile(r"\[#(\d{1,12})\]")
MAX_TEXT_CHARS = 500_000
MAX_HTML_CHARS = 500_000


class _Registry(HeaderRegistry):
    """The standard header classes, each made once: the stock registry makes a new class
    (``type(...)``) for every header it reads, a dozen times per message."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


# Longer header values are parsed on every read, never kept (a long References list is rare
# and read once).
_CACHED_HEADER_CHARS = 1000


class _Policy(policy.EmailPolicy):
    """``policy.default``, reading each (name, value) once: the standard policy parses a header
    again on every ``msg.get`` (``get_content_type``, ``get_content_disposition``,
    ``get_filename`` and ``get_content_charset`` each read Content-Type or
    Content-Disposition, several times per part), and that parser was a fifth of the
    gateway's CPU per message. A parsed header is a string that nobody changes; the same
    (name, value) gives an equal header, so it can be shared between reads and messages."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name") or len(value) > _CACHED_HEADER_CHARS:
            return super().header_fetch_parse(name, value)
        return _parsed_header(self, name, value)


@functools.lru_cache(maxsize=1024)
def _parsed_header(owner: _Policy, name: str, value: str) -> BaseHeader:
    # lru_cache is thread-safe: large messages are parsed in worker threads.
    return policy.EmailPolicy.header_fetch_parse(owner, name, value)


POLICY = _Policy(header_factory=_Registry())


@dataclass(frozen=True)
class Limits:
    max_attachments: int
    max_attachment_bytes: int


@dataclass(frozen=True)
class InboundFile:
    filename: str
    content_type: str
    data: bytes
    content_id: str = ""
    inline: bool = False


@dataclass
class ParsedEmail:
    message_id: str
    sender: str  # who wrote: the contact's address
    sender_name: str
    reply_to: str  # where answers go (Reply-To, else the sender)
    subject: str
    text: str
    html: str | None
    in_reply_to: str | None
    references: list[str]
    to: list[str]
    cc: list[str]
    date: str
    # "auto-reply" or "bounce" for automatic messages: stored, never routed nor answered.
    auto: str | None
    conversation: int | None  # a "[#123]" token in the subject
    attachments: list[InboundFile] = field(default_factory=list)

    @property
    def thread_key(self) -> str:
        """The conversation's own key: the first message of the thread as the sender sees it."""
        root = self.references[0] if self.references else (self.in_reply_to or self.message_id)
        return root if len(root) <= 200 else "sha256:" + hashlib.sha256(root.encode()).hexdigest()

    def body(self) -> str:
        if self.text.strip():
            return self.text
        if self.attachments:
            names = ", ".join(a.filename for a in self.attachments[:10])
            return f"(no text; {len(self.attachments)} attachment(s): {names})"
        return "(empty message)"


def parse(raw: bytes, limits: Limits, *, envelope_sender: str | None = None) -> ParsedEmail:
    """``envelope_sender`` is SMTP's MAIL FROM: "" for the null sender of automatic mail."""
    msg = read_message(raw)
    message_id = first_id(header(msg, "Message-ID")) or synthetic_id(raw)
    # The contact is who wrote (From); answers go where they asked (Reply-To), if anywhere.
    sender_name, sender = address(header(msg, "From")) or ("", "")
    if not sender:
        sender = (envelope_sender or "").lower() or "unknown@invalid"
    reply_to = (address(header(msg, "Reply-To")) or ("", ""))[1] or sender
    subject = header(msg, "Subject")
    text, html, files = _content(msg, limits)
    token = TOKEN.search(subject)
    return ParsedEmail(
        message_id=message_id,
        sender=sender,
        sender_name=sender_name[:255],
        reply_to=reply_to,
        subject=subject[:998],
        text=text[:MAX_TEXT_CHARS],
        html=html if html is None or len(html) <= MAX_HTML_CHARS else None,
        in_reply_to=first_id(header(msg, "In-Reply-To")),
        references=ids(header(msg, "References")),
        to=addresses(header(msg, "To")),
        cc=addresses(header(msg, "Cc")),
        date=header(msg, "Date"),
        auto=automatic(msg, subject, envelope_sender, sender),
        conversation=int(token.group(1)) if token else None,
        attachments=files,
    )


# -- reading the message's structure -------------------------------------------------------

# A base64 body is read by the standard parser line by line, in Python: 5,400 lines for a
# 400 kB attachment, most of the gateway's CPU for such a message. A run of lines holding only
# base64's alphabet cannot change how the parser splits a message (a boundary line starts with
# "--", a header line holds a ":", a continuation starts with a space, the end of a header
# block is an empty line), so it is handed to the parser as one line and put back after.
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_MIN_RUN_BYTES = 8 * 1024
# Runs looked at per message: bounds the scanning of a message of many short paragraphs.
_MAX_RUN_CHECKS = 32


def read_message(raw: bytes) -> EmailMessage:
    """``email.message_from_bytes`` with ``POLICY``, the same message, sooner (see above)."""
    if len(raw) < _MIN_RUN_BYTES:
        return email.message_from_bytes(raw, policy=POLICY)
    marker = secrets.token_hex(16)  # base64's alphabet; a message cannot guess it
    runs: dict[str, str] = {}
    shorter = _fold_runs(raw, marker, runs)
    msg = email.message_from_bytes(shorter, policy=POLICY)
    if runs:
        _unfold_runs(msg, marker, runs)
    return msg


def _fold_runs(raw: bytes, marker: str, runs: dict[str, str]) -> bytes:
    """``raw`` with each long run of base64 lines that starts a body replaced by one line
    (``marker`` and a number), kept in ``runs``. Only whole lines ending in CRLF, none empty
    (the caller checks that the run holds no empty line)."""
    pieces: list[bytes] = []
    done = 0  # raw[:done] is in pieces
    at = raw.find(b"\r\n\r\n")
    checks = 0
    while at != -1 and checks < _MAX_RUN_CHECKS:
        start = at + 4
        end = raw.find(b"\r\n-", start)
        end = len(raw) if end == -1 else end
        # The next empty line: within the run, it is no run (an empty line ends a header
        # block); at its end or beyond, where to look next.
        at = raw.find(b"\r\n\r\n", start)
        checks += 1
        if (at == -1 or at + 2 >= end) and end - start >= _MIN_RUN_BYTES and _is_base64_run(raw, start, end):
            run = raw[start:end]
            tail = b"\r\n" if run.endswith(b"\r\n") else b""
            key = f"{marker}{len(runs):04d}"
            runs[key] = run[: len(run) - len(tail)].decode("ascii")
            pieces += (raw[done:start], key.encode("ascii"), tail)
            done = end
    if not runs:
        return raw
    pieces.append(raw[done:])
    return b"".join(pieces)


def _is_base64_run(raw: bytes, start: int, end: int) -> bool:
    """Whether ``raw[start:end]`` holds only base64 lines with CRLF line ends."""
    first = raw.find(b"\r\n", start, end)
    if first == -1 or first - start < 40 or raw[start:first].translate(None, _BASE64):
        return False  # cheap refusal first: the first line is no base64
    line_ends = raw[start:end].translate(None, _BASE64)
    return line_ends == b"\r\n" * (len(line_ends) // 2)  # nothing else, CRLF only


def _unfold_runs(msg: Message, marker: str, runs: dict[str, str]) -> None:
    """Put each run back where the parser kept its line (a body, a preamble, an epilogue)."""
    pattern = re.compile(re.escape(marker) + r"\d{4}")

    def back(text: str) -> str:
        return pattern.sub(lambda m: runs[m.group(0)], text)

    for part in msg.walk():
        payload = part.get_payload()
        if isinstance(payload, str) and marker in payload:
            part.set_payload(back(payload))
        for name in ("preamble", "epilogue"):
            text = getattr(part, name, None)
            if isinstance(text, str) and marker in text:
                setattr(part, name, back(text))


# -- content ---------------------------------------------------------------------------------


def _content(msg: EmailMessage, limits: Limits) -> tuple[str, str | None, list[InboundFile]]:
    texts: list[str] = []
    htmls: list[str] = []
    files: list[InboundFile] = []
    _walk(msg, texts, htmls, files, limits, in_alternative=False)
    html = "\n".join(htmls) if htmls else None
    text = "\n\n".join(t.strip("\n").rstrip() for t in texts if t.strip())
    if not text and html:
        text = html_mod.to_text(html)
    return text, (html_mod.sanitise(html) if html else None), files


def _walk(
    part: Message,
    texts: list[str],
    htmls: list[str],
    files: list[InboundFile],
    limits: Limits,
    *,
    in_alternative: bool,
) -> None:
    content_type = part.get_content_type()
    if part.is_multipart() and content_type != "message/rfc822":
        children = part.get_payload()
        if not isinstance(children, list) or not children:
            # A multipart whose boundary never comes: what there is sits in the preamble.
            if part.preamble and part.preamble.strip():
                texts.append(clean(part.preamble))
            return
        if content_type == "multipart/alternative":
            # One rendering of each: plain text preferred for the body, HTML kept for display.
            plain = [c for c in children if c.get_content_type() == "text/plain" and not _is_file(c)]
            rich = [c for c in children if c.get_content_type() == "text/html" and not _is_file(c)]
            other = [c for c in children if c not in plain and c not in rich]
            if plain:
                texts.append(_text_of(plain[-1]))
            if rich:
                htmls.append(_text_of(rich[-1]))
            for child in other:
                _walk(child, texts, htmls, files, limits, in_alternative=True)
            return
        for child in children:
            _walk(child, texts, htmls, files, limits, in_alternative=in_alternative)
        return
    if not _is_file(part) and (content_type == "text/plain" or content_type.startswith("multipart/")):
        # A multipart the parser gave up on (no boundary found) is read as the text it holds.
        texts.append(_text_of(part))
        return
    if not _is_file(part) and content_type == "text/html":
        htmls.append(_text_of(part))
        return
    _add_file(part, files, limits)


def _is_file(part: Message) -> bool:
    try:
        disposition = part.get_content_disposition()
    except Exception:
        disposition = None
    return disposition == "attachment" or (disposition == "inline" and bool(_filename(part)))


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    return clean(name) if name else ""


def _text_of(part: Message) -> str:
    raw = _bytes_of(part)
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    text = clean(decode(raw, charset))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _bytes_of(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    if isinstance(payload, list) and payload:  # message/rfc822: the enclosed message
        return payload[0].as_bytes(policy=policy.default.clone(linesep="\r\n"))
    return b""


def _add_file(part: Message, files: list[InboundFile], limits: Limits) -> None:
    if len(files) >= limits.max_attachments:
        raise TooManyAttachments(
            f"552 5.3.4 Too many attachments: at most {limits.max_attachments} per message"
        )
    content_type = part.get_content_type()
    try:
        data = _bytes_of(part)
    except Exception:
        data = b""
    if len(data) > limits.max_attachment_bytes:
        raise AttachmentTooLarge(
            f"552 5.3.4 An attachment is too large: at most {limits.max_attachment_bytes} bytes each"
        )
    name = _filename(part)
    if not name:
        name = _default_name(content_type, len(files) + 1)
    content_id = header(part, "Content-ID").strip()
    try:
        inline = part.get_content_disposition() == "inline" or bool(content_id)
    except Exception:
        inline = False
    files.append(
        InboundFile(
            filename=safe_filename(name),
            content_type=content_type,
            data=data,
            content_id=content_id[:255],
            inline=inline,
        )
    )


_EXTENSIONS = {
    "message/rfc822": "eml",
    "application/ms-tnef": "dat",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "application/pdf": "pdf",
    "text/calendar": "ics",
    "message/delivery-status": "txt",
}


def _default_name(content_type: str, n: int) -> str:
    if content_type == "message/rfc822":
        return f"forwarded-{n}.eml"
    if content_type == "application/ms-tnef":
        return "winmail.dat"
    return f"part-{n}.{_EXTENSIONS.get(content_type, 'bin')}"


def ingest_request(
    parsed: ParsedEmail, *, recipient: str, queue: str, acknowledge: str | None
) -> dict[str, Any]:
    """The core's ingest call for a parsed email (see the README's internal API)."""
    refs = [*parsed.references]
    if parsed.in_reply_to and parsed.in_reply_to not in refs:
        refs.append(parsed.in_reply_to)
    meta: dict[str, Any] = {
        "subject": parsed.subject,
        "from": parsed.sender,
        "reply_to": parsed.reply_to,
        "to": parsed.to,
        "cc": parsed.cc,
        "date": parsed.date,
        "recipient": recipient,
        "auto": parsed.auto,
    }
    if parsed.html:
        meta["html"] = parsed.html
    return {
        "channel": "email",
        "identity": {"kind": "email", "value": parsed.sender},
        "contact_name": parsed.sender_name,
        "body": parsed.body(),
        "queue": queue,
        "thread_key": parsed.thread_key,
        "external_id": parsed.message_id,
        "subject": parsed.subject,
        "meta": meta,
        "thread_refs": refs,
        "thread_hint": parsed.conversation,
        "routable": parsed.auto is None,
        "acknowledge": acknowledge if parsed.auto is None else None,
    }
