"""What the router writes for its decisions: offers, and every decision with its reason.

Written at every offer (dozens a second under load), so each statement's SQL is built once
(see ``callyard.prepared``). Called inside the router's transactions.
"""

from __future__ import annotations

import datetime as dt
import json

from peewee import fn

from .. import routing
from ..models import OFFERED, QUEUED, Agent, Interaction, Offer, Queue, RoutingDecision, StateChange
from ..prepared import Prepared, PreparedIn, slot

PENDING = "pending"
# What take() did with a decided item.
TAKEN = "taken"
RING_MORE = "ring more"


def _ready(ids):  # noqa: ANN001, ANN202 - how many of these agents can take work now
    return Agent.select(fn.COUNT(Agent.id)).where(
        Agent.id.in_(ids),
        Agent.presence == "available",
        Agent.enabled == True,  # noqa: E712 - peewee expression
    )


# Queued work taken for an offer in one statement, only if it is still what the brain saw: the
# item waits in the decision's queue and every agent offered is still available.
_TAKE_QUEUED = PreparedIn(
    lambda ids: Interaction.update(
        state=OFFERED, agent=slot("agent_id"), updated_at=slot("now", Interaction.updated_at)
    ).where(
        Interaction.id == slot("item_id"),
        Interaction.state == QUEUED,
        Interaction.queue == Queue.select(Queue.id).where(Queue.name == slot("queue")),
        _ready(ids) == len(ids),
    )
)
# Ring-progressively rings more agents for work already offered: read to check it.
_ITEM_QUEUE = Prepared(
    lambda: (
        Interaction.select(Interaction.state, Queue.name)
        .join(Queue)
        .where(Interaction.id == slot("item_id"))
        .tuples()
    )
)
_READY = PreparedIn(_ready)
_STATE_CHANGE = Prepared(
    lambda: StateChange.insert(
        interaction=slot("item_id"),
        from_state=QUEUED,
        to_state=OFFERED,
        agent=slot("agent_id"),
        at=slot("now", StateChange.at),
    )
)
_OFFER = Prepared(
    lambda: Offer.insert(
        interaction=slot("item_id"),
        agent=slot("agent_id"),
        state=PENDING,
        created_at=slot("now", Offer.created_at),
        expires_at=slot("expires_at", Offer.expires_at),
    ).returning(Offer.id)
)
_RR_POSITION = Prepared(lambda: Queue.update(rr_position=slot("agent_id")).where(Queue.name == slot("queue")))
_DECISION = Prepared(
    lambda: RoutingDecision.insert(
        interaction=slot("item_id"),
        agent=slot("agent_id"),
        strategy=slot("strategy"),
        reason=slot("reason"),
        candidates=slot("candidates"),  # JSON already: see candidates_json
        created_at=slot("now", RoutingDecision.created_at),
        action=slot("action"),
        step=slot("step"),
    )
)
# The latest decision stored for each of these interactions, as (interaction, agent, step,
# reason, candidates as stored: JSON text).
_LATEST = PreparedIn(
    lambda ids: (
        RoutingDecision.select(
            RoutingDecision.interaction,
            RoutingDecision.agent,
            RoutingDecision.step,
            RoutingDecision.reason,
            RoutingDecision.candidates.cast("TEXT"),  # the text, not parsed
        )
        .where(
            RoutingDecision.id.in_(
                RoutingDecision.select(fn.MAX(RoutingDecision.id))
                .where(RoutingDecision.interaction.in_(ids))
                .group_by(RoutingDecision.interaction)
            )
        )
        .tuples()
    )
)


def take(decision: routing.Decision, now: dt.datetime) -> str | None:
    """Move the decided item to "offered" (TAKEN: its ``updated_at`` is ``now``) if the store
    still says what the brain saw (its queue, the agents available); ring-progressively also
    rings more agents for an item already offered (RING_MORE). None: the decision is stale."""
    ids = decision.agent_ids
    offers = routing.STRATEGIES[decision.strategy].offers
    agent_id = ids[0] if len(ids) == 1 and offers == "one" else None
    taken = _TAKE_QUEUED.execute(
        ids, item_id=decision.item_id, queue=decision.queue, agent_id=agent_id, now=now
    )
    if taken.rowcount == 1:
        _STATE_CHANGE.execute(item_id=decision.item_id, agent_id=agent_id, now=now)
        return TAKEN
    if offers != "progressive":
        return None
    row = _ITEM_QUEUE.first(item_id=decision.item_id)
    ready = _READY.execute(ids).fetchone()[0]
    return RING_MORE if row == (OFFERED, decision.queue) and ready == len(ids) else None


def add_offers(decision: routing.Decision, now: dt.datetime, expires_at: dt.datetime) -> list[int]:
    """One pending offer per agent decided; their ids."""
    offers = [
        _OFFER.scalar(item_id=decision.item_id, agent_id=agent_id, now=now, expires_at=expires_at)
        for agent_id in decision.agent_ids
    ]
    if decision.rr_position is not None:
        _RR_POSITION.execute(agent_id=decision.rr_position, queue=decision.queue)
    return offers


def record(decision: routing.Decision, now: dt.datetime, text: str | None = None) -> None:
    """Store the decision with its reason and the agents it looked at (``text``: their JSON,
    when the caller made it already)."""
    _DECISION.execute(
        item_id=decision.item_id,
        agent_id=decision.agent_id,
        strategy=decision.strategy,
        reason=decision.reason,
        candidates=candidates_json(decision) if text is None else text,
        now=now,
        action=decision.action,
        step=decision.step,
    )


def latest(item_ids: list[int]) -> dict[int, tuple[int | None, str, str, str]]:
    """Interaction id -> its latest stored decision's agent, step, reason and candidates (JSON)."""
    return {row[0]: row[1:] for row in _LATEST.rows(item_ids)}


# Candidate -> its JSON. A decision lists up to 50 agents and most come again and again (the
# same agent, busy, in decision after decision): each is encoded once, not at every decision.
_ENCODED: dict[routing.Candidate, str] = {}
_ENCODED_MOST = 20_000


def candidates_json(decision: routing.Decision) -> str:
    """The decision's candidates as JSONField stores them (``json.dumps(..., sort_keys=True)``
    of the list: its items' texts joined by ", ")."""
    encoded = _ENCODED
    parts = []
    for c in decision.candidates:
        text = encoded.get(c)
        if text is None:
            if len(encoded) >= _ENCODED_MOST:
                encoded.clear()
            text = encoded[c] = json.dumps(_candidate(c), sort_keys=True)
        parts.append(text)
    return "[" + ", ".join(parts) + "]"


def _candidate(c: routing.Candidate) -> dict:
    return {
        "agent_id": c.agent_id,
        "name": c.name,
        "eligible": c.eligible,
        "reason": c.reason,
        "score": c.score,
    }
