"""The core process: web server, router and outbox dispatcher, on gevent.

``serve()`` expects gevent's monkey-patching to be done already (``callyard run`` does it
first thing). Channels and the web layer are found at run time (entry points and
``callyard.web``), so the kernel's imports still point only at ``callyard.routing``.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import gevent
import gevent.event
from gevent import pywsgi

from . import events as ev
from .config import CHANNELS, Config
from .errors import Unavailable
from .gateway import core_url, enabled_gateways
from .gc_tuning import YOUNG_EVERY, LongLivedObjects
from .hook_dispatch import HOOK_CHANNELS, HookDispatcher
from .services import Services, build
from .supervisor import GatewaySupervisor
from .wal import WalCheckpointer

log = logging.getLogger(__name__)

# How often composer uploads that can no longer be sent are looked for (services/compose.py).
UPLOAD_PURGE_SECONDS = 300.0


class WSGIHandler(pywsgi.WSGIHandler):
    """gevent's handler, made to hang up after a websocket session, and to send without Nagle.

    simple-websocket works on a duplicate of the socket; when the session ends, the stock
    handler would go on reading the original as if a new HTTP request followed, log the
    client's closing frame as "Invalid HTTP method" and keep the client waiting for the close.

    gevent sends a response's headers and its body in two writes, on a socket it leaves with
    Nagle's algorithm on: the body then waited for the client to acknowledge the headers, and
    clients delay that acknowledgement (up to 40 ms on Linux). Every gateway ingest (email,
    Telegram) waited those 40 ms: one SMTP client got 26 messages a second. asyncio (the
    gateways, aiohttp) switches Nagle off on every TCP socket; so does this.
    """

    def __init__(self, sock: Any, address: Any, server: Any, rfile: Any = None) -> None:
        super().__init__(sock, address, server, rfile)
        with contextlib.suppress(OSError):  # not TCP (a Unix socket): nothing to switch off
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_one_response(self) -> None:
        super().handle_one_response()
        if self.environ.get("HTTP_UPGRADE", "").lower() == "websocket":
            self.close_connection = True


def load_adapters(config: Config, services: Services) -> list[Any]:
    adapters = []
    for entry in sorted(entry_points(group="callyard.channels"), key=lambda e: e.name):
        adapter = entry.load()(config, services)
        if adapter is not None:
            adapters.append(adapter)
    return adapters


def loop(
    name: str, work: Callable[[], None], wake: threading.Event, every: float, gather: float = 0.0
) -> None:
    """Run ``work`` when woken or every ``every`` seconds; a failure is logged, never fatal.

    Runs woken in a burst are ``gather`` seconds apart at least: a wake that comes sooner after
    the last run waits out the rest, and what wakes the loop meanwhile is done by the same run
    (the wake is cleared only after the wait, so nothing set is missed). A wake after a quiet
    moment runs at once: one call entering a queue is routed without waiting for company."""
    last_run = -float("inf")
    while True:
        if wake.wait(timeout=every) and gather:
            pause = gather - (time.monotonic() - last_run)
            if pause > 0:
                gevent.sleep(pause)
        wake.clear()
        last_run = time.monotonic()
        try:
            work()
        except Exception:
            log.exception("%s loop failed; retrying", name)
            gevent.sleep(every)


class Core:
    def __init__(self, config: Config, services: Services | None = None) -> None:
        self.config = config
        self.services = services or build(config)
        self.adapters: dict[str, Any] = {}
        self._greenlets: list[gevent.Greenlet] = []
        self._server: pywsgi.WSGIServer | None = None
        self._stopped = gevent.event.Event()
        self._wal: WalCheckpointer | None = None  # SQLite's checkpoints, in a thread (callyard.wal)
        self.gateways: GatewaySupervisor | None = None
        # Channels whose outbox items gateway processes claim, not the core's dispatcher.
        self._gateway_channels: set[str] = set()

    def start(self, say: Callable[[str], None] = log.info) -> str:
        """Prepare the store, start everything, and return the URL it serves on."""
        services = self.services
        services.store.check()
        services.store.upgrade(progress=say)
        with services.store.connection():
            services.queues.sync(self.config.queues)
            services.router.report_unservable()
        if services.store.dialect == "sqlite" and services.store.db.database != ":memory:":
            self._wal = WalCheckpointer(services.store.db)
            self._wal.take_over()
        adapters = load_adapters(self.config, services)
        self.adapters = {a.name: a for a in adapters}
        gateways = enabled_gateways(self.config)
        # Items of a channel without an adapter here wait for its gateway (wherever it runs).
        self._gateway_channels = set(CHANNELS) - set(self.adapters)
        if not self.config.gateway.secret:
            # Only the gateways started here need it; a remote one needs a configured secret.
            self.config.gateway.secret = secrets.token_urlsafe(32)
        web = importlib.import_module("callyard.web")
        app, _socketio = web.create_app(self.config, services, adapters)
        self._server = self._listen(app)
        for adapter in adapters:
            adapter.start()

        wake_router, wake_outbox = threading.Event(), threading.Event()
        services.bus.subscribe(
            lambda _e: wake_router.set(),
            ev.InteractionQueued,
            ev.AgentPresenceChanged,
            ev.InteractionClosed,
        )
        services.bus.subscribe(lambda _e: wake_outbox.set(), ev.OutboxItemAdded)
        self._greenlets = [
            gevent.spawn(
                loop,
                "router",
                self._route,
                wake_router,
                self.config.routing.tick_seconds,
                self.config.routing.gather_seconds,
            ),
            # Time's chores (offers that timed out, wrap-ups that are over): only time wakes them.
            gevent.spawn(loop, "chores", self._chores, threading.Event(), self.config.routing.tick_seconds),
            gevent.spawn(loop, "outbox", self._dispatch, wake_outbox, 1.0),
        ]
        if self._wal is not None:
            self._greenlets.append(gevent.spawn(self._wal.run))
        self._start_hooks()
        self._start_upload_purge()
        self._keep_long_lived_objects_frozen()
        self._server.start()
        host, port = self._server.address[:2]
        if gateways:
            self._start_gateways(list(gateways), port)
        return f"http://{host}:{port}"

    def _start_gateways(self, names: list[str], port: int) -> None:
        self.config.server.port = port  # the port really bound (``--port 0`` picks one)
        env = {
            "CALLYARD_GATEWAY__SECRET": self.config.gateway.secret,
            "CALLYARD_GATEWAY__CORE_URL": core_url(self.config),
        }
        self.gateways = GatewaySupervisor(names, config_path=self.config.source, env=env)
        self.gateways.start()

    def _listen(self, app: Any) -> pywsgi.WSGIServer:
        """Bind the port first, so a taken port is reported before anything starts."""
        host, port = self.config.server.host, self.config.server.port
        server = pywsgi.WSGIServer(
            (host, port),
            app,
            log=pywsgi.LoggingLogAdapter(logging.getLogger("callyard.access"), logging.DEBUG),
            error_log=logging.getLogger("callyard.web"),
            handler_class=WSGIHandler,
        )
        try:
            server.init_socket()
        except OSError as exc:
            raise Unavailable(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); is Callyard already running? "
                "Stop it, or pick another port with --port or CALLYARD_SERVER__PORT",
                error_id="port-unavailable",
            ) from None
        return server

    def _route(self) -> None:
        with self.services.store.connection():
            self.services.router.route(chores=False)

    def _chores(self) -> None:
        # Their own greenlet, yielding after each step: a round woken meanwhile (a call
        # entered a queue) does not wait for them all.
        with self.services.store.connection():
            self.services.router.chores(between=lambda: gevent.sleep(0))

    def _dispatch(self) -> None:
        outbox = self.services.outbox
        with self.services.store.connection():
            for item in outbox.due(
                self.services.clock(), exclude=self._gateway_channels | set(HOOK_CHANNELS)
            ):
                adapter = self.adapters.get(item.channel)
                outbox.attempt(item, adapter.deliver if adapter else None)

    def _start_hooks(self) -> None:
        """Webhooks and CRM lookups: their own loop, so a slow endpoint never holds up replies."""
        self._hooks = HookDispatcher(self.services, self.config.webhooks)
        wake = self._hooks.wake
        self.services.bus.subscribe(
            lambda e: wake.set() if e.channel in HOOK_CHANNELS else None, ev.OutboxItemAdded
        )
        self._greenlets.append(gevent.spawn(loop, "hooks", self._hooks.dispatch, wake, 1.0))

    def _keep_long_lived_objects_frozen(self) -> None:
        """Full garbage collections walk only what is new (see callyard.gc_tuning)."""
        objects = LongLivedObjects()
        objects.start()
        self._greenlets.append(gevent.spawn(loop, "gc", objects.check, threading.Event(), 1.0))
        self._greenlets.append(
            gevent.spawn(loop, "gc-young", objects.collect_young, threading.Event(), YOUNG_EVERY)
        )

    def _start_upload_purge(self) -> None:
        """Composer uploads that can no longer be sent are removed now and then."""
        compose = self.services.compose
        if compose is None:
            return

        def purge() -> None:
            with self.services.store.connection():
                compose.purge()

        self._greenlets.append(gevent.spawn(loop, "uploads", purge, threading.Event(), UPLOAD_PURGE_SECONDS))

    def wait(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            gevent.signal_handler(sig, self.stop)
        self._stopped.wait()

    def stop(self) -> None:
        log.info("stopping")
        if self.gateways is not None:
            self.gateways.stop()
        if self._server is not None:
            self._server.stop(timeout=5)
        for adapter in self.adapters.values():
            adapter.stop()
        gevent.killall(self._greenlets, timeout=5)
        if getattr(self, "_hooks", None) is not None:
            self._hooks.stop()
        self.services.store.close()
        if self._wal is not None:
            self._wal.close()
        self._stopped.set()
