"""The SMTP side of the gateway: aiosmtpd hands us each message; we answer ``250`` only after
the core has committed it, ``4xx`` when it could not (the sender's server retries), ``5xx``
for what we refuse for good."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from callyard.config import EmailConfig
from callyard.gateway_client import CoreClient, CoreRejected, CoreUnavailable, FilePart, IngestBatcher

from .errors import Refused
from .inbound import Limits, ingest_request, parse

log = logging.getLogger(__name__)

TEMPORARY = "451 4.3.0 Not stored, please try again later"
# Smaller messages are parsed on the event loop (about a millisecond): handing them to a
# thread cost more than the parsing, and a thread fights the loop for the GIL anyway.
INLINE_PARSE_BYTES = 64 * 1024


class Recipients:
    """Which addresses we take mail for, and the queue of each."""

    def __init__(self, config: EmailConfig) -> None:
        self._addresses = {a.lower() for a in config.addresses}
        self._domains = {d.lower().lstrip("@") for d in config.domains}
        self._queues = {a.lower(): q for a, q in config.queue_by_address.items()}
        self._default = config.queue

    def accepts(self, address: str) -> bool:
        address = address.lower()
        return address in self._addresses or address.rpartition("@")[2] in self._domains

    def queue_for(self, addresses: list[str]) -> str:
        for address in addresses:
            if address.lower() in self._queues:
                return self._queues[address.lower()]
        return self._default


class InboundHandler:
    def __init__(self, config: EmailConfig, core: CoreClient) -> None:
        self._config = config
        # Messages of several sessions arriving together are committed together.
        self._core = IngestBatcher(core)
        self._recipients = Recipients(config)
        self._limits = Limits(config.max_attachments, config.max_attachment_bytes)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if not self._recipients.accepts(address):
            return f"550 5.1.1 <{address}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        if not isinstance(raw, bytes):
            raw = str(raw or "").encode("utf-8", "surrogateescape")
        sender = _envelope_sender(envelope.mail_from)
        try:
            if len(raw) <= INLINE_PARSE_BYTES:
                parsed = parse(raw, self._limits, envelope_sender=sender)
            else:  # in a thread: a large message must not hold up the other SMTP sessions
                parsed = await asyncio.to_thread(parse, raw, self._limits, envelope_sender=sender)
        except Refused as exc:
            log.info("refused a message from %s: %s", envelope.mail_from, exc.reply)
            return exc.reply
        except Exception:  # a parser bug must not become a 250 or a dead gateway
            log.exception("could not read a message from %s", envelope.mail_from)
            return TEMPORARY
        recipient = next((r for r in envelope.rcpt_tos if self._recipients.accepts(r)), "").lower()
        request = ingest_request(
            parsed,
            recipient=recipient,
            queue=self._recipients.queue_for(envelope.rcpt_tos),
            acknowledge=self._config.auto_ack_text if self._config.auto_ack else None,
        )
        files = [
            FilePart(f.filename, f.content_type, f.data, f.content_id, f.inline) for f in parsed.attachments
        ]
        try:
            answer = await self._core.ingest(request, files)
        except CoreUnavailable as exc:
            log.warning("message %s not stored (%s); the sender will retry", parsed.message_id, exc)
            return TEMPORARY
        except CoreRejected as exc:
            log.warning("the core refused message %s: %s", parsed.message_id, exc)
            return f"554 5.6.0 Message refused: {_one_line(exc.error.get('message', ''))}"
        state = "already stored" if answer["duplicate"] else "stored"
        return f"250 2.0.0 OK {state} as conversation #{answer['interaction_id']}"


def _envelope_sender(mail_from: str | None) -> str:
    """MAIL FROM as an address; "" for the null sender ``<>`` that automatic mail uses."""
    return "" if mail_from in (None, "", "<>") else mail_from.strip("<>")


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())[:200]
