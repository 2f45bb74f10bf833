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

import httpx

log = logging.getLogger(__name__)

API = "/internal/v1"


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
    def __init__(self, core_url: str, secret: str, *, worker: str, timeout: float = 60.0) -> None:
        self.worker = worker
        self._http = httpx.AsyncClient(
            base_url=core_url.rstrip("/") + API,
            headers={"Authorization": f"Bearer {secret}"},
            timeout=timeout,
            # Several SMTP sessions hand over messages at once.
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

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
                }
                for f in files
            ],
        }
        parts = [
            ("attachment", (f.filename or "attachment", f.data, "application/octet-stream")) for f in files
        ]
        return await self._call("POST", "/ingest", data={"message": json.dumps(described)}, files=parts)

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
        try:
            response = await self._http.get(path)
        except httpx.HTTPError as exc:
            raise CoreUnavailable(f"core unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code in (401, 408, 429):
            raise CoreUnavailable(f"core answered {response.status_code} for {path}")
        if response.status_code >= 400:
            try:
                error = response.json().get("error") or {}
            except ValueError:
                error = {"message": response.text[:200]}
            raise CoreRejected(response.status_code, error)
        return response.content

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CoreUnavailable(f"core unreachable: {type(exc).__name__}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 500 or response.status_code in (401, 408, 429):
            # 401 too: a core restarted with a new random secret is a passing condition.
            raise CoreUnavailable(f"core answered {response.status_code}: {_error_text(body, response)}")
        if response.status_code >= 400:
            error = body.get("error") if isinstance(body, dict) else None
            raise CoreRejected(response.status_code, error or {"message": response.text[:200]})
        return body


def _error_text(body: Any, response: httpx.Response) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message", ""))
    return response.text[:200]
