"""The gateway side of the internal API: a small asyncio client of the core.

Used by gateway processes (SMTP, Telegram). A refusal the core means (bad input, a 4xx) is a
``CoreRejected``; anything that might succeed later (the core down, restarting, a 5xx, a
timeout) is a ``CoreUnavailable``, so the gateway can tell its customer to retry.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

API = "/internal/v1"
# A message and its files in one body (see web/internal_api.py).
MESSAGE_TYPE = "application/x-callyard-message"


class CoreUnavailable(Exception):
    """The core did not commit; the same request may succeed later."""


class CoreRejected(Exception):
    """The core refused the request for good (bad input); retrying will not help."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(f"{status} {error.get('error_id', '')}: {error.get('message', '')}")
        self.status = status
        self.error = error


@dataclass(frozen=True)
class FilePart:
    filename: str
    content_type: str
    data: bytes
    content_id: str = ""
    inline: bool = False


class CoreClient:
    """aiohttp, not httpx: a call costs a tenth of the CPU (its HTTP parser is C), and the
    email gateway makes one per message it accepts."""

    def __init__(self, core_url: str, secret: str, *, worker: str, timeout: float = 60.0) -> None:
        self.worker = worker
        self._base = core_url.rstrip("/") + API
        self._headers = {"Authorization": f"Bearer {secret}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None  # made in the loop that uses it

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=self._timeout,
                # Several SMTP sessions hand over messages at once; connections are kept.
                connector=aiohttp.TCPConnector(limit=32),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def ping(self) -> None:
        await self._call("GET", "/ping")

    async def ingest(self, message: dict[str, Any], files: Sequence[FilePart] = ()) -> dict[str, Any]:
        """Hand over a customer's message; returns once the core has committed it."""
        if not files:
            return await self._call("POST", "/ingest", json=message)
        described = {
            **message,
            "attachments": [
                {
                    "filename": f.filename,
                    "content_type": f.content_type,
                    "content_id": f.content_id,
                    "inline": f.inline,
                    "size": len(f.data),
                }
                for f in files
            ],
        }
        # Not multipart/form-data: the core's parser of that scans every file in Python.
        head = json.dumps(described).encode()
        body = b"".join([b"%d\n" % len(head), head, *(f.data for f in files)])
        return await self._call("POST", "/ingest", data=body, headers={"Content-Type": MESSAGE_TYPE})

    async def claim(self, channel: str, limit: int = 10) -> list[dict[str, Any]]:
        answer = await self._call(
            "POST", "/outbox/claim", json={"channel": channel, "worker": self.worker, "limit": limit}
        )
        return answer["items"]

    async def delivered(self, channel: str, item_id: int, external_id: str | None = None) -> None:
        await self._call(
            "POST", f"/outbox/{item_id}/delivered", json={"channel": channel, "external_id": external_id}
        )

    async def failed(
        self, channel: str, item_id: int, error: str, *, permanent: bool = False
    ) -> dict[str, Any]:
        return await self._call(
            "POST",
            f"/outbox/{item_id}/failed",
            json={"channel": channel, "error": error, "permanent": permanent},
        )

    async def attachment(self, item_id: int, attachment_id: int) -> bytes:
        """The bytes of a file an outbox item's message carries (see the job's attachments)."""
        path = f"/outbox/{item_id}/attachments/{attachment_id}"
        status, content = await self._request("GET", path)
        if status >= 500 or status in (401, 408, 429):
            raise CoreUnavailable(f"core answered {status} for {path}")
        if status >= 400:
            try:
                error = json.loads(content).get("error") or {}
            except (ValueError, AttributeError):
                error = {"message": _text(content)}
            raise CoreRejected(status, error)
        return content

    async def _request(self, method: str, path: str, **kwargs: Any) -> tuple[int, bytes]:
        try:
            async with self._http().request(method, self._base + path, **kwargs) as response:
                return response.status, await response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise CoreUnavailable(f"core unreachable: {type(exc).__name__}: {exc}") from exc

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        status, content = await self._request(method, path, **kwargs)
        try:
            body = json.loads(content)
        except ValueError:
            body = {}
        if status >= 500 or status in (401, 408, 429):
            # 401 too: a core restarted with a new random secret is a passing condition.
            raise CoreUnavailable(f"core answered {status}: {_error_text(body, content)}")
        if status >= 400:
            error = body.get("error") if isinstance(body, dict) else None
            raise CoreRejected(status, error or {"message": _text(content)})
        return body


def _text(content: bytes) -> str:
    return content[:200].decode("utf-8", "replace")


def _error_text(body: Any, content: bytes) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message", ""))
    return _text(content)
