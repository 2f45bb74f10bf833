"""Glue between the store and the routing brain (``callyard.routing``).

The brain is an in-memory index of agents and waiting work. It is built from the store at the
first round (and again every ``resync_seconds``, which also picks up changes made by other
processes, like the CLI); between builds, bus events mark which interactions and agents
changed, and a round re-reads only those and lets the brain re-plan only them. Each round:
time out stale offers, put agents who keep missing offers on "not-ready", feed the brain what
changed and what time did (escalation, hours), and turn its decisions into offers, overflows
and timeouts, each stored with its reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from peewee import fn

from .. import routing
from ..bus import Bus
from ..clock import Clock
from ..events import (
    AgentMarkedNotReady,
    CallStateChanged,
    Event,
    InteractionCreated,
    InteractionOffered,
    InteractionOverflowed,
    MessageCreated,
    MessageDeliveryFailed,
    OutboxItemAdded,
)
from ..models import (
    OFFERED,
    QUEUED,
    Agent,
    AgentSkill,
    Interaction,
    Offer,
    Queue,
    RoutingDecision,
    StateChange,
)
from ..store import Store
from .agents import AgentService
from .interactions import InteractionService
from .notifier import Notifier
from .offers import end_offer
from .queue_rules import queue_rules
from .routing_snapshot import StoreWatch, agent_states, work_items

log = logging.getLogger(__name__)

# Events that change nothing the brain looks at.
IGNORED = (InteractionOffered, InteractionCreated, MessageCreated, MessageDeliveryFailed, OutboxItemAdded)
# A call's state is for the inbox; the interaction's own events tell routing what it needs.
IGNORED = (*IGNORED, CallStateChanged)
NOT_READY = "not-ready"
VOICE = "voice"  # the channel whose offers its controller ends (see _expire_offers)


class RouterService:
    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        clock: Clock,
        interactions: InteractionService,
        agents: AgentService | None = None,
        *,
        offer_timeout: int,
        max_no_answer: int = 3,
        blocks: dict[str, list[str]] | None = None,
        resync_seconds: float = 60.0,
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._interactions = interactions
        self._agents = agents
        self._offer_timeout = dt.timedelta(seconds=offer_timeout)
        self._max_no_answer = max_no_answer
        self._blocks = (
            routing.DEFAULT_BLOCKS if blocks is None else {k: frozenset(v) for k, v in blocks.items()}
        )
        self._resync = dt.timedelta(seconds=resync_seconds)
        # One round at a time in this process.
        self._lock = threading.Lock()
        self._brain: routing.Brain | None = None
        self._built_at: dt.datetime | None = None
        # Filled by bus events (any greenlet), emptied by the round that reads them.
        self._dirty_items: set[int] = set()
        self._dirty_agents: set[int] = set()
        self._watch = StoreWatch()

    def watch(self, bus: Bus) -> None:
        """Follow the bus, so a round re-reads only what changed."""
        bus.subscribe(self._changed)

    def _changed(self, event: Event) -> None:
        if isinstance(event, IGNORED):
            return
        interaction_id = getattr(event, "interaction_id", None)
        agent_id = getattr(event, "agent_id", None)
        if interaction_id is not None:
            self._dirty_items.add(interaction_id)
        if agent_id is not None:
            self._dirty_agents.add(agent_id)
        # A transfer frees the agent who handed the work on (InteractionTransferred).
        from_agent_id = getattr(event, "from_agent_id", None)
        if from_agent_id is not None:
            self._dirty_agents.add(from_agent_id)

    def invalidate(self) -> None:
        """Rebuild the index from the store at the next round."""
        self._brain = None

    # -- a round ---------------------------------------------------------------------------

    def route(self, now: dt.datetime | None = None, *, chores: bool = True) -> list[routing.Decision]:
        """One round. ``chores`` (expired offers, agents to set not-ready, wrap-ups that are
        over) are what time does; a round woken by an event (a call entered a queue) can skip
        them: under load such rounds come dozens of times a second, and each chore costs
        queries that find nothing new since the last tick."""
        now = now or self._clock()
        with self._lock:
            if chores:
                self._expire_offers(now)
                self._mark_not_ready()
                self._interactions.close_expired_wrap_ups(now)
            if self._brain is None or self._built_at is None or now - self._built_at >= self._resync:
                decisions = self._rebuild(now)
            else:
                self._watch.changed_since(self._dirty_items, self._dirty_agents)
                decisions = self._sync(now)
                if decisions is None:  # something the index does not know (a new queue)
                    decisions = self._rebuild(now)
                else:
                    decisions += self._brain.tick(now)
            self._apply(decisions, now)
            return decisions

    def _expire_offers(self, now: dt.datetime) -> None:
        expired = (
            Offer.select(Offer, Interaction.id, Interaction.channel)
            .join(Interaction)
            .where(Offer.state == "pending", Offer.expires_at <= now)
        )
        # Every round asks and most have nothing expired: no write lock (SQLite's BEGIN
        # IMMEDIATE) is taken for nothing; end_offer itself ends only a still pending offer.
        if not expired.exists():
            return
        events: list[Event] = []
        with self._store.atomic():
            for offer in expired:
                # A call's offer ends when the agent's phone answers or gives up, which the voice
                # controller reports (a phone nobody answers puts its agent on break). One that
                # times out here is one the controller did not get to in time (overloaded, or
                # not running): not the agent's miss, so no cascade of agents to "not-ready".
                missed = offer.interaction.channel != VOICE
                events += end_offer(offer, now, "expired", "offer timed out", missed=missed)
            self._notifier.publish(events)

    def _mark_not_ready(self) -> None:
        """Agents who let ``max_no_answer`` offers in a row time out go on break "not-ready"
        (their other offers move on), and supervisors are told."""
        if not self._max_no_answer or self._agents is None:
            return
        missing = Agent.select().where(
            Agent.missed_offers >= self._max_no_answer, Agent.presence == "available"
        )
        for agent in list(missing):
            log.warning(
                "agent %s let %d offers in a row time out: set to break (%s)",
                agent.login,
                agent.missed_offers,
                NOT_READY,
            )
            self._agents.set_presence(agent.id, "break", NOT_READY)
            Agent.update(missed_offers=0).where(Agent.id == agent.id).execute()
            self._notifier.publish([AgentMarkedNotReady(agent.id, agent.missed_offers)])

    # -- the index -------------------------------------------------------------------------

    def _poll_store(self) -> None:
        """Catch changes no event told this process about (the CLI, another process): rows
        changed since the newest change already seen. A full rebuild every resync_seconds is
        the safety net for what this misses (clocks of other machines running behind)."""
        marks = self._marks
        for r in Interaction.select(Interaction.id, Interaction.agent, Interaction.updated_at).where(
            Interaction.updated_at > marks["interaction"]
        ):
            self._dirty_items.add(r.id)
            if r.agent_id is not None:
                self._dirty_agents.add(r.agent_id)
            marks["interaction"] = max(marks["interaction"], r.updated_at)
        for o in Offer.select(Offer.interaction, Offer.agent, Offer.decided_at).where(
            Offer.decided_at > marks["offer"]
        ):
            self._dirty_items.add(o.interaction_id)
            self._dirty_agents.add(o.agent_id)
            marks["offer"] = max(marks["offer"], o.decided_at)
        for a in Agent.select(Agent.id, Agent.presence_since).where(Agent.presence_since > marks["agent"]):
            self._dirty_agents.add(a.id)
            marks["agent"] = max(marks["agent"], a.presence_since)

    def _mark_now(self) -> None:
        epoch = dt.datetime(1970, 1, 1)
        self._marks = {
            "interaction": Interaction.select(fn.MAX(Interaction.updated_at)).scalar() or epoch,
            "offer": Offer.select(fn.MAX(Offer.decided_at)).scalar() or epoch,
            "agent": Agent.select(fn.MAX(Agent.presence_since)).scalar() or epoch,
        }

    def _rebuild(self, now: dt.datetime) -> list[routing.Decision]:
        self._dirty_items.clear()
        self._dirty_agents.clear()
        self._watch.mark_now()
        queues = list(Queue.select())
        brain = routing.Brain(
            [queue_rules(q) for q in queues],
            blocks=self._blocks,
            rr_positions={q.name: q.rr_position for q in queues if q.rr_position is not None},
            explain=True,
        )
        agents = agent_states(None, now)
        for state in agents.values():
            brain.set_agent(state)
        items = work_items(None)
        for item in items.values():
            brain.hold_item(item, now)
        self._brain, self._built_at = brain, now
        log.debug("routing index built: %d agents, %d waiting", len(agents), len(items))
        return brain.plan(now)

    def _sync(self, now: dt.datetime) -> list[routing.Decision] | None:
        brain = self._brain
        assert brain is not None
        item_ids, self._dirty_items = self._dirty_items, set()
        agent_ids, self._dirty_agents = self._dirty_agents, set()
        decisions: list[routing.Decision] = []
        # agents first: one who just left (break, offline) must not be offered requeued work
        if agent_ids:
            states = agent_states(agent_ids, now)
            for agent_id in sorted(agent_ids):
                if agent_id in states:
                    decisions += brain.update_agent(states[agent_id], now)
                else:
                    brain.remove_agent(agent_id)
        if item_ids:
            items = work_items(item_ids)
            if any(item.queue not in brain.queues for item in items.values()):
                return None
            for item_id in sorted(item_ids):
                if item_id in items:
                    decisions += brain.add_item(items[item_id], now)
                else:
                    brain.remove_item(item_id)
        return decisions

    # -- decisions into the store ------------------------------------------------------------

    def _apply(self, decisions: list[routing.Decision], now: dt.datetime) -> None:
        self._record_waiting([d for d in decisions if d.action == routing.WAIT], now)
        for decision in decisions:
            # Each offer is published as soon as it is committed: its phone is dialled (the
            # voice controller listens) before the round writes the next offers, not after all.
            if decision.action == routing.OFFER:
                self._offer(decision, now)
            elif decision.action == routing.OVERFLOW:
                self._notifier.publish(self._overflow(decision, now))
            elif decision.action in (routing.TIMEOUT, routing.AFTER_HOURS):
                self._time_out(decision, now)

    def _stale(self, decision: routing.Decision) -> None:
        """The store changed since the brain looked: re-read this item and these agents."""
        self._dirty_items.add(decision.item_id)
        self._dirty_agents.update(decision.agent_ids)

    def _offer(self, decision: routing.Decision, now: dt.datetime) -> None:
        """Offer the item as decided, and publish the offers in the same transaction."""
        events: list[Event] = []
        strategy = routing.STRATEGIES[decision.strategy]
        alone = len(decision.agent_ids) == 1 and strategy.offers == "one"
        with self._store.atomic():
            row = (
                Interaction.select(Interaction, Queue)
                .join(Queue)
                .where(Interaction.id == decision.item_id)
                .first()
            )
            ready = (
                Agent.select()
                .where(
                    Agent.id.in_(decision.agent_ids),
                    Agent.presence == "available",
                    Agent.enabled == True,  # noqa: E712 - peewee expression
                )
                .count()
            )
            if row is None or row.queue.name != decision.queue or ready != len(decision.agent_ids):
                self._stale(decision)
                return
            if row.state == QUEUED:
                offered = (
                    Interaction.update(
                        state=OFFERED, agent=decision.agent_ids[0] if alone else None, updated_at=now
                    )
                    .where(Interaction.id == row.id, Interaction.state == QUEUED)
                    .execute()
                )
                if not offered:
                    self._stale(decision)
                    return
                StateChange.create(
                    interaction=row.id,
                    from_state=QUEUED,
                    to_state=OFFERED,
                    agent=decision.agent_ids[0] if alone else None,
                    at=now,
                )
            elif not (row.state == OFFERED and strategy.offers == "progressive"):
                self._stale(decision)
                return
            for agent_id in decision.agent_ids:
                offer = Offer.create(
                    interaction=row.id,
                    agent=agent_id,
                    state="pending",
                    created_at=now,
                    expires_at=now + self._offer_timeout,
                )
                events.append(InteractionOffered(row.id, agent_id, offer.id, offer.expires_at))
            if decision.rr_position is not None:
                Queue.update(rr_position=decision.rr_position).where(Queue.id == row.queue_id).execute()
            self._record(decision, now)
            self._notifier.publish(events)  # in the offer's transaction: webhooks' deliveries with it

    def _overflow(self, decision: routing.Decision, now: dt.datetime) -> list[Event]:
        with self._store.atomic():
            target = Queue.get_or_none(Queue.name == decision.target_queue)
            moved = target is not None and (
                Interaction.update(queue=target.id, queue_since=now, updated_at=now)
                .where(Interaction.id == decision.item_id, Interaction.state == QUEUED)
                .execute()
            )
            if not moved:
                self._stale(decision)
                return []
            self._record(decision, now)
        log.info(
            "interaction %d overflowed from %s to %s", decision.item_id, decision.queue, decision.target_queue
        )
        return [InteractionOverflowed(decision.item_id, decision.queue, decision.target_queue or "")]

    def _time_out(self, decision: routing.Decision, now: dt.datetime) -> None:
        with self._store.atomic():
            self._record(decision, now)
        action = decision.timeout_action or "close"
        if not self._interactions.time_out(decision.item_id, action, decision.message, decision.reason):
            self._stale(decision)

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
            or last.step != d.step
            or last.reason != d.reason
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
            action=decision.action,
            step=decision.step,
        )

    # -- queues nobody can serve -------------------------------------------------------------

    def report_unservable(self) -> dict[str, str]:
        """Log every queue no agent could ever serve (at start), and return them."""
        found = unservable_queues()
        for name, why in sorted(found.items()):
            log.warning("queue %s: nobody can serve it: %s", name, why)
        return found


def unservable_queues() -> dict[str, str]:
    """Queue name -> why no enabled agent could ever take its work (see routing.unservable)."""
    skills: dict[int, dict[str, int]] = {
        a.id: {}
        for a in Agent.select(Agent.id).where(Agent.enabled == True)  # noqa: E712
    }
    for s in AgentSkill.select().where(AgentSkill.agent.in_(list(skills))):
        skills[s.agent_id][s.skill] = s.level
    return routing.unservable([queue_rules(q) for q in Queue.select()], skills.values())


def _candidates(decision: routing.Decision) -> list[dict]:
    return [
        {
            "agent_id": c.agent_id,
            "name": c.name,
            "eligible": c.eligible,
            "reason": c.reason,
            "score": c.score,
        }
        for c in decision.candidates
    ]
