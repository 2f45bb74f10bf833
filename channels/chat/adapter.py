"""The chat adapter: serves ``/widget.js``, runs the ``/chat`` Socket.IO namespace for
visitors, and delivers agents' replies to them.

Visitors are anonymous; a signed visitor token (kept by the widget in localStorage) ties a
browser to its conversation, so a reload continues it. A visitor's message is acknowledged
only after the kernel has committed it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, jsonify, request, send_file, send_from_directory
from flask_socketio import ConnectionRefusedError, SocketIO, join_room

from callyard.config import ChatConfig
from callyard.errors import CallyardError, NotFound
from callyard.models import Attachment, Interaction, Message, OutboxItem
from callyard.services import Services
from callyard.services.views import message_dict

from .errors import OriginNotAllowed
from .inbound import VisitorTokens, parse_message

log = logging.getLogger(__name__)

# Seconds between two typing indicators from one visitor that are passed on.
TYPING_EVERY = 1.0

NAMESPACE = "/chat"
STATIC = Path(__file__).parent / "static"


def visitor_room(visitor: str) -> str:
    return f"visitor:{visitor}"


class ChatAdapter:
    name = "chat"

    def __init__(
        self, config: ChatConfig, services: Services, *, secret_key: str, widget_origins: list[str]
    ) -> None:
        self._config = config
        self._services = services
        self._tokens = VisitorTokens(secret_key)
        self._origins = widget_origins
        self._socketio: SocketIO | None = None
        # When each visitor last said they were typing: more than one a second is dropped, so a
        # misbehaving page cannot turn keystrokes into database queries.
        self._typing_at: dict[str, float] = {}

    # -- adapter contract ------------------------------------------------------------------

    def start(self) -> None:
        log.info(
            'chat channel ready: embed <script src="/widget.js"></script>; new chats go to %s',
            self._config.queue,
        )

    def stop(self) -> None:
        self._socketio = None

    def deliver(self, item: OutboxItem) -> None:
        """Push an agent's reply to the visitor's open widgets. A visitor who is not connected
        gets it from their history on the next connect, so a push to nobody is delivered."""
        if self._socketio is None:
            raise RuntimeError("chat channel is not mounted on a web server")
        message = Message.get_by_id(item.message_id)
        interaction = Interaction.get_by_id(message.interaction_id)
        self._socketio.emit(
            "message",
            _for_visitor(message_dict(message)),
            to=visitor_room(interaction.thread_key),
            namespace=NAMESPACE,
        )

    # -- web -------------------------------------------------------------------------------

    def mount(self, app: Flask, socketio: SocketIO) -> None:
        self._socketio = socketio
        blueprint = Blueprint("chat", __name__)

        @blueprint.get("/widget.js")
        def widget():  # noqa: ANN202
            response = send_from_directory(
                STATIC, "widget.js", mimetype="application/javascript", max_age=300
            )
            response.headers["Access-Control-Allow-Origin"] = "*"
            return response

        @blueprint.post("/chat/files/<int:attachment_id>")
        def file(attachment_id: int):  # noqa: ANN202
            return self._file(attachment_id)

        app.register_blueprint(blueprint)
        csrf = app.extensions.get("csrf")
        if csrf is not None:
            csrf.exempt(file)  # the visitor's token is the credential, not a session cookie
        socketio.on_event("connect", self._connect, namespace=NAMESPACE)
        # A visitor's message is the one event of every chat message: it goes to python-socketio
        # straight, without the Flask request context (URL matching, the session cookie) that
        # Flask-SocketIO makes for each event and that the widget, whose token is its
        # credential, never uses.
        socketio.server.on("message", self._raw_message, namespace=NAMESPACE)
        socketio.on_event("leave", self._leave, namespace=NAMESPACE)
        socketio.on_event("typing", self._typing, namespace=NAMESPACE)

    def _file(self, attachment_id: int) -> Response:
        """A file of the visitor's own conversation (an agent attached it to a reply).

        The widget POSTs its visitor token (a simple cross-origin request, so an embedding
        site needs no preflight) and gets the bytes; a token of another conversation, or none,
        gets a 404 as if the file did not exist.
        """
        origin = request.headers.get("Origin")
        if not self._origin_allowed():
            response = jsonify(
                {"ok": False, "error": OriginNotAllowed("this site may not embed the chat").to_dict()}
            )
            response.status_code = 403
            return response
        try:
            visitor = self._tokens.verify(request.form.get("token"))
            attachment = Attachment.get_or_none(Attachment.id == attachment_id)
            interaction = attachment.message.interaction if attachment is not None else None
            if (
                interaction is None
                or interaction.channel != self.name
                or interaction.thread_key != visitor
                or self._services.attachments is None
            ):
                raise NotFound("no such file in this chat", error_id="attachment-not-found")
            response = send_file(
                self._services.attachments.path(attachment.path),
                mimetype="application/octet-stream",
                as_attachment=True,
                download_name=attachment.filename,
                max_age=0,
            )
            response.headers["Content-Security-Policy"] = "sandbox"
        except CallyardError as exc:
            response = jsonify({"ok": False, "error": exc.to_dict()})
            response.status_code = exc.status
        if origin:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    def _origin_allowed(self) -> bool:
        origin = request.headers.get("Origin")
        if not origin or "*" in self._origins:
            return True
        if urlsplit(origin).netloc == request.host:
            return True
        return origin.rstrip("/") in {o.rstrip("/") for o in self._origins}

    def _connect(self, auth: Any = None) -> None:
        """A widget connects with its token, or without one to start a new conversation."""
        if not self._origin_allowed():
            exc = OriginNotAllowed("this site may not embed the chat")
            raise ConnectionRefusedError(exc.message, {"error_id": exc.error_id})
        token = auth.get("token") if isinstance(auth, dict) else None
        if token:
            try:
                visitor = self._tokens.verify(token)
            except CallyardError as exc:
                raise ConnectionRefusedError(exc.message, {"error_id": exc.error_id}) from None
        else:
            visitor, token = self._tokens.issue()
        request.environ["callyard.visitor"] = visitor
        join_room(visitor_room(visitor))
        with self._services.store.connection():
            history = [_for_visitor(m) for m in self._services.views.thread_history(self.name, visitor)]
        self._socketio.emit(
            "session", {"token": token, "history": history}, to=request.sid, namespace=NAMESPACE
        )

    def _raw_message(self, sid: str, data: Any = None) -> dict[str, Any]:
        environ = self._socketio.server.get_environ(sid, namespace=NAMESPACE) if self._socketio else None
        return self._message((environ or {}).get("callyard.visitor"), data)

    def _message(self, visitor: str | None, data: Any = None) -> dict[str, Any]:
        """Store a visitor's message; the ack is the widget's receipt that it is safe."""
        if not visitor:
            return {"ok": False, "error": {"error_id": "no-session", "message": "reconnect to the chat"}}
        try:
            parsed = parse_message(data, self._config.max_message_bytes)
            self._typing_at.pop(visitor, None)  # typing after this message is a new burst
            with self._services.store.connection():
                result = self._services.interactions.ingest(
                    channel=self.name,
                    identity=("chat_visitor", visitor),
                    body=parsed.text,
                    queue=self._config.queue,
                    thread_key=visitor,
                    external_id=f"{visitor}:{parsed.client_id}",
                    max_bytes=self._config.max_message_bytes,
                )
                # The row ingest stored (or found, for a resend): no second read to answer.
                message = result.message or Message.get_by_id(result.message_id)
                return {
                    "ok": True,
                    # A visitor's chat message never has files (none are taken above), so
                    # none are looked up: this answers every message.
                    "message": _for_visitor(message_dict(message, attachments=[])),
                    "duplicate": result.duplicate,
                }
        except CallyardError as exc:
            return {"ok": False, "error": exc.to_dict()}
        except Exception:
            log.exception("storing a chat message failed")
            return {
                "ok": False,
                "error": {"error_id": "internal-error", "message": "not saved; please retry"},
            }

    def _leave(self, _data: Any = None) -> dict[str, Any]:
        """The visitor ended the chat: work nobody has taken yet is abandoned."""
        visitor = request.environ.get("callyard.visitor")
        if not visitor:
            return {"ok": False, "error": {"error_id": "no-session", "message": "reconnect to the chat"}}
        try:
            with self._services.store.connection():
                abandoned = self._services.interactions.customer_left(self.name, visitor)
        except CallyardError as exc:
            return {"ok": False, "error": exc.to_dict()}
        return {"ok": True, "abandoned": abandoned is not None}

    def _typing(self, _data: Any = None) -> None:
        """The visitor is typing: the agent holding the chat sees it (nothing is stored)."""
        visitor = request.environ.get("callyard.visitor")
        if not visitor:
            return
        now = time.monotonic()
        if now - self._typing_at.get(visitor, 0.0) < TYPING_EVERY:
            return
        if len(self._typing_at) > 10_000:
            self._typing_at.clear()
        self._typing_at[visitor] = now
        try:
            with self._services.store.connection():
                self._services.workdesk.customer_typing(self.name, visitor)
        except Exception:
            log.exception("passing on a typing indicator failed")


def _for_visitor(message: dict[str, Any]) -> dict[str, Any]:
    """What a visitor may see of a message: no internal ids beyond the message's own."""
    return {
        "id": message["id"],
        "direction": message["direction"],
        "body": message["body"],
        "created_at": message["created_at"],
        "agent_name": message["agent_name"],
        # Files an agent attached: the widget fetches each with the visitor's token.
        "attachments": [
            {"id": a["id"], "filename": a["filename"], "size": a["size"]}
            for a in message.get("attachments") or []
        ],
    }


def from_config(config: Any, services: Services) -> ChatAdapter | None:
    """Entry point for the core process: the adapter, or None when chat is switched off."""
    chat: ChatConfig = config.channels.chat
    if not chat.enabled:
        return None
    return ChatAdapter(
        chat, services, secret_key=config.server.secret_key, widget_origins=config.server.widget_origins
    )
