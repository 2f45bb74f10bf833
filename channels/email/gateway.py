"""The email gateway process: SMTP in (aiosmtpd), replies out through the relay, both through
the core's internal API. Started by ``callyard run`` when ``[channels.email] enabled``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from typing import Any

from callyard.config import Config, EmailConfig
from callyard.gateway import DeliveryFailed, job_files, outbox_worker
from callyard.gateway_client import CoreClient

from . import outbound
from .server import BulkDataSMTP
from .smtp import InboundHandler

log = logging.getLogger(__name__)

NAME = "email"


class EmailGateway:
    name = NAME

    def __init__(self, config: EmailConfig, poll_seconds: float) -> None:
        self.config = config
        self._poll = poll_seconds
        self._core: CoreClient | None = None  # set by serve(): fetches a reply's files

    def tls_context(self) -> ssl.SSLContext | None:
        if not self.config.tls_cert:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        return context

    async def serve(self, core: CoreClient, stopping: asyncio.Event, ready: Callable[[str], None]) -> None:
        config = self.config
        self._core = core
        handler = InboundHandler(config, core)
        tls = self.tls_context()
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: BulkDataSMTP(
                handler,
                data_size_limit=config.max_message_bytes,
                enable_SMTPUTF8=True,
                tls_context=tls,
                timeout=300,
            ),
            config.host,
            config.port,
        )
        host, port = server.sockets[0].getsockname()[:2]
        ready(f"email gateway: SMTP listening on {host}:{port}" + (" (STARTTLS)" if tls else ""))
        worker = asyncio.create_task(
            outbox_worker(core, NAME, self.deliver, stopping, poll_seconds=self._poll)
        )
        try:
            await stopping.wait()
        finally:
            server.close()
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def deliver(self, job: dict[str, Any]) -> str:
        files = []
        if job.get("attachments"):
            if self._core is None:
                raise DeliveryFailed("the gateway is not serving: cannot fetch the reply's files")
            files = await job_files(self._core, job)
        reply = outbound.build_reply(
            job, self.config, [outbound.OutboundFile(f.filename, f.content_type, f.data) for f in files]
        )
        await asyncio.to_thread(outbound.send, reply, self.config)
        log.info("sent reply %s (outbox item %s)", reply["Message-ID"], job["id"])
        return str(reply["Message-ID"])


def from_config(config: Config) -> EmailGateway | None:
    """Entry point (``callyard.gateways``): the gateway, or None when email is switched off."""
    email = config.channels.email
    if not email.enabled:
        return None
    return EmailGateway(email, config.gateway.poll_seconds)
