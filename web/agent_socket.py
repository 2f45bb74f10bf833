"""The agents' Socket.IO namespace, ``/agent``: authenticated by the login session.

Every event is checked again: the session must still belong to an enabled agent, and the
service layer checks that the interaction is theirs. Each event answers with an ack,
``{"ok": true, ...}`` or ``{"ok": false, "error": {"error_id", "message"}}``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import request
from flask_socketio import ConnectionRefusedError, SocketIO, join_room

from callyard.errors import CallyardError, InvalidInput, Unauthorized
from callyard.models import Agent
from callyard.services import Services
from callyard.services.views import interaction_dict

from .auth import current_agent
from .push import NAMESPACE, room

log = logging.getLogger(__name__)

Ack = dict[str, Any]


def _same_origin() -> bool:
    """Browsers send Origin on websocket and XHR; it must be this site (no cross-site hijack)."""
    origin = request.headers.get("Origin")
    if not origin:
        return True  # not a browser: the session cookie alone decides
    return urlsplit(origin).netloc == request.host


# The largest id a database column can hold; a bigger number made SQLite fail with an overflow.
_MAX_ID = 2**63 - 1


def _interaction_id(data: Any) -> int:
    value = data.get("interaction_id") if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_ID:
        raise InvalidInput("interaction_id must be a positive integer", error_id="invalid-input")
    return value


def init(socketio: SocketIO, services: Services) -> None:
    def handler(fn: Callable[[Agent, Any], Ack]) -> Callable[..., Ack]:
        """Wrap an event: borrow a connection, check the agent, turn errors into an error ack."""

        @functools.wraps(fn)
        def wrapped(data: Any = None) -> Ack:
            try:
                with services.store.connection():
                    agent = current_agent()
                    if agent is None:
                        raise Unauthorized("your session has ended; log in again", error_id="not-logged-in")
                    return {"ok": True, **fn(agent, data)}
            except CallyardError as exc:
                return {"ok": False, "error": exc.to_dict()}
            except Exception:
                log.exception("agent socket event %s failed", fn.__name__)
                return {
                    "ok": False,
                    "error": {"error_id": "internal-error", "message": "something went wrong"},
                }

        return wrapped

    def on(event: str) -> Callable[[Callable[[Agent, Any], Ack]], Callable[..., Ack]]:
        def register(fn: Callable[[Agent, Any], Ack]) -> Callable[..., Ack]:
            wrapped = handler(fn)
            socketio.on_event(event, wrapped, namespace=NAMESPACE)
            return wrapped

        return register

    @socketio.on("connect", namespace=NAMESPACE)
    def connect(auth: Any = None) -> None:
        if not _same_origin():
            raise ConnectionRefusedError("connect from this site's pages", {"error_id": "bad-origin"})
        with services.store.connection():
            agent = current_agent()
            if agent is None:
                raise ConnectionRefusedError("log in as an agent first", {"error_id": "not-logged-in"})
            join_room(room(agent.id))
            socketio.emit("inbox", services.views.inbox(agent), to=request.sid, namespace=NAMESPACE)

    @on("inbox")
    def inbox(agent: Agent, _data: Any) -> Ack:
        """Everything the inbox shows; a reconnecting tab calls this to catch up."""
        return services.views.inbox(agent)

    @on("presence")
    def presence(agent: Agent, data: Any) -> Ack:
        if not isinstance(data, dict) or not isinstance(data.get("presence"), str):
            raise InvalidInput(
                "presence must be one of offline, available, break", error_id="invalid-presence"
            )
        reason = data.get("reason") if isinstance(data.get("reason"), str) else ""
        updated = services.agents.set_presence(agent.id, data["presence"], reason)
        return {"presence": updated.presence, "reason": updated.presence_reason}

    @on("open")
    def open_conversation(agent: Agent, data: Any) -> Ack:
        return services.views.conversation(agent, _interaction_id(data))

    @on("accept")
    def accept(agent: Agent, data: Any) -> Ack:
        interaction = services.interactions.accept(agent.id, _interaction_id(data))
        return {"interaction": interaction_dict(interaction)}

    @on("reject")
    def reject(agent: Agent, data: Any) -> Ack:
        services.interactions.reject(agent.id, _interaction_id(data))
        return {}

    @on("reply")
    def reply(agent: Agent, data: Any) -> Ack:
        interaction_id = _interaction_id(data)
        body = data.get("body")
        if not isinstance(body, str):
            raise InvalidInput("body must be text", error_id="invalid-message")
        message = services.interactions.reply(agent.id, interaction_id, body)
        return {"message_id": message.id}

    @on("close")
    def close(agent: Agent, data: Any) -> Ack:
        return {"interaction": interaction_dict(services.interactions.close(agent.id, _interaction_id(data)))}

    @on("finish")
    def finish(agent: Agent, data: Any) -> Ack:
        return {
            "interaction": interaction_dict(services.interactions.finish(agent.id, _interaction_id(data)))
        }
