"""Webhook mode: Telegram posts each update to us; we answer 200 only once it is stored.

Telegram retries an update until it gets a 2xx, so answering 500 when the core could not
commit is how nothing gets lost. The secret token Telegram echoes in a header proves the
post comes from Telegram (the URL alone could be guessed or leaked).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from callyard.config import TelegramConfig

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
MAX_UPDATE_BYTES = 1024 * 1024


class WebhookServer:
    def __init__(self, config: TelegramConfig, handle: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        self._config = config
        self._handle = handle
        app = web.Application(client_max_size=MAX_UPDATE_BYTES)
        app.router.add_post("/{tail:.*}", self._update)
        self._runner = web.AppRunner(app, access_log=None)

    async def start(self) -> str:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._config.webhook_host, self._config.webhook_port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}"

    async def run(self, stopping: asyncio.Event) -> None:
        try:
            await stopping.wait()
        finally:
            await self._runner.cleanup()

    async def _update(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._config.webhook_secret.encode()):
            return web.json_response({"ok": False, "error": "bad secret token"}, status=403)
        try:
            update = json.loads(await request.read())
            if not isinstance(update, dict):
                raise ValueError("an update is a JSON object")
        except ValueError as exc:
            # Telegram never sends this; answering 400 stops a retry loop of garbage.
            return web.json_response({"ok": False, "error": f"not an update: {exc}"}, status=400)
        try:
            await self._handle(update)
        except ValueError as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        except Exception as exc:
            log.warning("telegram webhook update not stored yet (Telegram will retry): %s", exc)
            return web.json_response({"ok": False, "error": "not stored, retry"}, status=503)
        return web.json_response({"ok": True})
