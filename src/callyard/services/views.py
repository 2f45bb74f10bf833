"""Read side: what pages and pushes show, as plain dicts ready for JSON. Changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..errors import Forbidden, NotFound
from ..models import (
    Agent,
    Attachment,
    ContactCrm,
    Interaction,
    Message,
    Offer,
    OutboxItem,
    RoutingDecision,
)
from . import access
from .mail_html import InlineFile, with_inline_images
from .outbox import delivery_of


def iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"


def agent_dict(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "login": agent.login,
        "name": agent.name,
        "role": agent.role,
        "presence": agent.presence,
        "presence_reason": agent.presence_reason,
        "presence_since": iso(agent.presence_since),
    }


def message_dict(
    message: Message,
    delivery: dict[str, Any] | None = None,
    attachments: list[Attachment] | None = None,
) -> dict[str, Any]:
    meta = message.meta or {}
    if attachments is None:
        attachments = list(message.attachments.order_by(Attachment.id))
    out = {
        "id": message.id,
        "interaction_id": message.interaction_id,
        "direction": message.direction,
        "body": message.body,
        "created_at": iso(message.created_at),
        "agent_name": message.agent.name if message.agent_id else None,
        # What channels with more than text add (email): the subject, the HTML body as the
        # channel sanitised it (safe to insert as HTML), and why a message was automatic
        # ("auto-reply", "bounce", "acknowledgement"; None for a person's message).
        "subject": meta.get("subject", ""),
        "html": meta.get("html"),
        "auto": meta.get("auto"),
        "attachments": [attachment_dict(a) for a in attachments],
    }
    _show_inline_images(out, attachments)
    if delivery is not None:
        out["delivery"] = delivery
    return out


def _show_inline_images(out: dict[str, Any], attachments: list[Attachment]) -> None:
    """An email's ``cid:`` images point at their attachments' URLs (see mail_html);
    ``html_images`` counts them, so the inbox knows the HTML is the better view."""
    out["html_images"] = 0
    if out["html"]:
        inline = [InlineFile(a.id, a.content_id, a.content_type) for a in attachments if a.content_id]
        out["html"], out["html_images"] = with_inline_images(out["html"], inline)


def attachment_dict(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.id,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "inline": attachment.inline,
        "content_id": attachment.content_id,
        "url": f"/attachments/{attachment.id}",
    }


def interaction_dict(
    interaction: Interaction, offer: Offer | None = None, known: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``known``: the contact's ``identities``, its ``crm`` card and the ``preview``, when the
    caller read them already (the inbox's work item does, in the queries it makes anyway)."""
    contact = interaction.contact
    if known is None:
        known = {
            "identities": [{"kind": i.kind, "value": i.value} for i in contact.identities],
            "crm": crm_card(contact.id),
            "preview": _preview(interaction),
        }
    identities = known["identities"]
    out = {
        "id": interaction.id,
        "channel": interaction.channel,
        "state": interaction.state,
        "queue": interaction.queue.name if interaction.queue_id else None,
        "agent_id": interaction.agent_id,
        "contact": {
            "id": contact.id,
            "name": contact.name or _display_name(identities),
            "identities": identities,
            "crm": known["crm"],
        },
        "created_at": iso(interaction.created_at),
        "queued_at": iso(interaction.queued_at),
        "last_message_at": iso(interaction.last_message_at),
        "preview": known["preview"],
        "subject": interaction.subject,
    }
    if offer is not None:
        out["offer"] = {"id": offer.id, "expires_at": iso(offer.expires_at)}
    return out


def _attachments_of(message_ids: list[int]) -> dict[int, list[Attachment]]:
    """The attachments of many messages in one query, by message id."""
    files: dict[int, list[Attachment]] = {}
    if message_ids:
        for attachment in (
            Attachment.select().where(Attachment.message.in_(message_ids)).order_by(Attachment.id)
        ):
            files.setdefault(attachment.message_id, []).append(attachment)
    return files


def _display_name(identities: list[dict[str, str]]) -> str:
    for identity in identities:
        if identity["kind"] == "chat_visitor":
            return f"Visitor {identity['value'][:6]}"
        return identity["value"]
    return "Unknown"


def _preview(interaction: Interaction) -> str:
    last = Message.select().where(Message.interaction == interaction.id).order_by(Message.id.desc()).first()
    return preview_of(last.body if last else None)


def preview_of(body: str | None) -> str:
    """The start of the last message, as work lists show it."""
    return body[:140] if body else ""


class Views:
    """Queries for the inbox, with the access check in one place."""

    def can_see(self, agent: Agent, interaction: Interaction) -> bool:
        if agent.role in ("supervisor", "admin") or interaction.agent_id == agent.id:
            return True
        return (
            Offer.select()
            .where(Offer.interaction == interaction.id, Offer.agent == agent.id, Offer.state == "pending")
            .exists()
        )

    def interaction_for(self, agent: Agent, interaction_id: int) -> Interaction:
        interaction = Interaction.get_or_none(Interaction.id == interaction_id)
        if interaction is None:
            raise NotFound(f"no interaction with id {interaction_id}", error_id="interaction-not-found")
        if not self.can_see(agent, interaction):
            raise Forbidden("this interaction is not yours", error_id="not-your-interaction")
        return interaction

    def conversation(self, agent: Agent, interaction_id: int) -> dict[str, Any]:
        interaction = self.interaction_for(agent, interaction_id)
        return {
            "interaction": interaction_dict(interaction),
            "messages": self.messages(interaction.id),
            "routing": self.routing(interaction.id),
        }

    def messages(self, interaction_id: int) -> list[dict[str, Any]]:
        messages = list(
            Message.select()
            .where(Message.interaction == interaction_id)
            .order_by(Message.created_at, Message.id)
        )
        ids = [m.id for m in messages]
        delivery = {
            item.message_id: delivery_of(item)
            for item in OutboxItem.select().where(OutboxItem.message.in_(ids)).order_by(OutboxItem.id)
        }
        files = _attachments_of(ids)
        return [
            message_dict(m, delivery.get(m.id) if m.direction == "out" else None, files.get(m.id, []))
            for m in messages
        ]

    def attachment_for(self, agent: Agent, attachment_id: int) -> Attachment:
        """An attachment, if the agent may see its conversation."""
        attachment = Attachment.get_or_none(Attachment.id == attachment_id)
        if attachment is None:
            raise NotFound(f"no attachment with id {attachment_id}", error_id="attachment-not-found")
        # Read-only is enough to download (a teammate or supervisor looking at the conversation,
        # services/access.py); to anyone else it does not exist (404: no probing which ids do).
        if not access.can_see(agent, attachment.message.interaction_id):
            raise NotFound(f"no attachment with id {attachment_id}", error_id="attachment-not-found")
        return attachment

    def thread_history(self, channel: str, thread_key: str, limit: int = 200) -> list[dict[str, Any]]:
        """Every message of a customer's conversation on one channel, oldest first (chat widget)."""
        messages = (
            Message.select()
            .join(Interaction)
            .where(Interaction.channel == channel, Interaction.thread_key == thread_key)
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(limit)
        )
        ordered = list(reversed(list(messages)))
        files = _attachments_of([m.id for m in ordered])
        return [message_dict(m, attachments=files.get(m.id, [])) for m in ordered]

    def routing(self, interaction_id: int) -> list[dict[str, Any]]:
        """Every routing decision about the interaction, oldest first: what was done (offer,
        wait, overflow, timeout, after-hours), by which strategy at which escalation step, and
        each candidate agent with their disqualifier or score ("why did this go to Anna?")."""
        return [
            {
                "agent_id": d.agent_id,
                "action": d.action,
                "strategy": d.strategy,
                "step": d.step,
                "reason": d.reason,
                "candidates": d.candidates,
                "created_at": iso(d.created_at),
            }
            for d in RoutingDecision.select()
            .where(RoutingDecision.interaction == interaction_id)
            .order_by(RoutingDecision.id)
        ]


def crm_card(contact_id: int) -> dict[str, Any] | None:
    """What the CRM lookup hook answered for a contact (None: never looked up), for its card."""
    row = ContactCrm.get_or_none(ContactCrm.contact == contact_id)
    return None if row is None else {"data": row.data, "fetched_at": iso(row.fetched_at)}
