"""Offers ending without an accept: the interaction goes back to its queue for the next agent.

Shared by the agent (leaving `available`), the agent's reject and the router's timeout, so an
offer ends the same way whatever ended it. Call inside a transaction.
"""

from __future__ import annotations

import datetime as dt

from ..events import Event, InteractionQueued, OfferWithdrawn
from ..models import OFFERED, QUEUED, Agent, Interaction, Offer, StateChange


def end_offer(offer: Offer, now: dt.datetime, state: str, reason: str, *, missed: bool = True) -> list[Event]:
    """Mark a pending offer ``state`` (rejected, expired, withdrawn) and requeue its interaction.
    ``missed=False``: an expiry that is not the agent's doing (not counted for max_no_answer)."""
    ended = (
        Offer.update(state=state, decided_at=now)
        .where(Offer.id == offer.id, Offer.state == "pending")
        .execute()
    )
    if not ended:
        return []
    events: list[Event] = [OfferWithdrawn(offer.interaction_id, offer.agent_id, offer.id, reason)]
    if state == "expired" and missed:  # max_no_answer counts offers let lapse in a row
        Agent.update(missed_offers=Agent.missed_offers + 1).where(Agent.id == offer.agent_id).execute()
    # Offered to this agent alone, or (ring-all, ring-progressively: no agent set) to several of
    # whom none is still ringing: back to the queue.
    mine = Interaction.agent == offer.agent_id
    if not Offer.select().where(Offer.interaction == offer.interaction_id, Offer.state == "pending").exists():
        mine = mine | Interaction.agent.is_null()
    moved = (
        Interaction.update(state=QUEUED, agent=None, updated_at=now)
        .where(Interaction.id == offer.interaction_id, Interaction.state == OFFERED, mine)
        .execute()
    )
    if moved:
        StateChange.create(
            interaction=offer.interaction_id,
            from_state=OFFERED,
            to_state=QUEUED,
            agent=offer.agent_id,
            at=now,
        )
        interaction = Interaction.get_by_id(offer.interaction_id)
        events.append(
            InteractionQueued(interaction.id, interaction.queue.name if interaction.queue_id else "")
        )
    return events


def pending_offers_of(agent_id: int) -> list[Offer]:
    return list(Offer.select().where(Offer.agent == agent_id, Offer.state == "pending"))
