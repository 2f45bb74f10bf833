"""The controller's event-socket link against a FreeSWITCH that sends garbage: truncated
frames, binary junk, frames missing their headers, silence. Each connection is dropped and
reopened with backoff; nothing escapes and the good connection at the end works."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

AUTH = b"Content-Type: auth/request\n\n"
OK = b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
SUBSCRIBED = b"Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n"
BAD = [
    # a frame that says 500 bytes and stops after 5
    b"Content-Length: 500\nContent-Type: text/event-plain\n\nEvent",
    # bytes that are not UTF-8 at all
    b"\xff\xfe\xfd\x00\x01garbage\n\n",
    # an event frame without a Content-Length
    b"Content-Type: text/event-plain\n\n",
    # a reply nobody asked for, then lines without a colon
    b"Content-Type: command/reply\nReply-Text: +OK\n\nnonsense\n\n",
    # silence: the command is never answered (the client's timeout must fire)
    b"",
]


class ChaosSwitch:
    """Speaks just enough event socket to be connected to, then misbehaves, once per scenario;
    after the scenarios it behaves (answers `api` with a fixed reply)."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self.server.accept()
            except OSError:
                return
            self._open.append(sock)
            threading.Thread(target=self._talk, args=(sock, self.connections), daemon=True).start()
            self.connections += 1

    @staticmethod
    def _command(reader) -> str:  # noqa: ANN001
        lines = []
        while True:
            line = reader.readline()
            if not line:
                raise ConnectionError
            if line in (b"\n", b"\r\n"):
                return b"".join(lines).decode()
            lines.append(line)

    def _talk(self, sock: socket.socket, n: int) -> None:
        reader = sock.makefile("rb")
        try:
            sock.sendall(AUTH)
            self._command(reader)
            sock.sendall(OK)
            self._command(reader)
            sock.sendall(SUBSCRIBED)
            if n < len(BAD):
                sock.sendall(BAD[n])
                if BAD[n]:
                    sock.close()
                    return
                self._command(reader)  # silence: read the command, never answer
                return
            while True:
                command = self._command(reader)
                body = b"+OK chaos\n" if command.startswith("api") else b""
                sock.sendall(b"Content-Type: api/response\nContent-Length: %d\n\n%s" % (len(body), body))
        except (ConnectionError, OSError):
            return
        finally:
            reader.close()

    def close(self) -> None:
        self.server.close()
        for sock in self._open:
            sock.close()


def test_bad_frames_drop_the_connection_and_the_link_comes_back() -> None:
    # The link is gevent code; it runs in a child process so this one stays gevent-free
    # (the browser tests need that).
    child = subprocess.run([sys.executable, __file__], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stdout + child.stderr
    assert "link survived" in child.stdout


def run_in_child() -> None:
    import gevent

    from callyard.channels.voice.errors import FreeSwitchUnreachable
    from callyard.channels.voice.links import NodeLink
    from callyard.config import FreeSwitchNodeConfig

    chaos = ChaosSwitch()
    connected = []
    link = NodeLink(
        FreeSwitchNodeConfig(port=chaos.port),
        on_event=lambda _link, _headers: None,
        on_connected=lambda lk: connected.append(lk.connects),
        command_timeout=0.5,
        reconnect_max=0.3,
    )
    link.start()
    try:
        results = []

        def probe() -> None:
            # Commands sent during the bad connections fail cleanly, never hang.
            while len(results) < 400:
                try:
                    results.append(link.api("status"))
                    if chaos.connections > len(BAD):
                        return
                except FreeSwitchUnreachable:
                    results.append(None)
                gevent.sleep(0.02)

        prober = gevent.spawn(probe)
        with gevent.Timeout(20):
            while not (chaos.connections > len(BAD) and link.connected):
                gevent.sleep(0.05)
            assert link.api("status") == "+OK chaos\n"
        prober.join(timeout=5)
        assert prober.successful()
        assert len(connected) >= len(BAD)
        assert not link._greenlet.dead  # noqa: SLF001 - the supervising loop never died
        print("link survived", len(connected), "connections")
    finally:
        link.stop()
        chaos.close()


if __name__ == "__main__":
    run_in_child()
