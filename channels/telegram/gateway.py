"""The Telegram gateway: a process of its own (asyncio, python-telegram-bot).

In: long polling (``getUpdates``) by default, or a webhook when ``webhook_url`` is set. Each
update is handed to the core's internal API and only then confirmed to Telegram: in polling
mode by asking for the next offset, in webhook mode by answering 200. A crash in between makes
Telegram send the update again, and the core stores it once (its external id is the chat and
message number).

Out: agents' replies are claimed from the core's outbox and sent with the bot; the rate
limiter waits out Telegram's flood control (429 ``retry_after``), and a customer who blocked
the bot or deleted the chat is reported as a permanent failure, shown on the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from telegram import Bot, InputFile
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, ExtBot

from callyard.config import TelegramConfig
from callyard.gateway import DeliveryFailed, job_files, outbox_worker
from callyard.gateway_client import CoreClient, CoreRejected, FilePart

from .outbound import classify, split_text
from .updates import Attachment, Inbound, Skipped, parse_update

log = logging.getLogger(__name__)

CHANNEL = "telegram"
ALLOWED_UPDATES = ["message"]


def make_bot(config: TelegramConfig) -> Bot:
    api = config.api_url.rstrip("/")
    return ExtBot(
        config.token,
        base_url=f"{api}/bot",
        base_file_url=f"{api}/file/bot",
        # Waits out 429s (retry_after) and keeps under Telegram's per-chat and overall limits.
        rate_limiter=AIORateLimiter(max_retries=2),
    )


class TelegramGateway:
    name = CHANNEL

    def __init__(self, config: TelegramConfig, *, poll_seconds: float) -> None:
        self._config = config
        self._poll_seconds = poll_seconds
        self._offset: int | None = None

    async def serve(self, core: CoreClient, stopping: asyncio.Event, ready: Callable[[str], None]) -> None:
        bot = make_bot(self._config)
        async with bot:  # getMe: a wrong token stops here with a clear error
            me = bot.bot
            inbound: Callable[[], Any]
            if self._config.webhook_url:
                from .webhook import WebhookServer  # aiohttp is needed only in this mode

                await bot.set_webhook(
                    self._config.webhook_url,
                    secret_token=self._config.webhook_secret,
                    allowed_updates=ALLOWED_UPDATES,
                )
                server = WebhookServer(self._config, lambda update: self.handle(bot, core, update))
                where = await server.start()
                inbound = lambda: server.run(stopping)  # noqa: E731
                ready(f"telegram gateway: @{me.username}, webhook {self._config.webhook_url} -> {where}")
            else:
                # A webhook left set from an earlier run would make getUpdates fail.
                await bot.delete_webhook(drop_pending_updates=False)
                inbound = lambda: self.poll(bot, core, stopping)  # noqa: E731
                ready(f"telegram gateway: @{me.username}, long polling")
            await asyncio.gather(
                inbound(),
                outbox_worker(
                    core,
                    CHANNEL,
                    lambda job: self.deliver(bot, job, core),
                    stopping,
                    poll_seconds=self._poll_seconds,
                ),
            )

    # -- in --------------------------------------------------------------------------------

    async def poll(self, bot: Bot, core: CoreClient, stopping: asyncio.Event) -> None:
        backoff = 1.0
        while not stopping.is_set():
            try:
                # Raw JSON, not python-telegram-bot's objects: its strict parsing would turn
                # one odd update into a batch we could never get past.
                updates = await _until_stopped(
                    bot.do_api_request(
                        "getUpdates",
                        api_kwargs={
                            "offset": self._offset,
                            "timeout": self._config.poll_timeout,
                            "allowed_updates": ALLOWED_UPDATES,
                        },
                        read_timeout=self._config.poll_timeout + 10,
                    ),
                    stopping,
                )
            except TelegramError as exc:
                log.warning("telegram getUpdates failed: %s; again in %.0f s", exc, backoff)
                await _sleep(backoff, stopping)
                backoff = min(backoff * 2, 60.0)
                continue
            if updates is None:
                return
            if not isinstance(updates, list):
                log.warning(
                    "telegram getUpdates answered %r, not a list; asking again", type(updates).__name__
                )
                await _sleep(backoff, stopping)
                continue
            backoff = 1.0
            for update in updates:
                update_id = update.get("update_id") if isinstance(update, dict) else None
                if not isinstance(update_id, int):
                    log.warning("telegram sent an update without an id, ignored: %.200r", update)
                    continue
                try:
                    await self.handle(bot, core, update)
                except Exception as exc:
                    # Not confirmed: Telegram sends it again with the next getUpdates.
                    log.warning("telegram update %s not stored yet: %s", update_id, exc)
                    await _sleep(backoff, stopping)
                    break
                self._offset = update_id + 1

    async def handle(self, bot: Bot, core: CoreClient, update: dict[str, Any]) -> None:
        """Store one update with the core; raises when it could not be stored (retry later)."""
        parsed = parse_update(update)
        if isinstance(parsed, Skipped):
            log.info("telegram update %s skipped: %s", parsed.update_id, parsed.reason)
            return
        files, notes = await self._download(bot, parsed.attachments)
        message = self._message(parsed, notes)
        try:
            result = await core.ingest(message, files)
        except CoreRejected as exc:
            # The core will never take it (e.g. far too long): confirm it anyway so one bad
            # update does not block every message after it, and say so loudly.
            log.error("telegram update %s refused by the core, dropped: %s", parsed.update_id, exc)
            return
        log.info(
            "telegram message %s stored in interaction %s%s",
            parsed.external_id,
            result.get("interaction_id"),
            " (again)" if result.get("duplicate") else "",
        )

    def _message(self, parsed: Inbound, notes: list[str]) -> dict[str, Any]:
        body = "\n".join([parsed.text, *notes])
        message: dict[str, Any] = {
            "channel": CHANNEL,
            "identity": {"kind": "telegram", "value": str(parsed.user_id)},
            "contact_name": parsed.name,
            "body": body,
            "queue": self._config.queue,
            "thread_key": str(parsed.chat_id),
            "external_id": parsed.external_id,
            "meta": {"telegram": {"chat_id": parsed.chat_id, "user_id": parsed.user_id}},
        }
        if parsed.phone:
            message["also_known_as"] = [{"kind": "phone", "value": parsed.phone}]
        if parsed.command == "start" and self._config.greeting:
            message["acknowledge"] = self._config.greeting
        return message

    async def _download(
        self, bot: Bot, attachments: tuple[Attachment, ...]
    ) -> tuple[list[FilePart], list[str]]:
        files: list[FilePart] = []
        notes: list[str] = []
        for attachment in attachments:
            if attachment.size is not None and attachment.size > self._config.max_file_bytes:
                notes.append(
                    f"({attachment.name} was not downloaded: {attachment.size} bytes is over the limit)"
                )
                continue
            remote = await bot.get_file(attachment.file_id)
            data = bytes(await remote.download_as_bytearray())
            if len(data) > self._config.max_file_bytes:
                notes.append(f"({attachment.name} was not kept: {len(data)} bytes is over the limit)")
                continue
            files.append(FilePart(attachment.name, attachment.mime, data))
        return files, notes

    # -- out -------------------------------------------------------------------------------

    async def deliver(self, bot: Bot, job: dict[str, Any], core: CoreClient | None = None) -> str | None:
        message, interaction = job.get("message"), job.get("interaction")
        if not message or not interaction:
            raise DeliveryFailed("the outbox item has no message to send", permanent=True)
        try:
            chat_id = int(interaction["thread_key"])
        except (TypeError, ValueError):
            raise DeliveryFailed(
                f"not a Telegram chat: {interaction.get('thread_key')!r}", permanent=True
            ) from None
        files: list[FilePart] = []
        if job.get("attachments"):
            if core is None:
                raise DeliveryFailed("cannot fetch the reply's files without the core")
            files = await job_files(core, job)  # all fetched before anything is sent
        sent_ids = []
        try:
            # Text first, then each file as a document (files alone: no empty text).
            for part in split_text(message["body"]) if message["body"].strip() or not files else []:
                sent = await bot.send_message(chat_id, part)
                sent_ids.append(sent.message_id)
            for file in files:
                sent = await bot.send_document(chat_id, InputFile(file.data, filename=file.filename))
                sent_ids.append(sent.message_id)
        except TelegramError as exc:
            failure = classify(exc)
            # Delivery is at least once: a retry of a long reply resends its first parts too.
            done = f" (after {len(sent_ids)} of its parts were sent)" if sent_ids else ""
            raise DeliveryFailed(failure.reason + done, permanent=failure.permanent) from exc
        return ",".join(f"{chat_id}:{n}" for n in sent_ids)


async def _until_stopped(work: Any, stopping: asyncio.Event) -> Any:
    """Await ``work`` unless ``stopping`` is set first (then None): a long poll ends at once."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stopping.wait())
    done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        stopper.cancel()
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, TelegramError):
        await task
    return None


async def _sleep(seconds: float, stopping: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)
