"""``create_app(config, services, adapters)``: the one place the web layer is wired."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from flask import Flask, jsonify, request
from flask_socketio import SocketIO
from flask_wtf.csrf import CSRFProtect

from callyard.config import Config
from callyard.errors import CallyardError, ConfigError
from callyard.services import Services

from . import agent_socket, api, auth, call_push, compose, internal_api, pages, push
from .push_queue import PushQueue

log = logging.getLogger(__name__)


def create_app(
    config: Config, services: Services, adapters: Iterable[Any] = (), *, message_queue: str | None = None
) -> tuple[Flask, SocketIO]:
    """Build the Flask app and its Socket.IO server.

    ``adapters`` are channel adapters; one that has ``mount(app, socketio)`` adds its own
    routes and namespaces (the chat widget does). The web layer never imports a channel.
    """
    if not config.server.secret_key:
        raise ConfigError(
            "server.secret_key is empty: run `callyard init` to write one, or set CALLYARD_SERVER__SECRET_KEY"
        )
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.server.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.server.secure_cookies,
        REMEMBER_COOKIE_SECURE=config.server.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        MAX_CONTENT_LENGTH=1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.extensions["callyard"] = services
    CSRFProtect(app)
    # Origins are checked per namespace in the connect handlers: the chat widget may be
    # embedded anywhere, the agent namespace only from our own pages.
    socketio = SocketIO(
        app,
        async_mode="gevent",
        cors_allowed_origins="*",
        message_queue=message_queue,
        max_http_buffer_size=256 * 1024,
        # Engine.IO's own defaults. A ping every 10 s cost ~13 % of a core for 4,000 sockets
        # (issue 8's push benchmark); every 25 s it is 2.5 times less. Nothing here depends on
        # noticing a dead tab sooner: presence is what the agent sets, not whether a socket is
        # open, and a tab that comes back asks for what it missed (the journal). A half-open
        # link is found by either end within 45 s (interval plus timeout).
        ping_interval=25,
        ping_timeout=20,
        logger=False,
        engineio_logger=False,
    )
    _connections(app, services)
    auth.init(app, services, socketio)
    pages.init(app, config, services)
    compose.init(app, services)
    agent_socket.init(socketio, services)
    pushes = PushQueue()  # one queue: pushes keep their order whichever module makes them
    push.init(socketio, services, pushes)
    call_push.init(socketio, services, pushes)
    internal_api.init(app, config, services)
    for adapter in adapters:
        mount = getattr(adapter, "mount", None)
        if mount is not None:
            mount(app, socketio)

    api.init(app, services, config, adapters)

    @app.errorhandler(CallyardError)
    def domain_error(exc: CallyardError):  # noqa: ANN202
        return jsonify({"error": exc.to_dict()}), exc.status

    @app.get("/healthz")
    def healthz():  # noqa: ANN202
        return jsonify({"status": "ok", "schema_version": services.store.version()})

    return app, socketio


def _connections(app: Flask, services: Services) -> None:
    """One pooled database connection per request, always handed back."""

    @app.before_request
    def open_db() -> None:
        services.store.db.connect(reuse_if_open=True)  # closed in close_db

    @app.teardown_request
    def close_db(_exc: BaseException | None) -> None:
        if not services.store.db.is_closed():
            services.store.db.close()

    @app.after_request
    def security_headers(response):  # noqa: ANN001, ANN202
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if request.endpoint not in ("chat.widget", "chat.demo", "static"):
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response
