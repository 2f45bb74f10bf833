"""The gateway's DATA reading (channels/email/server.py) against aiosmtpd's own, over real
sockets: for the same bytes on the wire both answer the same and hand the handler the same
message (dots unstuffed, lines too long refused, too much data refused, nothing lost)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest
from aiosmtpd.smtp import SMTP

from callyard.channels.email.server import BulkDataSMTP

LIMIT = 200_000


class Capture:
    def __init__(self) -> None:
        self.contents: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802
        self.contents.append(envelope.original_content)
        return f"250 OK got {len(envelope.original_content)}"


class Running:
    """An SMTP server class served in a thread of its own, on a port of its own."""

    def __init__(self, cls: type[SMTP]) -> None:
        self.capture = Capture()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(cls,), daemon=True)
        self._thread.start()
        assert self._ready.wait(10)

    def _run(self, cls: type[SMTP]) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            self._loop.create_server(
                lambda: cls(self.capture, data_size_limit=LIMIT, enable_SMTPUTF8=True), "127.0.0.1", 0
            )
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Running, Running]]:
    stock, bulk = Running(SMTP), Running(BulkDataSMTP)
    yield stock, bulk
    stock.stop()
    bulk.stop()


def talk(port: int, wire: bytes) -> list[bytes]:
    """Send a whole session as raw bytes (the DATA part exactly as given) and read the replies
    up to QUIT's."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        reader = sock.makefile("rb")
        replies = [reader.readline()]
        sock.sendall(b"EHLO test\r\n")
        while not (line := reader.readline()).startswith(b"250 "):
            assert line.startswith(b"250-"), line
        for command in (b"MAIL FROM:<olga@example.ru>\r\n", b"RCPT TO:<support@shop.test>\r\n", b"DATA\r\n"):
            sock.sendall(command)
            replies.append(reader.readline())
        # The data and what follows it in one write: the end of the data must be found within it.
        sock.sendall(wire + b"NOOP\r\nQUIT\r\n")
        replies += [reader.readline(), reader.readline(), reader.readline()]
        return replies[1:]


CASES = {
    "plain": b"Subject: hi\r\n\r\nHello.\r\nEnds with a dot.\r\n.\r\n",
    "empty": b".\r\n",
    "one line": b"Subject: x\r\n.\r\n",
    "stuffed dots": b"Subject: x\r\n\r\n..leading\r\n...\r\n.. \r\nmid.dle\r\n..\r\n.\r\n",
    "dot at start": b"..starts\r\nbody\r\n.\r\n",
    "bare newlines": b"Subject: x\r\n\r\na\n.\r\nstill in\r\nb\n.x\r\n.\r\n",
    "base64 body": b"Subject: x\r\n\r\n"
    + b"QUJD" * 19
    + b"\r\n" * 1
    + (b"QUJD" * 19 + b"\r\n") * 3000
    + b".\r\n",
    "long line": b"Subject: x\r\n\r\n" + b"y" * 1200 + b"\r\nafter\r\n.\r\n",
    "line at the limit": b"Subject: x\r\n\r\n" + b"y" * 999 + b"\r\n.\r\n",
    "line one over": b"Subject: x\r\n\r\n" + b"y" * 1000 + b"\r\n.\r\n",
    "too much": b"Subject: x\r\n\r\n" + (b"z" * 998 + b"\r\n") * 300 + b".\r\n",
    "too much, dots": b"Subject: x\r\n\r\n" + (b"z" * 997 + b".\r\n") * 300 + b".\r\n",
    "too much, then a long line": b"Subject: x\r\n\r\n"
    + (b"z" * 998 + b"\r\n") * 250
    + b"y" * 5000
    + b"\r\n.\r\n",
    "a long line, then too much": b"Subject: x\r\n\r\n"
    + b"y" * 5000
    + b"\r\n"
    + (b"z" * 998 + b"\r\n") * 250
    + b".\r\n",
    "too much, no lines": b"Subject: x\r\n\r\n"
    + (b"w" * 998 + b"\r\n") * 150
    + b"v" * 600_000
    + b"\r\n.\r\n",
}


@pytest.mark.parametrize("case", CASES)
def test_bulk_reading_answers_and_stores_as_aiosmtpd_does(servers, case):  # noqa: ANN001
    stock, bulk = servers
    before = len(stock.capture.contents), len(bulk.capture.contents)
    expected = talk(stock.port, CASES[case])
    got = talk(bulk.port, CASES[case])
    assert got == expected
    assert bulk.capture.contents[before[1] :] == stock.capture.contents[before[0] :]


def test_the_data_is_the_message_without_its_transparency_dots(servers):  # noqa: ANN001
    _, bulk = servers
    talk(bulk.port, b"Subject: x\r\n\r\n..one\r\ntwo.\r\n.\r\n")
    assert bulk.capture.contents[-1] == b"Subject: x\r\n\r\n.one\r\ntwo.\r\n"
