"""Mail out: an outbox job (see ``callyard.services.outbox.job_of``) → a reply email, and
sending it through the configured relay.

``build_reply`` is pure. Its Message-ID is made from the outbox item, so a retried send
carries the same id and the customer's client shows one message, not two.
"""

from __future__ import annotations

import email.utils
import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from typing import Any

from callyard.config import EmailConfig
from callyard.gateway import DeliveryFailed
from callyard.services.compose import quote_of, re_subject

from .inbound import TOKEN

log = logging.getLogger(__name__)

MAX_REFERENCES = 20


@dataclass(frozen=True)
class OutboundFile:
    """A file the reply carries, as the gateway fetched it from the core."""

    filename: str
    content_type: str
    data: bytes


def build_reply(job: dict[str, Any], config: EmailConfig, files: Sequence[OutboundFile] = ()) -> EmailMessage:
    message, interaction = job["message"], job["interaction"]
    if message is None or interaction is None:
        raise DeliveryFailed("an email outbox item must belong to a message", permanent=True)
    inbound = [t for t in job["thread"] if t["direction"] == "in"]
    last_in = inbound[-1] if inbound else None
    to = _recipient(job, last_in)
    if not to:
        raise DeliveryFailed("the customer has no email address to answer", permanent=True)
    sender = _sender(last_in, config)
    if not sender:
        raise DeliveryFailed(
            "no From address: set channels.email.from_address or channels.email.addresses", permanent=True
        )
    domain = sender.rsplit("@", 1)[1]
    reply = EmailMessage(policy=SMTP_POLICY)
    reply["From"] = sender
    reply["To"] = email.utils.formataddr((job["contact"]["name"] or "", to)) if job["contact"] else to
    # The subject the agent kept or edited in the composer, else the conversation's.
    subject = (message.get("meta") or {}).get("subject") or interaction["subject"]
    reply["Subject"] = reply_subject(subject, interaction["id"])
    reply["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    reply["Message-ID"] = f"<callyard.{job['id']}.{message['id']}@{domain}>"
    ids = [t["external_id"] for t in job["thread"] if t["external_id"]]
    if last_in is not None:
        reply["In-Reply-To"] = last_in["external_id"]
    if ids:
        # The first (the thread's root) and the latest ones, as RFC 5322 suggests when trimming.
        kept = ids if len(ids) <= MAX_REFERENCES else [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
        reply["References"] = " ".join(kept)
    if (message.get("meta") or {}).get("auto"):
        reply["Auto-Submitted"] = "auto-replied"  # so other robots do not answer it
    reply.set_content(_text_with_quote(message, job.get("quote")))
    for file in files:
        maintype, _, subtype = file.content_type.partition("/")
        if not maintype or not subtype or maintype == "multipart":
            maintype, subtype = "application", "octet-stream"
        reply.add_attachment(file.data, maintype=maintype, subtype=subtype, filename=file.filename)
    return reply


def _text_with_quote(message: dict[str, Any], quote: dict[str, Any] | None) -> str:
    """The agent's text, then the customer's last message quoted below it, as mail clients
    do; an automatic message (an acknowledgement) quotes nothing."""
    body = message["body"]
    if not quote or (message.get("meta") or {}).get("auto"):
        return body
    quoted = quote_of(quote.get("name") or "", quote.get("created_at"), quote.get("body") or "")
    return f"{body.rstrip()}\n\n{quoted}\n"


def reply_subject(subject: str, number: int) -> str:
    subject = re_subject(subject)
    if not TOKEN.search(subject):
        subject = f"{subject} [#{number}]"
    return subject


def _recipient(job: dict[str, Any], last_in: dict[str, Any] | None) -> str:
    meta = (last_in or {}).get("meta") or {}
    if meta.get("reply_to") or meta.get("from"):
        return meta.get("reply_to") or meta["from"]
    for identity in (job["contact"] or {}).get("identities", []):
        if identity["kind"] == "email":
            return identity["value"]
    return ""


def _sender(last_in: dict[str, Any] | None, config: EmailConfig) -> str:
    written_to = (last_in or {}).get("meta", {}).get("recipient") if last_in else None
    if written_to:
        return written_to
    if config.from_address:
        return config.from_address
    return config.addresses[0] if config.addresses else ""


def send(reply: EmailMessage, config: EmailConfig) -> None:
    """Hand the reply to the relay (blocking; run it in a thread). A refusal the relay means
    (5xx) is permanent; anything else is retried by the outbox."""
    if not config.relay_host:
        raise DeliveryFailed("no relay: set channels.email.relay_host")
    sender = email.utils.parseaddr(str(reply["From"]))[1]
    to = [email.utils.parseaddr(str(reply["To"]))[1]]
    try:
        with smtplib.SMTP(config.relay_host, config.relay_port, timeout=config.relay_timeout) as relay:
            if config.relay_starttls:
                context = ssl.create_default_context(cafile=config.relay_ca_file or None)
                relay.starttls(context=context)
            if config.relay_username:
                relay.login(config.relay_username, config.relay_password)
            refused = relay.send_message(reply, from_addr=sender, to_addrs=to)
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        raise DeliveryFailed(_reply_text(code, text), permanent=code >= 500) from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryFailed(
            _reply_text(exc.smtp_code, exc.smtp_error), permanent=exc.smtp_code >= 500
        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"relay {config.relay_host}:{config.relay_port} unreachable: {exc}") from None
    if refused:
        code, text = next(iter(refused.values()))
        raise DeliveryFailed(_reply_text(code, text), permanent=code >= 500)


def _reply_text(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"relay answered {code} {text}".strip()
