"""Read the transcripts recorded from a real FreeSWITCH 1.10 (../shared/freeswitch/) and the
frames the simulator sends, into one shape the tests compare."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "freeswitch"
if not DIR.exists():  # the worktree's symlink; fall back to the shared folder itself
    DIR = Path("/work/shared/freeswitch")
MARK = re.compile(rb"^=== frame \((\d+) bytes\) ===\n", re.M)


@dataclass
class Frame:
    raw: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def get(self, key: str) -> str | None:
        return next((v for k, v in self.headers if k == key), None)

    @property
    def content_type(self) -> str | None:
        return self.get("Content-Type")

    def event_headers(self) -> list[tuple[str, str]]:
        """The headers of a text/event-plain body, values still URL-encoded."""
        return _header_lines(self.body.decode())


def _header_lines(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.split("\n"):
        if not line:
            break
        key, _, value = line.partition(": ")
        out.append((key, value))
    return out


def parse_frame(raw: bytes) -> Frame:
    head, _, body = raw.partition(b"\n\n")
    return Frame(raw, _header_lines(head.decode() + "\n"), body)


def inbound(name: str) -> list[tuple[str, object]]:
    """The dialogue of an inbound-* transcript: ("send", command) and ("frame", Frame)."""
    data = (DIR / name).read_bytes()
    items: list[tuple[str, object]] = []
    pos = 0
    while pos < len(data):
        if data.startswith(b">>> ", pos):
            end = data.index(b"\n", pos)
            items.append(("send", data[pos + 4 : end].decode()))
            pos = end + 1
            continue
        m = MARK.match(data, pos)
        if m:
            size = int(m.group(1))
            raw = data[m.end() : m.end() + size]
            assert len(raw) == size
            items.append(("frame", parse_frame(raw)))
            pos = m.end() + size
            continue
        pos = data.index(b"\n", pos) + 1  # the blank separators the recorder wrote
    return items


def frames_of(name: str) -> list[Frame]:
    return [f for kind, f in inbound(name) if kind == "frame"]  # type: ignore[misc]


def outbound_stream(name: str) -> bytes:
    """The raw bytes FreeSWITCH sent on an outbound socket (the client's lines removed)."""
    lines = (DIR / name).read_bytes().split(b"\n")
    return b"\n".join(line for line in lines if not line.startswith(b">>> "))


def split_stream(data: bytes) -> list[Frame]:
    """Cut an event-socket byte stream into frames by its own framing rules."""
    frames = []
    pos = 0
    while pos < len(data):
        while data.startswith(b"\n", pos):
            pos += 1
        if pos >= len(data):
            break
        end = data.find(b"\n\n", pos)
        if end < 0:
            break
        head = data[pos : end + 1].decode()
        headers = _header_lines(head)
        length = next((int(v) for k, v in headers if k == "Content-Length"), 0)
        body = data[end + 2 : end + 2 + length]
        frames.append(Frame(data[pos : end + 2 + length], headers, body))
        pos = end + 2 + length
    return frames


class Reader:
    """A raw event-socket client: reads frames exactly as they come off the wire."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        sock.settimeout(10)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def frame(self) -> Frame:
        while b"\n\n" not in self.buf:
            self._fill()
        end = self.buf.index(b"\n\n")
        headers = _header_lines(self.buf[: end + 1].decode())
        length = next((int(v) for k, v in headers if k == "Content-Length"), 0)
        while len(self.buf) < end + 2 + length:
            self._fill()
        raw = self.buf[: end + 2 + length]
        self.buf = self.buf[end + 2 + length :]
        return Frame(raw, headers, raw[end + 2 :])

    def send(self, command: str) -> None:
        self.sock.sendall(command.encode() + b"\n\n")

    def until(self, predicate, limit: int = 200) -> list[Frame]:  # noqa: ANN001
        seen = []
        for _ in range(limit):
            f = self.frame()
            seen.append(f)
            if predicate(f):
                return seen
        raise AssertionError("frame never came")

    def closed(self) -> bool:
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except TimeoutError:
            return False
