"""A local server that speaks the Telegram Bot API's HTTP shape, for tests.

python-telegram-bot is pointed at it through ``base_url``/``base_file_url``; it answers
getMe, getUpdates (long polling, with Telegram's offset semantics: asking for offset N
confirms every update below N), sendMessage, sendDocument, sendPhoto, getFile, file downloads,
setWebhook and deleteWebhook. Tests queue updates as a person would send them, read what the
bot sent, and script failures (429 with retry_after, 403 blocked, 400 chat not found, garbage).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

TOKEN = "123456:TEST-token"
BOT = {"id": 123456, "is_bot": True, "first_name": "Callyard", "username": "CallyardTestBot"}


@dataclass
class Sent:
    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)


class BotApi:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._updates: list[dict[str, Any]] = []
        self._next_update = 1
        self._next_message = 1000
        self.confirmed = 0  # every update_id below this was confirmed by an offset
        self.sent: list[Sent] = []
        self.calls: list[str] = []
        self.files: dict[str, bytes] = {}
        self.webhook: dict[str, Any] | None = None
        self._failures: dict[str, deque[tuple[int, Any]]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    def __enter__(self) -> BotApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._cond:
            self._cond.notify_all()

    # -- what a person does ----------------------------------------------------------------

    def person_sends(self, user_id: int, text: str | None = None, **message: Any) -> int:
        """Queue a private message from a person; returns its update_id."""
        person = {"id": user_id, "is_bot": False, "first_name": message.pop("first_name", "Ivan")}
        with self._cond:
            body: dict[str, Any] = {
                "message_id": self._next_message,
                "date": int(time.time()),
                "chat": {"id": user_id, "type": "private", "first_name": person["first_name"]},
                "from": person,
            }
            if text is not None:
                body["text"] = text
            body.update(message)
            self._next_message += 1
            return self._add({"message": body})

    def add_update(self, update: dict[str, Any]) -> int:
        with self._cond:
            return self._add(update)

    def add_file(self, file_id: str, content: bytes) -> None:
        self.files[file_id] = content

    def _add(self, update: dict[str, Any]) -> int:
        update = {"update_id": self._next_update, **update}
        self._next_update += 1
        self._updates.append(update)
        self._cond.notify_all()
        return update["update_id"]

    def fail_next(self, method: str, status: int, body: Any) -> None:
        """The next call of ``method`` answers ``status`` with ``body`` (a dict is JSON)."""
        self._failures.setdefault(method, deque()).append((status, body))

    def sent_to(self, chat_id: int) -> list[Sent]:
        return [s for s in self.sent if str(s.params.get("chat_id")) == str(chat_id)]

    def wait_for(self, check: Any, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                value = check()
                if value:
                    return value
                self._cond.wait(0.05)
        raise AssertionError(f"timed out waiting for {check}")

    # -- the API ---------------------------------------------------------------------------

    def call(
        self, method: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]]
    ) -> tuple[int, Any]:
        with self._cond:
            self.calls.append(method)
            failures = self._failures.get(method)
            if failures:
                return failures.popleft()
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        return 200, {"ok": True, "result": handler(params, files)}

    def _api_getMe(self, params: dict[str, Any], files: Any) -> Any:
        return BOT

    def _api_getUpdates(self, params: dict[str, Any], files: Any) -> Any:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 5.0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + timeout
        with self._cond:
            if offset:
                self.confirmed = max(self.confirmed, offset)
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self._cond.notify_all()
            while not self._updates and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
            return self._updates[:limit]

    def _message(self, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
        with self._cond:
            # One numbering per chat for both sides, as in Telegram.
            number = self._next_message
            self._next_message += 1
        chat_id = int(params["chat_id"])
        return {
            "message_id": number,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": BOT,
            **extra,
        }

    def _record(self, method: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> None:
        with self._cond:
            self.sent.append(Sent(method, params, files))
            self._cond.notify_all()

    def _api_sendMessage(self, params: dict[str, Any], files: Any) -> Any:
        self._record("sendMessage", params, {})
        return self._message(params, text=params["text"])

    def _api_sendDocument(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        self._record("sendDocument", params, files)
        name, content = files.get("document", ("", b""))
        return self._message(
            params,
            document={
                "file_id": f"sent-{len(self.sent)}",
                "file_unique_id": "u",
                "file_name": name,
                "file_size": len(content),
            },
        )

    def _api_getFile(self, params: dict[str, Any], files: Any) -> Any:
        file_id = params["file_id"]
        if file_id not in self.files:
            raise KeyError(file_id)
        return {
            "file_id": file_id,
            "file_unique_id": file_id[-8:],
            "file_size": len(self.files[file_id]),
            "file_path": f"files/{file_id}",
        }

    def _api_setWebhook(self, params: dict[str, Any], files: Any) -> Any:
        self.webhook = dict(params)
        return True

    def _api_deleteWebhook(self, params: dict[str, Any], files: Any) -> Any:
        self.webhook = None
        return True

    # -- HTTP ------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._dispatch()

            def do_POST(self) -> None:
                self._dispatch()

            def _dispatch(self) -> None:
                path = urlsplit(self.path)
                path = path._replace(path=unquote(path.path))
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                file_prefix = f"/file/bot{TOKEN}/files/"
                if path.path.startswith(file_prefix):
                    content = api.files.get(path.path[len(file_prefix) :])
                    self._send(
                        200 if content is not None else 404, content or b"", "application/octet-stream"
                    )
                    return
                prefix = f"/bot{TOKEN}/"
                if not path.path.startswith(prefix):
                    self._json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                    return
                params, files = _parse(self.headers.get("Content-Type", ""), raw)
                params.update(parse_qsl(path.query))
                try:
                    status, body = api.call(path.path[len(prefix) :], params, files)
                except KeyError as missing:
                    status, body = (
                        400,
                        {"ok": False, "error_code": 400, "description": f"Bad Request: {missing} not found"},
                    )
                if isinstance(body, bytes):
                    self._send(status, body, "text/html")
                else:
                    self._json(status, body)

            def _json(self, status: int, body: Any) -> None:
                self._send(status, json.dumps(body).encode(), "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


def _parse(content_type: str, raw: bytes) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    params: dict[str, Any] = {}
    files: dict[str, tuple[str, bytes]] = {}
    if content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
        )
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            filename = part.get_filename()
            payload = part.get_payload(decode=True) or b""
            if filename is not None:
                files[name] = (filename, payload)
            else:
                params[name] = _value(payload.decode())
    elif content_type.startswith("application/json"):
        params = json.loads(raw or b"{}")
    else:
        params = {k: _value(v) for k, v in parse_qsl(raw.decode())}
    return params, files


def _value(text: str) -> Any:
    # python-telegram-bot JSON-encodes every non-string parameter.
    try:
        return json.loads(text)
    except ValueError:
        return text
