"""A real Callyard server in its own process, and real clients for it.

The server runs `callyard run --port 0` (gevent, monkey-patched) in a subprocess, as in
production; tests talk to it over real TCP with requests and python-socketio clients.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
import socketio

PASSWORD = "correct horse battery"
WAIT = 10.0

# Runs the `callyard` commands given as JSON, each as `python -m callyard ARGS` would (click's
# standalone main ends every command with SystemExit); stops at the first that fails.
_BATCH = """
import json, sys
from callyard.cli import cli
for args in json.loads(sys.argv[1]):
    print("$ callyard", *args, flush=True)
    try:
        cli.main(args, prog_name="callyard")
    except SystemExit as exc:
        if exc.code:
            raise
"""


class Server:
    def __init__(self, workdir: Path, db_url: str, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.config = workdir / "callyard.toml"
        self.env = {
            **os.environ,
            "CALLYARD_CONFIG": str(self.config),
            "DATABASE_URL": db_url,
            "CALLYARD_ROUTING__TICK_SECONDS": "0.2",
            "CALLYARD_OUTBOX__RETRY_BASE_SECONDS": "0.2",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.env.pop("CALLYARD_AGENT_PASSWORD", None)
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.output: list[str] = []

    def cli(
        self, *args: str, password: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self._python(["-m", "callyard", *args], " ".join(args), password, check)

    def cli_batch(
        self, commands: Sequence[Sequence[str]], *, password: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Several ``callyard`` commands one after the other, as ``cli`` runs each, but in one
        Python process: each still goes through the command line (click's standalone main, its
        own context, output and exit status), while Python's start and callyard's imports (~0.4 s
        of CPU a process) are paid once. Stops at the first command that fails."""
        if len(commands) == 1:
            return self.cli(*commands[0], password=password)
        what = "; ".join(" ".join(args) for args in commands)
        return self._python(
            ["-c", _BATCH, json.dumps([list(args) for args in commands])], what, password, True
        )

    def _python(
        self, args: list[str], what: str, password: str | None, check: bool
    ) -> subprocess.CompletedProcess[str]:
        env = dict(self.env)
        if password is not None:
            env["CALLYARD_AGENT_PASSWORD"] = password
        result = subprocess.run(
            [sys.executable, *args],
            env=env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"callyard {what} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def start(self) -> Server:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "callyard", "run", "--port", "0"],
            env=self.env,
            cwd=self.workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        found: queue.Queue[str] = queue.Queue()

        def read() -> None:
            assert self.proc and self.proc.stdout
            for line in self.proc.stdout:
                self.output.append(line)
                match = re.search(r"running at (http://\S+)", line)
                if match:
                    found.put(match.group(1))

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        try:
            self.url = found.get(timeout=30)
        except queue.Empty:
            self.stop()
            raise AssertionError("server did not start:\n" + "".join(self.output)) from None
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc and self.proc.stdout:
            self._reader.join(timeout=10)
            self.proc.stdout.close()

    def add_agent(self, login: str, *, skills: str = "support:5", extra: tuple[str, ...] = ()) -> str:
        self.cli(*agent_add(login, skills=skills, extra=extra), password=PASSWORD)
        return login


def agent_add(login: str, *, skills: str = "support:5", extra: tuple[str, ...] = ()) -> list[str]:
    """The ``callyard agent add`` command for an agent named after the login (password: PASSWORD)."""
    return ["agent", "add", login, "--name", login.title(), "--skill", skills, *extra]


def init_workdir(
    workdir: Path, db_url: str, *, env: dict[str, str] | None = None, then: Sequence[Sequence[str]] = ()
) -> Server:
    """``callyard init`` in ``workdir``, then the commands ``then`` (with PASSWORD for agents),
    all in one process."""
    server = Server(workdir, db_url, env)
    server.cli_batch([["init"], *then], password=PASSWORD if then else None)
    return server


@contextlib.contextmanager
def running(
    workdir: Path, db_url: str, *, env: dict[str, str] | None = None, agents: tuple[str, ...] = ("anna",)
) -> Iterator[Server]:
    """A started server on a fresh database, with ``env`` overrides and these agents; stopped after."""
    server = init_workdir(workdir, db_url, env=env, then=[agent_add(login) for login in agents])
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Events:
    """Collects Socket.IO events so a test can wait for the one it expects."""

    def __init__(self) -> None:
        self._items: list[tuple[str, Any]] = []
        self._cond = threading.Condition()

    def add(self, name: str, data: Any) -> None:
        with self._cond:
            self._items.append((name, data))
            self._cond.notify_all()

    def wait(self, name: str, predicate: Any = None, timeout: float = WAIT) -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, (n, data) in enumerate(self._items):
                    if n == name and (predicate is None or predicate(data)):
                        del self._items[i]
                        return data
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [n for n, _ in self._items]
                    raise AssertionError(f"no {name!r} event within {timeout}s; pending events: {seen}")
                self._cond.wait(left)

    def names(self) -> list[str]:
        with self._cond:
            return [n for n, _ in self._items]


def _client(namespace: str, events: Events, **options: Any) -> socketio.Client:
    sio = socketio.Client(reconnection=False, **options)
    names = (
        "inbox",
        "offer",
        "offer_withdrawn",
        "interaction",
        "message",
        "presence",
        "delivery_failed",
        "logged_out",
        "session",
        "catch_up",
        "call",
        "notice",
    )
    for name in names:
        sio.on(name, (lambda n: lambda data=None: events.add(n, data))(name), namespace=namespace)
    return sio


def _origin_options(origin: str | None) -> dict[str, Any]:
    # websocket-client adds its own Origin header; with ours as well the server would get two.
    return {"websocket_extra_options": {"suppress_origin": True}} if origin else {}


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def attempt_login(
    url: str, user: str, password: str = PASSWORD
) -> tuple[requests.Session, requests.Response]:
    """Fill in and post the login form as a browser would; the answer is not judged here."""
    http = requests.Session()
    page = http.get(f"{url}/login", timeout=WAIT)
    response = http.post(
        f"{url}/login",
        data={"csrf_token": csrf_token(page.text), "login": user, "password": password},
        timeout=WAIT,
        allow_redirects=False,
    )
    return http, response


def login(url: str, user: str, password: str = PASSWORD) -> requests.Session:
    http, response = attempt_login(url, user, password)
    assert response.status_code == 302, f"login failed: {response.status_code}"
    return http


class AgentClient:
    def __init__(self, url: str, user: str, password: str = PASSWORD) -> None:
        self.url = url
        self.http = login(url, user, password)
        self.events = Events()
        self.sio = _client("/agent", self.events)
        self._connect(None)
        self.inbox = self.events.wait("inbox")
        self.id = self.inbox["agent"]["id"]

    def _connect(self, auth: dict[str, Any] | None) -> None:
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)
        # The same User-Agent as the login: Flask-Login's strong session protection ties the
        # session to it, as a browser's page and its websocket share one.
        headers = {"Cookie": cookie, "User-Agent": self.http.headers["User-Agent"]}
        self.sio.connect(
            self.url,
            namespaces=["/agent"],
            headers=headers,
            auth=auth,
            transports=["websocket"],
            wait_timeout=WAIT,
        )

    def reconnect(self, since: int | None) -> None:
        """Connect again with the same session, as a browser tab whose websocket dropped; it
        tells the server the last event number it saw (``since``)."""
        self.sio = _client("/agent", self.events)
        self._connect(None if since is None else {"since": since})

    def call(self, event: str, data: Any = None) -> dict[str, Any]:
        return self.sio.call(event, data if data is not None else {}, namespace="/agent", timeout=WAIT)

    def ok(self, event: str, data: Any = None) -> dict[str, Any]:
        ack = self.call(event, data)
        assert ack["ok"], f"{event} failed: {ack}"
        return ack

    def available(self) -> None:
        self.ok("presence", {"presence": "available"})

    def close(self) -> None:
        self.sio.disconnect()


class Visitor:
    def __init__(
        self,
        url: str,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        origin: str | None = None,
    ) -> None:
        """``origin`` replaces the Origin header the websocket client sends by default (this
        site's own): a widget embedded in another site."""
        self.events = Events()
        self.sio = _client("/chat", self.events, **_origin_options(origin))
        headers = {**(headers or {}), **({"Origin": origin} if origin else {})}
        self.sio.connect(
            url,
            namespaces=["/chat"],
            auth={"token": token} if token else {},
            transports=["websocket"],
            headers=headers,
            wait_timeout=WAIT,
        )
        session = self.events.wait("session")
        self.token: str = session["token"]
        self.history: list[dict[str, Any]] = session["history"]

    def send(self, text: Any, client_id: str | None = None) -> dict[str, Any]:
        payload = {"text": text, "client_id": client_id or secrets.token_hex(8)}
        return self.sio.call("message", payload, namespace="/chat", timeout=WAIT)

    def close(self) -> None:
        self.sio.disconnect()


def refusal(
    url: str,
    namespace: str,
    *,
    auth: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    origin: str | None = None,
) -> dict[str, Any]:
    """Connect to ``namespace`` expecting a refusal; what the server said about it
    (``{"message": ..., "data": {"error_id": ...}}``). ``origin`` replaces the Origin header the
    websocket client sends by default (this site's own, as a browser on our pages would)."""
    said: list[Any] = []
    sio = socketio.Client(reconnection=False, **_origin_options(origin))
    sio.on("connect_error", lambda data=None: said.append(data), namespace=namespace)
    all_headers = {**(headers or {}), **({"Origin": origin} if origin else {})}
    try:
        sio.connect(
            url,
            namespaces=[namespace],
            auth=auth,
            headers=all_headers,
            transports=["websocket"],
            wait_timeout=WAIT,
        )
    except socketio.exceptions.ConnectionError:
        assert said, f"{namespace} refused the connection without saying why"
        return said[-1]
    sio.disconnect()
    raise AssertionError(
        f"{namespace} accepted a connection it should refuse ({auth=}, {headers=}, {origin=})"
    )


def refusals(url: str, namespace: str, attempts: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``refusal()`` for each named attempt (its keyword arguments), side by side: python-socketio's
    websocket client spends ~3 s closing a refused connection, so one after the other adds up."""
    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        futures = {name: pool.submit(refusal, url, namespace, **kw) for name, kw in attempts.items()}
        return {name: future.result(timeout=WAIT * 3) for name, future in futures.items()}
