"""greenswitch, hardened: every wait has a timeout and a broken frame ends the connection.

greenswitch's ``send()`` waits forever for a reply (its issues #34, #29), a frame cut short
makes its reader spin on an empty socket, and a frame without the headers it expects kills
its reader greenlet while the connection still looks up. These subclasses keep greenswitch's
parsing and event dispatch and fix those edges: a failing frame or a missing reply closes the
connection, fails every waiting command, and the owner reconnects.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import gevent
import gevent.event
import gevent.lock
from greenswitch import esl

log = logging.getLogger(__name__)

NotConnectedError = esl.NotConnectedError
SessionGone = esl.OutboundSessionHasGoneAway


class _Hardened:
    """Mixed into greenswitch's protocol classes (before them, so these methods win)."""

    command_timeout: float = 10.0
    _send_lock: gevent.lock.Semaphore

    @staticmethod
    def _read_socket(sock: Any, length: int) -> str:
        data = b""
        while len(data) < length:
            chunk = sock.read(length - len(data))
            if not chunk:
                raise ConnectionError(f"frame cut short: {len(data)} of {length} bytes")
            data += chunk
        return data.decode("utf-8", errors="replace")

    def handle_event(self, event: Any) -> None:
        try:
            super().handle_event(event)  # type: ignore[misc]
        except Exception as exc:
            log.warning("FreeSWITCH sent a frame that cannot be read (%s); dropping the connection", exc)
            self.fail()

    def fail(self) -> None:
        """Close the connection and fail every command still waiting for its reply."""
        self.connected = False
        self._run = False
        pending, self._commands_sent = list(self._commands_sent), []
        for result in pending:
            if not result.ready():
                result.set_exception(NotConnectedError("connection to FreeSWITCH lost"))
        sock = getattr(self, "sock", None)
        if sock is not None:
            # Shut down, not just close: the reader greenlet blocked in readline() wakes up. Its
            # file object is closed by close(), from outside that greenlet.
            with contextlib.suppress(OSError):
                sock.shutdown(2)
            with contextlib.suppress(OSError):
                sock.close()

    def close(self) -> None:
        self.fail()
        for greenlet in (self._receive_events_greenlet, self._process_events_greenlet):
            if greenlet is not None and greenlet is not gevent.getcurrent():
                greenlet.kill(block=True, timeout=1)
        sock_file = getattr(self, "sock_file", None)
        if sock_file is not None:
            with contextlib.suppress(OSError, RuntimeError):
                sock_file.close()

    def send(self, data: str) -> Any:
        return self.send_many([data])[0]

    def send_many(self, commands: list[str]) -> list[Any]:
        """Send ``commands`` in one write and wait for their replies, in order. The event socket
        reads commands one after another and answers each in turn, so a call's setup (resume,
        myevents, filter) costs one round trip instead of three."""
        if not self.connected:
            raise NotConnectedError("not connected to FreeSWITCH")
        results = [gevent.event.AsyncResult() for _ in commands]
        with self._send_lock:
            self._commands_sent.extend(results)
            try:
                self.sock.sendall("".join(data + "\n\n" for data in commands).encode("utf-8"))
            except OSError as exc:
                self.fail()
                raise NotConnectedError(f"sending to FreeSWITCH failed: {exc}") from None
        replies = []
        with gevent.Timeout(self.command_timeout, False):
            for result in results:
                replies.append(result.get())
        if len(replies) < len(results):
            log.warning(
                "FreeSWITCH did not answer %r in %.1f s; dropping the connection",
                commands[len(replies)].split("\n")[0],
                self.command_timeout,
            )
            self.fail()
            raise NotConnectedError("FreeSWITCH did not answer in time")
        return replies

    @property
    def alive(self) -> bool:
        reader = self._receive_events_greenlet
        return bool(self.connected and reader is not None and not reader.dead)


class EslClient(_Hardened, esl.InboundESL):
    """One inbound event-socket connection to a FreeSWITCH node."""

    def __init__(self, host: str, port: int, password: str, *, timeout: float = 10.0) -> None:
        super().__init__(host, port, password, timeout=timeout)
        self.command_timeout = timeout
        self._send_lock = gevent.lock.Semaphore()


class CallSession(_Hardened, esl.OutboundSession):
    """The event socket FreeSWITCH opened for one call (dialplan ``socket ... async full``)."""

    def __init__(self, client_address: Any, sock: Any, *, timeout: float = 10.0) -> None:
        self._send_lock = gevent.lock.Semaphore()
        super().__init__(client_address, sock)
        self.command_timeout = timeout


def connect_client(host: str, port: int, password: str, timeout: float) -> EslClient:
    """Connect and authenticate, all within ``timeout`` seconds."""
    client = EslClient(host, port, password, timeout=timeout)
    try:
        with gevent.Timeout(timeout, NotConnectedError(f"no answer from {host}:{port} in {timeout:.0f} s")):
            client.connect()
    except BaseException:
        if getattr(client, "sock", None) is not None:
            client.close()
        raise
    return client
