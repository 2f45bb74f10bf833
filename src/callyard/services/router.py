"""Glue between the store and the pure routing brain (``callyard.routing``).

Each round: time out stale offers, build a snapshot of waiting work and agents, ask the brain,
and turn its decisions into offers, each stored with its reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import defaultdict

from peewee import fn

from .. import routing
from ..clock import Clock
from ..events import Event, InteractionOffered
from ..models import (
    ACTIVE,
    OFFERED,
    QUEUED,
    WRAP_UP,
    Agent,
    AgentCapacity,
    AgentSkill,
    Interaction,
    Offer,
    Queue,
    RoutingDecision,
    StateChange,
)
from ..store import Store
from .interactions import InteractionService
from .notifier import Notifier
from .offers import end_offer

log = logging.getLogger(__name__)

LOADED_STATES = (OFFERED, ACTIVE, WRAP_UP)


class RouterService:
    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        clock: Clock,
        interactions: InteractionService,
        *,
        offer_timeout: int,
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._interactions = interactions
        self._offer_timeout = dt.timedelta(seconds=offer_timeout)
        # One round at a time in this process; rounds are cheap and idempotent.
        self._lock = threading.Lock()

    def route(self, now: dt.datetime | None = None) -> list[routing.Decision]:
        now = now or self._clock()
        with self._lock:
            self._expire_offers(now)
            self._interactions.close_expired_wrap_ups(now)
            items = self._waiting_work()
            if not items:
                return []
            decisions = routing.plan(items, self._agents(), now)
            self._apply(decisions, now)
            return decisions

    def _expire_offers(self, now: dt.datetime) -> None:
        events: list[Event] = []
        with self._store.atomic():
            for offer in Offer.select().where(Offer.state == "pending", Offer.expires_at <= now):
                events += end_offer(offer, now, "expired", "offer timed out")
        self._notifier.publish(events)

    def _waiting_work(self) -> list[routing.WorkItem]:
        rows = list(Interaction.select(Interaction, Queue).join(Queue).where(Interaction.state == QUEUED))
        tried: dict[int, set[int]] = defaultdict(set)
        if rows:
            ids = [r.id for r in rows]
            for offer in Offer.select(Offer.interaction, Offer.agent).where(
                Offer.interaction.in_(ids), Offer.state.in_(("expired", "rejected", "withdrawn"))
            ):
                tried[offer.interaction_id].add(offer.agent_id)
        return [
            routing.WorkItem(
                id=r.id,
                channel=r.channel,
                queue=r.queue.name,
                strategy=r.queue.strategy,
                required_skills=dict(r.queue.skills),
                queue_priority=r.queue.priority,
                priority=r.priority,
                waiting_since=r.queued_at or r.created_at,
                tried_agents=frozenset(tried[r.id]),
            )
            for r in rows
        ]

    def _agents(self) -> list[routing.AgentState]:
        agents = list(Agent.select().where(Agent.enabled == True))  # noqa: E712 - peewee expression
        skills: dict[int, dict[str, int]] = defaultdict(dict)
        for s in AgentSkill.select():
            skills[s.agent_id][s.skill] = s.level
        capacity: dict[int, dict[str, int]] = defaultdict(dict)
        for c in AgentCapacity.select():
            capacity[c.agent_id][c.channel] = c.max_load
        load: dict[int, dict[str, int]] = defaultdict(dict)
        for i in Interaction.select(Interaction.agent, Interaction.channel).where(
            Interaction.state.in_(LOADED_STATES), Interaction.agent.is_null(False)
        ):
            load[i.agent_id][i.channel] = load[i.agent_id].get(i.channel, 0) + 1
        return [
            routing.AgentState(
                id=a.id,
                name=a.name,
                presence=a.presence,
                skills=skills[a.id],
                capacity=capacity[a.id],
                load=load[a.id],
                idle_since=a.idle_since,
            )
            for a in agents
        ]

    def _apply(self, decisions: list[routing.Decision], now: dt.datetime) -> None:
        self._record_waiting([d for d in decisions if d.agent_id is None], now)
        events: list[Event] = []
        for decision in decisions:
            if decision.agent_id is None:
                continue
            with self._store.atomic():
                offered = (
                    Interaction.update(state=OFFERED, agent=decision.agent_id, updated_at=now)
                    .where(Interaction.id == decision.item_id, Interaction.state == QUEUED)
                    .execute()
                )
                if not offered:  # taken or closed since the snapshot
                    continue
                StateChange.create(
                    interaction=decision.item_id,
                    from_state=QUEUED,
                    to_state=OFFERED,
                    agent=decision.agent_id,
                    at=now,
                )
                offer = Offer.create(
                    interaction=decision.item_id,
                    agent=decision.agent_id,
                    state="pending",
                    created_at=now,
                    expires_at=now + self._offer_timeout,
                )
                self._record(decision, now)
                events.append(
                    InteractionOffered(decision.item_id, decision.agent_id, offer.id, offer.expires_at)
                )
        self._notifier.publish(events)

    def _record_waiting(self, decisions: list[routing.Decision], now: dt.datetime) -> None:
        """Store "nobody could take it" once per wait, not on every round: only when it differs
        from the item's latest decision. One query and one transaction for the whole round."""
        if not decisions:
            return
        latest_ids = (
            RoutingDecision.select(fn.MAX(RoutingDecision.id))
            .where(RoutingDecision.interaction.in_([d.item_id for d in decisions]))
            .group_by(RoutingDecision.interaction)
        )
        latest = {
            d.interaction_id: d for d in RoutingDecision.select().where(RoutingDecision.id.in_(latest_ids))
        }
        changed = [
            d
            for d in decisions
            if (last := latest.get(d.item_id)) is None
            or last.agent_id is not None
            or last.candidates != _candidates(d)
        ]
        if changed:
            with self._store.atomic():
                for decision in changed:
                    self._record(decision, now)

    @staticmethod
    def _record(decision: routing.Decision, now: dt.datetime) -> None:
        RoutingDecision.create(
            interaction=decision.item_id,
            agent=decision.agent_id,
            strategy=decision.strategy,
            reason=decision.reason,
            candidates=_candidates(decision),
            created_at=now,
        )


def _candidates(decision: routing.Decision) -> list[dict]:
    return [
        {"agent_id": c.agent_id, "name": c.name, "eligible": c.eligible, "reason": c.reason}
        for c in decision.candidates
    ]
