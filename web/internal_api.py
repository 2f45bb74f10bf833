"""The internal API: how gateway processes (SMTP, Telegram) hand work to the core and take
work from it. Channel-neutral; the protocol is described in the README ("Gateways").

- ``POST /internal/v1/ingest``: a customer's message, as JSON, or as multipart/form-data
  with the JSON in the ``message`` field and one ``attachment`` file part per entry of its
  ``attachments`` list, or as ``application/x-callyard-message`` (the JSON's length, a
  newline, the JSON, then the files' bytes; see ``_message_with_files``). Answered only after the commit: then the gateway acknowledges.
  ``attachments`` list. Answered only after the commit: then the gateway acknowledges.
- ``POST /internal/v1/ingest/batch``: several messages at once (see ``_batch_request``), stored
  in one transaction, each in a savepoint of its own; answered after the commit with one
  result per message, in order.
- ``POST /internal/v1/outbox/claim``: due outbox items of a channel, leased to the caller.
- ``POST /internal/v1/outbox/<id>/delivered`` / ``.../failed``: the outcome of one item.
- ``GET /internal/v1/outbox/<id>/attachments/<attachment id>``: a file the item's message
  carries (listed in the job's ``attachments``), as bytes.

Every call carries ``Authorization: Bearer <gateway.secret>``. The core process is the only
writer; gateways keep nothing of their own.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from flask import Blueprint, Flask, jsonify, request, send_file

from callyard.config import CHANNELS, Config
from callyard.errors import CallyardError, InvalidInput, NotFound, Unauthorized, Unavailable
from callyard.models import IDENTITY_KINDS, Attachment, Interaction, OutboxItem
from callyard.services import Services
from callyard.services.attachments import NewAttachment
from callyard.services.interactions import Ingested
from callyard.services.outbox import job_of

log = logging.getLogger(__name__)

PREFIX = "/internal/v1"
MAX_CLAIM = 100
MAX_BODY_BYTES = 1024 * 1024
# A message and its files in one body (see _message_with_files).
MESSAGE_TYPE = "application/x-callyard-message"
MAX_BATCH = 500
# Transactions a batch is stored in at once (PostgreSQL), see _ingest_groups.
GROUPS = 4
BATCH_TYPE = "application/x-callyard-batch"


def init(app: Flask, config: Config, services: Services) -> None:
    blueprint = Blueprint("internal", __name__, url_prefix=PREFIX)
    gateway = config.gateway

    @blueprint.before_request
    def authenticate() -> None:
        # A message with its attachments is larger than anything a browser sends.
        request.max_content_length = gateway.max_request_bytes
        request.max_form_memory_size = gateway.max_request_bytes
        request.max_form_parts = 5000
        if not gateway.secret:
            raise Unavailable(
                "the internal API is off: set gateway.secret (CALLYARD_GATEWAY__SECRET)",
                error_id="internal-api-off",
            )
        given = request.headers.get("Authorization", "")
        expected = f"Bearer {gateway.secret}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Unauthorized("a gateway must send Authorization: Bearer <gateway.secret>")

    @blueprint.errorhandler(CallyardError)
    def domain_error(exc: CallyardError):  # noqa: ANN202
        return jsonify({"ok": False, "error": exc.to_dict()}), exc.status

    @blueprint.get("/ping")
    def ping():  # noqa: ANN202
        return jsonify({"ok": True})

    @blueprint.post("/ingest")
    def ingest():  # noqa: ANN202
        data, files = _ingest_request()
        also = _also_known_as(data)
        result = services.interactions.ingest(**_ingest_args(data, _attachments(data, files)))
        if also:
            _link_identities(services, result.interaction_id, also)
        return jsonify(_ingested(result))

    @blueprint.post("/ingest/batch")
    def ingest_batch():  # noqa: ANN202
        """Several messages, stored in one transaction (group commit); each gets its own answer,
        in order, after the commit. One refused does not refuse the others."""
        answers: list[dict[str, Any] | None] = []
        accepted: list[dict[str, Any]] = []
        for data, files in _batch_request():
            try:
                if data.get("also_known_as"):
                    raise InvalidInput("also_known_as: send such a message alone, to /ingest")
                accepted.append(_ingest_args(data, _attachments(data, files)))
                answers.append(None)
            except CallyardError as exc:
                answers.append(_refusal(exc))
        results = iter(_ingest_groups(services, accepted))
        out = [a if a is not None else _answer(next(results)) for a in answers]
        return jsonify({"ok": True, "results": out})

    @blueprint.post("/outbox/claim")
    def claim():  # noqa: ANN202
        data = _json()
        limit = data.get("limit", 10)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_CLAIM:
            raise InvalidInput(f"limit must be 1-{MAX_CLAIM}")
        items = services.outbox.claim(
            _channel(data), _str(data, "worker")[:255], limit=limit, lease_seconds=gateway.lease_seconds
        )
        return jsonify(
            {"ok": True, "lease_seconds": gateway.lease_seconds, "items": [job_of(i) for i in items]}
        )

    @blueprint.post("/outbox/<int:item_id>/delivered")
    def delivered(item_id: int):  # noqa: ANN202
        data = _json()
        external_id = data.get("external_id")
        if external_id is not None and not isinstance(external_id, str):
            raise InvalidInput("external_id must be a string")
        item = services.outbox.delivered(item_id, _channel(data), external_id)
        return jsonify({"ok": True, "state": item.state})

    @blueprint.post("/outbox/<int:item_id>/failed")
    def failed(item_id: int):  # noqa: ANN202
        data = _json()
        item = services.outbox.failed(
            item_id,
            _channel(data),
            str(data.get("error") or "")[:2000],
            permanent=bool(data.get("permanent")),
        )
        return jsonify({"ok": True, "state": item.state, "attempts": item.attempts})

    @blueprint.get("/outbox/<int:item_id>/attachments/<int:attachment_id>")
    def outbox_attachment(item_id: int, attachment_id: int):  # noqa: ANN202
        """A file an outbox item's message carries (a reply with attachments), as bytes."""
        if services.attachments is None:
            raise NotFound("this server keeps no attachments", error_id="attachment-not-found")
        item = OutboxItem.get_or_none(OutboxItem.id == item_id)
        found = Attachment.get_or_none(Attachment.id == attachment_id)
        if item is None or found is None or not item.message_id or found.message_id != item.message_id:
            raise NotFound(
                f"outbox item {item_id} carries no attachment {attachment_id}",
                error_id="attachment-not-found",
            )
        return send_file(
            services.attachments.path(found.path),
            mimetype="application/octet-stream",
            as_attachment=True,
            download_name=found.filename,
            max_age=0,
        )

    app.register_blueprint(blueprint)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(blueprint)  # not a browser: the secret is the credential


def _json() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("send a JSON object (Content-Type: application/json)")
    return data


def _ingest_args(data: dict[str, Any], attachments: list[NewAttachment]) -> dict[str, Any]:
    """``InteractionService.ingest``'s arguments from an ingest request, checked."""
    identity = _obj(data, "identity")
    kind, value = _str(identity, "kind"), _str(identity, "value")
    if kind not in IDENTITY_KINDS or not 0 < len(value) <= 255:
        raise InvalidInput(f"identity must be one of {', '.join(IDENTITY_KINDS)} with a value")
    hint = data.get("thread_hint")
    if hint is not None and (not isinstance(hint, int) or isinstance(hint, bool)):
        raise InvalidInput("thread_hint must be an interaction number")
    refs = data.get("thread_refs") or []
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        raise InvalidInput("thread_refs must be a list of strings")
    meta = data.get("meta") or {}
    if not isinstance(meta, dict):
        raise InvalidInput("meta must be an object")
    acknowledge = data.get("acknowledge")
    if acknowledge is not None and not isinstance(acknowledge, str):
        raise InvalidInput("acknowledge must be a string")
    return {
        "channel": _channel(data),
        "identity": (kind, value),
        "body": _str(data, "body"),
        "queue": _str(data, "queue"),
        "thread_key": _str(data, "thread_key"),
        "external_id": data.get("external_id") or None,
        "max_bytes": MAX_BODY_BYTES,
        "contact_name": str(data.get("contact_name") or "")[:255],
        "subject": str(data.get("subject") or ""),
        "meta": meta,
        "attachments": attachments,
        "routable": bool(data.get("routable", True)),
        "acknowledge": acknowledge,
        "thread_refs": refs,
        "thread_hint": hint,
    }


def _ingest_groups(services: Services, messages: list[dict[str, Any]]) -> list[Ingested | Exception]:
    """``ingest_many`` in up to ``GROUPS`` transactions at once, each on its own connection: a
    transaction stores its messages one after the other, each statement waiting on the
    database, so one alone left the core waiting. SQLite writes one transaction at a time
    anyway: there, one."""
    groups = 1 if services.store.dialect == "sqlite" else min(GROUPS, len(messages))
    if groups <= 1:
        return services.interactions.ingest_many(messages)
    import gevent  # only the core (a gevent process) serves this; see web.push_queue

    def store(part: list[dict[str, Any]]) -> list[Ingested | Exception]:
        with services.store.connection():
            return services.interactions.ingest_many(part)

    # Message i goes to group i % groups; its result comes back from there.
    running = [gevent.spawn(store, messages[g::groups]) for g in range(groups)]
    gevent.joinall(running)
    for g in running:  # the others were waited for: none still writes when the answer goes
        if g.exception is not None:
            raise g.exception
    parts = [iter(g.value) for g in running]
    return [next(parts[i % groups]) for i in range(len(messages))]


def _ingested(result: Ingested) -> dict[str, Any]:
    return {
        "ok": True,
        "interaction_id": result.interaction_id,
        "message_id": result.message_id,
        "duplicate": result.duplicate,
        "new_interaction": result.new_interaction,
    }


def _refusal(exc: CallyardError) -> dict[str, Any]:
    return {"ok": False, "status": exc.status, "error": exc.to_dict()}


def _answer(result: Ingested | Exception) -> dict[str, Any]:
    if isinstance(result, Ingested):
        return _ingested(result)
    if isinstance(result, CallyardError):
        return _refusal(result)
    # Logged where it happened; the gateway tells its customer to try again.
    return {"ok": False, "status": 500, "error": {"error_id": "internal", "message": "not stored"}}


def _batch_request() -> list[tuple[dict[str, Any], list[Any]]]:
    """A batch: ``BATCH_TYPE``, laid out as ``MESSAGE_TYPE`` (see ``_length_prefixed``) with the
    JSON ``{"messages": [...]}``, each message as ``/ingest`` takes it, and every message's
    files one after the other, in the order described."""
    if request.mimetype != BATCH_TYPE:
        raise InvalidInput(f"send a batch as {BATCH_TYPE}")
    data, blob = _length_prefixed()
    messages = data.get("messages")
    if not isinstance(messages, list) or not 0 < len(messages) <= MAX_BATCH:
        raise InvalidInput(f"a batch holds 1-{MAX_BATCH} messages")
    at, out = 0, []
    for message in messages:
        if not isinstance(message, dict):
            raise InvalidInput("each message of a batch must be an object")
        files, at = _files(message, blob, at)
        out.append((message, files))
    if at != len(blob):
        raise InvalidInput("the attachments' sizes do not add up to the body")
    return out


def _ingest_request() -> tuple[dict[str, Any], list[Any]]:
    if request.is_json:
        return _json(), []
    if request.mimetype == MESSAGE_TYPE:
        return _message_with_files()
    raw = request.form.get("message")
    if raw is None:
        raise InvalidInput("send JSON, or multipart/form-data with the JSON in a 'message' field")
    try:
        data = json.loads(raw)
    except ValueError:
        raise InvalidInput("the 'message' field is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("the 'message' field must be a JSON object")
    return data, request.files.getlist("attachment")


def _message_with_files() -> tuple[dict[str, Any], list[Any]]:
    """``MESSAGE_TYPE``: one message and its files (see ``_length_prefixed``). What a gateway
    sends: multipart/form-data's parser scanned each file for its boundary in Python, a tenth
    of the core's CPU per email."""
    data, blob = _length_prefixed()
    files, at = _files(data, blob, 0)
    if at != len(blob):
        raise InvalidInput("the attachments' sizes do not add up to the body")
    return data, files


def _length_prefixed() -> tuple[dict[str, Any], memoryview]:
    """The body's JSON object and the bytes after it: the JSON's length in ASCII digits and a
    newline, the JSON (each message's ``attachments`` with their ``size``), then the files."""
    body = request.get_data(cache=False)
    head, newline, rest = body.partition(b"\n")
    if not newline or not head.isdigit() or int(head) > len(rest):
        raise InvalidInput("the body starts with its JSON's length and a newline")
    try:
        data = json.loads(rest[: int(head)])
    except ValueError:
        raise InvalidInput("the body's JSON is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("the body's JSON must be an object")
    return data, memoryview(rest)[int(head) :]


def _files(message: dict[str, Any], blob: memoryview, at: int) -> tuple[list[Any], int]:
    """The files ``message`` describes, read from ``blob`` from ``at`` on; and where they end."""
    described = message.get("attachments") or []
    if not isinstance(described, list):
        raise InvalidInput("'attachments' must be a list")
    files = []
    for about in described:
        size = about.get("size") if isinstance(about, dict) else None
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= len(blob) - at:
            raise InvalidInput("each attachment needs its size, within the body")
        files.append(_Part(str(about.get("filename") or ""), bytes(blob[at : at + size])))
        at += size
    return files, at


class _Part:
    """A file of a length-prefixed body, read like an uploaded one."""

    def __init__(self, filename: str, data: bytes) -> None:
        self.filename = filename
        self._data = data

    def read(self) -> bytes:
        return self._data


def _attachments(data: dict[str, Any], files: list[Any]) -> list[NewAttachment]:
    described = data.get("attachments") or []
    if not isinstance(described, list) or len(described) != len(files):
        raise InvalidInput("'attachments' must describe each attachment file part, in order")
    out = []
    for about, file in zip(described, files, strict=True):
        if not isinstance(about, dict):
            raise InvalidInput("each entry of 'attachments' must be an object")
        out.append(
            NewAttachment(
                filename=str(about.get("filename") or file.filename or "attachment"),
                content_type=str(about.get("content_type") or "application/octet-stream"),
                data=file.read(),
                content_id=str(about.get("content_id") or ""),
                inline=bool(about.get("inline")),
            )
        )
    return out


def _channel(data: dict[str, Any]) -> str:
    channel = data.get("channel")
    if channel not in CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}", error_id="invalid-channel")
    return channel


def _obj(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise InvalidInput(f"{key} must be an object")
    return value


def _str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{key} must be a non-empty string")
    return value


def _also_known_as(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Other identities the customer revealed (a phone shared in Telegram): kind and value."""
    raw = data.get("also_known_as") or []
    if not isinstance(raw, list) or len(raw) > 10:
        raise InvalidInput("also_known_as must be a list of at most 10 identities")
    found = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise InvalidInput("each entry of also_known_as must be an object with kind and value")
        kind, value = _str(entry, "kind"), _str(entry, "value")
        if kind not in IDENTITY_KINDS or not 0 < len(value) <= 255:
            raise InvalidInput(
                f"also_known_as: identity must be one of {', '.join(IDENTITY_KINDS)} with a value"
            )
        found.append((kind, value))
    return found


def _link_identities(services: Services, interaction_id: int, identities: list[tuple[str, str]]) -> None:
    contact_id = Interaction.get_by_id(interaction_id).contact_id
    with services.store.atomic():
        for kind, value in identities:
            services.contacts.add_identity(contact_id, kind, value)
