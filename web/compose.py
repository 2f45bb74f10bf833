"""The composer's HTTP routes and socket events: attaching files to a reply, the email reply
draft, and showing files and inline images to those allowed to see them.

- ``POST /inbox/uploads`` (multipart: ``interaction_id``, ``file``; the session and the CSRF
  token in ``X-CSRFToken``): keep a file for the agent's next reply; ``DELETE
  /inbox/uploads/<id>`` removes it before sending.
- ``GET /attachments/<id>/inline``: an image of a conversation the agent may see, served as
  the image it is so an email's inline (``cid:``) image shows in the page.
- socket event ``draft``: the subject and quote an email reply will carry, the files waiting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, jsonify, request, send_file
from flask_login import login_required
from werkzeug.exceptions import RequestEntityTooLarge

from callyard.errors import CallyardError, InvalidInput, NotFound, Unauthorized
from callyard.models import Agent
from callyard.services import Services
from callyard.services.compose import FileTooLarge, upload_dict

from .auth import current_agent
from .socket_input import positive_id

Ack = dict[str, Any]
On = Callable[[str], Callable[[Callable[[Agent, Any], Ack]], Any]]

# Images a browser shows safely in an <img> (no SVG: it can carry script).
INLINE_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
# Room for the multipart framing and the interaction id around the file itself.
FORM_OVERHEAD = 64 * 1024


def init(app: Flask, services: Services) -> None:
    compose = services.compose
    store = services.attachments
    if compose is None or store is None:
        return

    def agent_or_401() -> Agent:
        agent = current_agent()
        if agent is None:
            raise Unauthorized("your session has ended; log in again", error_id="not-logged-in")
        return agent

    def error(exc: CallyardError):  # noqa: ANN202
        return jsonify({"ok": False, "error": exc.to_dict()}), exc.status

    @app.post("/inbox/uploads")
    @login_required
    def upload():  # noqa: ANN202
        limit = compose.max_bytes
        too_large = FileTooLarge(
            f"the file is too large: at most {limit} bytes (inbox.max_upload_bytes)", max_bytes=limit
        )
        # Refused before reading it when the browser says it is too large; the form parser
        # stops at the limit when it does not say.
        if request.content_length is not None and request.content_length > limit + FORM_OVERHEAD:
            return error(too_large)
        request.max_content_length = limit + FORM_OVERHEAD
        request.max_form_memory_size = FORM_OVERHEAD
        try:
            agent = agent_or_401()
            file = request.files.get("file")
            raw_id = request.form.get("interaction_id", "")
            if file is None:
                raise InvalidInput("send the file in a 'file' form field", error_id="no-file")
            if not raw_id.isdigit():
                raise InvalidInput("interaction_id must be a positive integer", error_id="invalid-input")
            data = file.read(limit + 1)
            saved = compose.upload(
                agent.id, int(raw_id), file.filename or "attachment", file.mimetype or "", data
            )
        except RequestEntityTooLarge:
            return error(too_large)
        except CallyardError as exc:
            return error(exc)
        return jsonify({"ok": True, "upload": upload_dict(saved)})

    @app.delete("/inbox/uploads/<int:upload_id>")
    @login_required
    def remove_upload(upload_id: int):  # noqa: ANN202
        try:
            compose.remove(agent_or_401().id, upload_id)
        except CallyardError as exc:
            return error(exc)
        return jsonify({"ok": True})

    @app.get("/attachments/<int:attachment_id>/inline")
    @login_required
    def inline_image(attachment_id: int):  # noqa: ANN202
        found = services.views.attachment_for(agent_or_401(), attachment_id)
        kind = (found.content_type or "").lower()
        if kind not in INLINE_IMAGE_TYPES:
            raise NotFound("only images are shown inline; download the file", error_id="not-an-image")
        response = send_file(store.path(found.path), mimetype=kind, max_age=0)
        response.headers["Content-Security-Policy"] = "sandbox"
        return response


def register(on: On, services: Services) -> None:
    """Socket events of the composer (called from agent_socket like inbox_socket)."""
    compose = services.compose
    if compose is None:
        return

    @on("draft")
    def draft(agent: Agent, data: Any) -> Ack:
        return compose.draft(agent.id, positive_id(data, "interaction_id"))
