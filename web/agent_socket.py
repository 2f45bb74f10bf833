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

from . import call_push, compose, inbox_socket
from .auth import current_agent
from .push import NAMESPACE, room
from .socket_input import positive_id, reply_extras, since_of

log = logging.getLogger(__name__)

Ack = dict[str, Any]


def _same_origin() -> bool:
    """Browsers send Origin on websocket and XHR; it must be this site (no cross-site hijack)."""
    origin = request.headers.get("Origin")
    if not origin:
        return True  # not a browser: the session cookie alone decides
    return urlsplit(origin).netloc == request.host


def _interaction_id(data: Any) -> int:
    return positive_id(data, "interaction_id")


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
            # A tab coming back says how far it got; it gets what it missed, or (too far behind,
            # or new) the whole inbox. Joining the room first means nothing falls in between:
            # a push racing with this is both sent live and in the catch-up, and the tab drops
            # the number it already has.
            since = since_of(auth)
            if since is not None:
                missed = services.journal.since(agent.id, since)
                if missed.complete:
                    socketio.emit(
                        "catch_up",
                        {"events": missed.events, "seq": missed.last_seq},
                        to=request.sid,
                        namespace=NAMESPACE,
                    )
                    return
            socketio.emit("inbox", services.inbox.snapshot(agent), to=request.sid, namespace=NAMESPACE)

    @on("inbox")
    def inbox(agent: Agent, _data: Any) -> Ack:
        """Everything the inbox shows, with the journal number it is current to."""
        return services.inbox.snapshot(agent)

    @on("catch_up")
    def catch_up(agent: Agent, data: Any) -> Ack:
        """The pushes after ``since``, in order; ``complete`` false means: reload the inbox."""
        since = since_of(data)
        if since is None:
            raise InvalidInput("since must be a number of 0 or more", error_id="invalid-input")
        missed = services.journal.since(agent.id, since)
        return {"events": missed.events, "complete": missed.complete, "seq": missed.last_seq}

    @on("presence")
    def presence(agent: Agent, data: Any) -> Ack:
        if not isinstance(data, dict) or not isinstance(data.get("presence"), str):
            raise InvalidInput(
                "presence must be one of offline, available, break", error_id="invalid-presence"
            )
        reason = data.get("reason") if isinstance(data.get("reason"), str) else ""
        reasons = services.config.inbox.all_break_reasons()
        if data["presence"] == "break" and reason not in reasons:
            raise InvalidInput(
                f"a break needs a reason: one of {', '.join(reasons)}", error_id="invalid-break-reason"
            )
        updated = services.agents.set_presence(agent.id, data["presence"], reason)
        return {"presence": updated.presence, "reason": updated.presence_reason}

    @on("open")
    def open_conversation(agent: Agent, data: Any) -> Ack:
        interaction_id = _interaction_id(data)
        conversation = services.inbox.conversation(agent, interaction_id)
        services.workdesk.mark_read(agent.id, interaction_id)
        conversation["interaction"]["unread"] = 0
        return conversation

    @on("accept")
    def accept(agent: Agent, data: Any) -> Ack:
        interaction = services.interactions.accept(agent.id, _interaction_id(data))
        return {"interaction": services.inbox.work_item(interaction, agent.id)}

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
        message = services.interactions.reply(agent.id, interaction_id, body, **reply_extras(data))
        return {"message_id": message.id}

    @on("close")
    def close(agent: Agent, data: Any) -> Ack:
        interaction = services.interactions.close(agent.id, _interaction_id(data))
        return {"interaction": services.inbox.work_item(interaction, agent.id)}

    @on("finish")
    def finish(agent: Agent, data: Any) -> Ack:
        interaction = services.interactions.finish(agent.id, _interaction_id(data))
        return {"interaction": services.inbox.work_item(interaction, agent.id)}

    inbox_socket.register(on, services)
    compose.register(on, services)
    call_push.register(on, services)
