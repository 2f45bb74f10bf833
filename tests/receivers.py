"""Real HTTP endpoints on port 0 for Callyard to call: webhook receivers and a CRM.

Each records what it was sent (headers, raw body) and answers as the test says: a status per
request in turn, or a delay first (an endpoint that hangs).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness import WAIT


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self, statuses: list[int] | None = None, delay: float = 0.0, answer: Any = None) -> None:
        self.statuses = list(statuses or [])  # answered in turn; 200 after the last
        self.delay = delay
        self.answer = answer
        self.received: list[Received] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._cond:
                    receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver._cond.notify_all()
                if receiver.delay:
                    time.sleep(receiver.delay)
                payload = json.dumps(
                    receiver.answer if receiver.answer is not None else {"ok": True}
                ).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the caller gave up waiting (a hanging endpoint's test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait_for(self, count: int, timeout: float = WAIT) -> list[Received]:
        """The first ``count`` requests, waiting for them to arrive."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} requests within {timeout}s, got {len(self.received)}"
                    )
                self._cond.wait(left)
            return list(self.received[:count])

    def events(self) -> list[str]:
        with self._cond:
            return [r.json()["event"] for r in self.received]


@contextmanager
def receiving(*args: Any, **kwargs: Any) -> Iterator[Receiver]:
    receiver = Receiver(*args, **kwargs)
    receiver._thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        receiver._thread.join(timeout=WAIT)
