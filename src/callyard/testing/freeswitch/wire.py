"""FreeSWITCH event-socket framing, as FreeSWITCH 1.10 writes it (no I/O here).

Header values are URL-encoded with FreeSWITCH's own rules (``switch_url_encode``: the
characters in ``SWITCH_URL_UNSAFE``, control bytes and non-ASCII bytes become ``%XX``; an
existing ``%XX`` escape is left alone). Events are lists of (name, value) pairs because a real
event may carry a header twice (``Hangup-Cause`` in CHANNEL_HANGUP_COMPLETE).
"""

from __future__ import annotations

import functools
import json
import re
from urllib.parse import unquote

UNSAFE = frozenset(b'\r\n #%&+:;<=>?@[\\]^`{|}"')
HEX = frozenset(b"0123456789ABCDEF")
GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

Headers = list[tuple[str, str]]


def url_encode_reference(value: str) -> str:
    """``switch_url_encode`` byte by byte: the definition ``url_encode`` must match."""
    data = value.encode("utf-8")
    out = []
    i = 0
    while i < len(data):
        b = data[i]
        if b == 0x25 and i + 2 < len(data) and data[i + 1] in HEX and data[i + 2] in HEX:
            out.append("%")
        elif b < 0x20 or b > 0x7E or b in UNSAFE:
            out.append(f"%{b:02X}")
        else:
            out.append(chr(b))
        i += 1
    return "".join(out)


# The bytes ``switch_url_encode`` escapes: a ``%`` that does not start an ``%XX`` escape,
# control bytes, DEL and above, and SWITCH_URL_UNSAFE.
_ESCAPED = re.compile(rb'%(?![0-9A-F]{2})|[\x00-\x1f\x7f-\xff\r\n #&+:;<=>?@\[\\\]^`{|}"]')


def _escape(match: re.Match[bytes]) -> bytes:
    return b"%%%02X" % match.group()[0]


@functools.lru_cache(maxsize=65536)
def url_encode(value: str) -> str:
    # Every event repeats most of a channel's values (names, variables, timestamps): under load
    # encoding them byte by byte was most of the simulator's CPU, so it is a regex and a cache.
    if value.isascii() and value.isalnum():
        return value
    return _ESCAPED.sub(_escape, value.encode("utf-8")).decode("ascii")


def url_decode(value: str) -> str:
    return unquote(value)


def serialize_plain(headers: Headers, body: str | None = None) -> str:
    text = "".join(f"{k}: {url_encode(v)}\n" for k, v in headers)
    if body is not None:
        return text + f"Content-Length: {len(body.encode())}\n\n{body}"
    return text + "\n"


def serialize_json(headers: Headers, body: str | None = None) -> str:
    pairs = list(headers)
    if body is not None:
        pairs += [("Content-Length", str(len(body.encode()))), ("_body", body)]
    # Built by hand: a real event may repeat a key, which a dict cannot hold.
    return "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v, ensure_ascii=False)}" for k, v in pairs) + "}"


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def serialize_xml(headers: Headers, body: str | None = None) -> str:
    lines = ["<event>", "  <headers>"]
    lines += [f"    <{k}>{url_encode(v)}</{k}>" for k, v in headers]
    lines.append("  </headers>")
    if body is not None:
        lines.append(f"  <body>{_xml_escape(body)}</body>")
    lines.append("</event>")
    return "\n".join(lines) + "\n"


SERIALIZERS = {"plain": serialize_plain, "json": serialize_json, "xml": serialize_xml}


def event_frame(fmt: str, headers: Headers, body: str | None = None) -> bytes:
    payload = SERIALIZERS[fmt](headers, body).encode("utf-8")
    return f"Content-Length: {len(payload)}\nContent-Type: text/event-{fmt}\n\n".encode() + payload


def auth_request() -> bytes:
    return b"Content-Type: auth/request\n\n"


def command_reply(text: str, **extra: str) -> bytes:
    more = "".join(f"{k.replace('_', '-')}: {v}\n" for k, v in extra.items())
    return f"Content-Type: command/reply\nReply-Text: {text}\n{more}\n".encode()


def api_response(body: str) -> bytes:
    data = body.encode("utf-8")
    return f"Content-Type: api/response\nContent-Length: {len(data)}\n\n".encode() + data


def disconnect_notice(session_uuid: str | None = None, disposition: str = "disconnect") -> bytes:
    head = "Content-Type: text/disconnect-notice\n"
    if session_uuid:
        head += f"Controlled-Session-UUID: {session_uuid}\nContent-Disposition: {disposition}\n"
    return f"{head}Content-Length: {len(GOODBYE)}\n\n{GOODBYE}".encode()


def linger_notice(session_uuid: str, channel_name: str, linger: int) -> bytes:
    return (
        "Content-Type: text/disconnect-notice\n"
        f"Controlled-Session-UUID: {session_uuid}\nContent-Disposition: linger\n"
        f"Channel-Name: {channel_name}\nLinger-Time: {linger}\nContent-Length: 0\n\n"
    ).encode()


def connect_reply(channel_data: Headers) -> bytes:
    """The outbound socket's answer to ``connect``: the channel's data with the reply headers
    appended, all URL-encoded, in one header block (note ``Reply-Text: %2BOK%0A``)."""
    headers = [*channel_data, ("Content-Type", "command/reply"), ("Reply-Text", "+OK\n")]
    headers += [("Socket-Mode", "async"), ("Control", "full")]
    return serialize_plain(headers).encode("utf-8")


def parse_command(block: str) -> tuple[str, dict[str, str]]:
    """A client command: its first line and, for ``sendmsg``, the headers after it."""
    lines = block.split("\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
    return lines[0].strip(), headers
