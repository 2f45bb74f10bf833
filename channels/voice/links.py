"""One inbound event-socket connection per FreeSWITCH node: commands go out, call events come
in, and a lost connection is reopened with backoff (0.2 s doubling up to a limit)."""

from __future__ import annotations

import contextlib
import json
import logging
import random
import uuid as uuidlib
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event

from callyard.config import FreeSwitchNodeConfig

from .errors import FreeSwitchUnreachable
from .esl import EslClient, NotConnectedError, connect_client

log = logging.getLogger(__name__)

# Only what the controller acts on: every event FreeSWITCH sends costs both sides its hundred-odd
# URL-encoded headers, and the bridges, unbridges and recording stops of every call (three more
# events a call) were read and dropped. CHANNEL_HANGUP comes as a leg starts to hang up, in the
# order the legs do (the one that hangs up first, then the one FreeSWITCH hangs up with it); the
# legs' CHANNEL_HANGUP_COMPLETE come when each is torn down, in no set order.
HANDLED = (
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_HOLD",
    "CHANNEL_UNHOLD",
    "DTMF",
    "sofia::register",
    "sofia::unregister",
)
EVENTS = "BACKGROUND_JOB CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_HOLD CHANNEL_UNHOLD DTMF CUSTOM sofia::register sofia::unregister"


class NodeLink:
    def __init__(
        self,
        node: FreeSwitchNodeConfig,
        *,
        on_event: Callable[[NodeLink, dict[str, str]], None],
        on_connected: Callable[[NodeLink], None],
        command_timeout: float,
        reconnect_max: float,
    ) -> None:
        self.node = node
        self.name = f"{node.host}:{node.port}"
        self._on_event = on_event
        self._on_connected = on_connected
        self._timeout = command_timeout
        self._reconnect_max = reconnect_max
        self._client: EslClient | None = None
        self._jobs: dict[str, gevent.event.AsyncResult] = {}
        self._greenlet: gevent.Greenlet | None = None
        self._stopped = False
        self.ready = gevent.event.Event()
        self.connects = 0
        # The node's Core-UUID (on every event it sends): which calls are on this node.
        self.core_uuid = ""

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        self._stopped = True
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # leaving anyway
                client.send("exit")
            client.close()
        if self._greenlet is not None:
            self._greenlet.kill(timeout=5)

    def _run(self) -> None:
        delay = 0.2
        while not self._stopped:
            try:
                client = connect_client(self.node.host, self.node.port, self.node.password, self._timeout)
                client.register_handle("BACKGROUND_JOB", self._job_done)
                for name in HANDLED:
                    client.register_handle(name, self._event)
                client.send(f"event plain {EVENTS}")
                self.core_uuid = ""  # a restarted node has a new one; its events say which
                self._client = client
                self.connects += 1
                log.info("connected to FreeSWITCH %s", self.name)
                self.ready.set()
                delay = 0.2
                gevent.spawn(self._guard, self._on_connected, self)
                while not self._stopped and client.alive:
                    gevent.sleep(0.1)
            except (OSError, NotConnectedError, ValueError, gevent.Timeout) as exc:
                log.warning(
                    "FreeSWITCH %s: %s; retrying in %.1f s", self.name, exc or type(exc).__name__, delay
                )
            except Exception:
                log.exception("FreeSWITCH %s: connection failed; retrying in %.1f s", self.name, delay)
            self.ready.clear()
            client, self._client = self._client, None
            if client is not None:
                client.close()
            self._fail_jobs()
            if self._stopped:
                break
            gevent.sleep(delay * (0.8 + 0.4 * random.random()))
            delay = min(delay * 2, self._reconnect_max)

    @staticmethod
    def _guard(fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("voice: %s failed", getattr(fn, "__name__", fn))

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.alive

    # -- commands --------------------------------------------------------------------------

    def _require(self) -> EslClient:
        client = self._client
        if client is None or not client.alive:
            raise FreeSwitchUnreachable(
                f"not connected to FreeSWITCH {self.name}; it reconnects by itself, try again shortly"
            )
        return client

    def api(self, command: str) -> str:
        try:
            return self._require().send(f"api {command}").data or ""
        except NotConnectedError as exc:
            raise FreeSwitchUnreachable(f"FreeSWITCH {self.name}: {exc}") from None

    def bgapi(self, command: str, timeout: float) -> str:
        """Run a long command (originate) in the background and wait for its result."""
        client = self._require()
        job = str(uuidlib.uuid4())
        result = gevent.event.AsyncResult()
        self._jobs[job] = result
        try:
            client.send(f"bgapi {command}\nJob-UUID: {job}")
            return result.get(timeout=timeout)
        except (NotConnectedError, gevent.Timeout) as exc:
            raise FreeSwitchUnreachable(f"FreeSWITCH {self.name}: {exc or 'no result in time'}") from None
        finally:
            self._jobs.pop(job, None)

    def sendmsg(self, uuid: str, app: str, arg: str = "") -> None:
        """Run a dialplan application on any channel of this node."""
        body = f"sendmsg {uuid}\ncall-command: execute\nexecute-app-name: {app}"
        if arg:
            body += f"\nexecute-app-arg: {arg}"
        try:
            self._require().send(body)
        except NotConnectedError as exc:
            raise FreeSwitchUnreachable(f"FreeSWITCH {self.name}: {exc}") from None

    def channels(self) -> dict[str, dict[str, str]]:
        """The node's channels now (``show channels as json``), by uuid."""
        text = self.api("show channels as json").strip()
        try:
            rows = json.loads(text).get("rows") or []
        except (ValueError, AttributeError):
            raise FreeSwitchUnreachable(f"FreeSWITCH {self.name}: unreadable channel list") from None
        return {row["uuid"]: row for row in rows if isinstance(row, dict) and "uuid" in row}

    # -- events ----------------------------------------------------------------------------

    def learn_core_uuid(self) -> str:
        """The node's Core-UUID, asked with a ``bgapi status`` (its BACKGROUND_JOB carries it)
        when no event has told it yet."""
        if not self.core_uuid:
            self.bgapi("status", timeout=self._timeout)
        return self.core_uuid

    def _job_done(self, event: Any) -> None:
        self.core_uuid = event.headers.get("Core-UUID") or self.core_uuid
        result = self._jobs.get(event.headers.get("Job-UUID", ""))
        if result is not None and not result.ready():
            result.set(_body(event))

    def _event(self, event: Any) -> None:
        self.core_uuid = event.headers.get("Core-UUID") or self.core_uuid
        self._on_event(self, event.headers)

    def _fail_jobs(self) -> None:
        for result in list(self._jobs.values()):
            if not result.ready():
                result.set_exception(NotConnectedError("connection to FreeSWITCH lost"))


def _body(event: Any) -> str:
    # greenswitch parses a plain event's body into the value of its last header
    # ("Content-Length: 41\n\n+OK <uuid>"): the body is what follows the blank line.
    value = event.headers.get("Content-Length", "")
    return value.split("\n\n", 1)[1] if "\n\n" in value else ""
