"""Read side: what pages and pushes show, as plain dicts ready for JSON. Changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..errors import Forbidden, NotFound
from ..models import OPEN_STATES, Agent, Interaction, Message, Offer, OutboxItem, RoutingDecision
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


def message_dict(message: Message, delivery: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {
        "id": message.id,
        "interaction_id": message.interaction_id,
        "direction": message.direction,
        "body": message.body,
        "created_at": iso(message.created_at),
        "agent_name": message.agent.name if message.agent_id else None,
    }
    if delivery is not None:
        out["delivery"] = delivery
    return out


def interaction_dict(interaction: Interaction, offer: Offer | None = None) -> dict[str, Any]:
    contact = interaction.contact
    identities = [{"kind": i.kind, "value": i.value} for i in contact.identities]
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
        },
        "created_at": iso(interaction.created_at),
        "queued_at": iso(interaction.queued_at),
        "last_message_at": iso(interaction.last_message_at),
        "preview": _preview(interaction),
    }
    if offer is not None:
        out["offer"] = {"id": offer.id, "expires_at": iso(offer.expires_at)}
    return out


def _display_name(identities: list[dict[str, str]]) -> str:
    for identity in identities:
        if identity["kind"] == "chat_visitor":
            return f"Visitor {identity['value'][:6]}"
        return identity["value"]
    return "Unknown"


def _preview(interaction: Interaction) -> str:
    last = Message.select().where(Message.interaction == interaction.id).order_by(Message.id.desc()).first()
    return last.body[:140] if last else ""


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

    def inbox(self, agent: Agent) -> dict[str, Any]:
        """What the agent's inbox shows on (re)connect: their open work and their pending offers."""
        mine = (
            Interaction.select()
            .where(Interaction.agent == agent.id, Interaction.state.in_(OPEN_STATES))
            .order_by(Interaction.last_message_at.desc(nulls="LAST"), Interaction.id.desc())
        )
        offers = Offer.select().where(Offer.agent == agent.id, Offer.state == "pending")
        return {
            "agent": agent_dict(agent),
            "interactions": [interaction_dict(i) for i in mine if i.state != "offered"],
            "offers": [interaction_dict(o.interaction, o) for o in offers],
        }

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
        delivery = {
            item.message_id: delivery_of(item)
            for item in OutboxItem.select().where(OutboxItem.message.in_([m.id for m in messages]))
        }
        return [message_dict(m, delivery.get(m.id) if m.direction == "out" else None) for m in messages]

    def thread_history(self, channel: str, thread_key: str, limit: int = 200) -> list[dict[str, Any]]:
        """Every message of a customer's conversation on one channel, oldest first (chat widget)."""
        messages = (
            Message.select()
            .join(Interaction)
            .where(Interaction.channel == channel, Interaction.thread_key == thread_key)
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(limit)
        )
        return [message_dict(m) for m in reversed(list(messages))]

    def routing(self, interaction_id: int) -> list[dict[str, Any]]:
        return [
            {
                "agent_id": d.agent_id,
                "strategy": d.strategy,
                "reason": d.reason,
                "candidates": d.candidates,
                "created_at": iso(d.created_at),
            }
            for d in RoutingDecision.select()
            .where(RoutingDecision.interaction == interaction_id)
            .order_by(RoutingDecision.id)
        ]
