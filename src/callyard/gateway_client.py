"""The gateway side of the internal API: a small asyncio client of the core.

Used by gateway processes (SMTP, Telegram). A refusal the core means (bad input, a 4xx) is a
``CoreRejected``; anything that might succeed later (the core down, restarting, a 5xx, a
timeout) is a ``CoreUnavailable``, so the gateway can tell its customer to retry.
"""

from __future__ import annotations

import asyncio
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
BATCH_TYPE = "application/x-callyard-batch"


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
        # Not multipart/form-data: the core's parser of that scans every file in Python.
        head = json.dumps(_described(message, files)).encode()
        body = b"".join([b"%d\n" % len(head), head, *(f.data for f in files)])
        return await self._call("POST", "/ingest", data=body, headers={"Content-Type": MESSAGE_TYPE})

    async def ingest_many(
        self, messages: Sequence[tuple[dict[str, Any], Sequence[FilePart]]]
    ) -> list[dict[str, Any]]:
        """Hand over several messages, stored in one transaction; returns once the core has
        committed, one answer per message, in order: ``ok`` and what ``ingest`` returns, or
        ``ok: false`` with the ``status`` and ``error`` of its refusal."""
        described = [_described(message, files) for message, files in messages]
        head = json.dumps({"messages": described}).encode()
        body = b"".join([b"%d\n" % len(head), head, *(f.data for _, files in messages for f in files)])
        answer = await self._call("POST", "/ingest/batch", data=body, headers={"Content-Type": BATCH_TYPE})
        results = answer.get("results")
        if not isinstance(results, list) or len(results) != len(messages):
            raise CoreUnavailable("the core's answer to a batch does not hold one result per message")
        return results

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


class IngestBatcher:
    """Group commit for a gateway: what its sessions hand over while a batch is at the core
    goes to the core together, as the next batch, stored in one transaction. A message that
    comes when none is at the core goes at once, alone: nobody waits for company.

    ``ingest`` answers each message as ``CoreClient.ingest`` would (its answer once committed,
    ``CoreRejected`` or ``CoreUnavailable``), so a caller acknowledges only what was committed.
    """

    def __init__(
        self,
        core: CoreClient,
        *,
        in_flight: int = 1,
        max_messages: int = 100,
        max_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self._core = core
        # Batches at the core at once. One: the next batch gathers while one is stored (the
        # core stores a batch in several transactions at once, see web/internal_api.py).
        self._in_flight = in_flight
        self._max_messages = max_messages
        self._max_bytes = max_bytes
        self._pending: list[tuple[dict[str, Any], Sequence[FilePart], asyncio.Future[dict[str, Any]]]] = []
        self._senders: set[asyncio.Task[None]] = set()

    async def ingest(self, message: dict[str, Any], files: Sequence[FilePart] = ()) -> dict[str, Any]:
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending.append((message, files, answer))
        if len(self._senders) < self._in_flight:
            sender = asyncio.create_task(self._send())
            self._senders.add(sender)
            sender.add_done_callback(self._senders.discard)
        return await answer

    def _next_batch(self) -> list[tuple[dict[str, Any], Sequence[FilePart], asyncio.Future[dict[str, Any]]]]:
        """The oldest pending messages, within the limits (always at least one)."""
        size, n = 0, 0
        for _message, files, _answer in self._pending:
            size += sum(len(f.data) for f in files)
            if n and (n == self._max_messages or size > self._max_bytes):
                break
            n += 1
        batch, self._pending = self._pending[:n], self._pending[n:]
        return batch

    async def _send(self) -> None:
        while self._pending:
            batch = [b for b in self._next_batch() if not b[2].done()]  # a session gone: not sent
            if not batch:
                continue
            try:
                results = await self._core.ingest_many([(m, f) for m, f, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every message of the batch gets it
                for _, _, answer in batch:
                    if not answer.done():
                        answer.set_exception(exc)
                continue
            for (_, _, answer), result in zip(batch, results, strict=True):
                if answer.done():
                    continue
                if result.get("ok"):
                    answer.set_result(result)
                    continue
                status = result.get("status")
                error = result.get("error") if isinstance(result.get("error"), dict) else {}
                if not isinstance(status, int) or status >= 500 or status in (401, 408, 429):
                    answer.set_exception(
                        CoreUnavailable(f"core answered {status}: {error.get('message', '')}")
                    )
                else:
                    answer.set_exception(CoreRejected(status, error))


def _described(message: dict[str, Any], files: Sequence[FilePart]) -> dict[str, Any]:
    """The message with its files described (their bytes follow the JSON, in this order)."""
    return {
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
