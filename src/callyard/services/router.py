"""Glue between the store and the routing brain (``callyard.routing``).

The brain is an in-memory index of agents and waiting work. It is built from the store at the
first round (and again when the queues' rules change); after that, bus events and a watch on
the store (changes made by other processes, like the CLI) mark which interactions and agents
changed, and a round re-reads only those and lets the brain re-plan only them. Every
``resync_seconds`` all of them are read again, a slice a round, for what nothing told of. Each round
feeds the brain what changed and what time did (escalation, hours), and turns its decisions
into offers, overflows and timeouts, each stored with its reason. Time's chores (offers that
timed out, agents who keep missing offers, wrap-ups that are over) are done apart from the
rounds, a step at a time (``chores``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

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
    QUEUED,
    Agent,
    AgentSkill,
    Interaction,
    Offer,
    Queue,
)
from ..store import Store
from . import routing_record
from .agents import AgentService
from .interactions import InteractionService
from .notifier import Notifier
from .offers import end_offer
from .queue_rules import queue_rules
from .routing_snapshot import StoreWatch, agent_states, waiting_ids, work_items

log = logging.getLogger(__name__)

# Events that change nothing the brain looks at.
IGNORED = (InteractionOffered, InteractionCreated, MessageCreated, MessageDeliveryFailed, OutboxItemAdded)
# A call's state is for the inbox; the interaction's own events tell routing what it needs.
IGNORED = (*IGNORED, CallStateChanged)
NOT_READY = "not-ready"
VOICE = "voice"  # the channel whose offers its controller ends (see _expire_offers)
# Agents, and waiting items, read again per round while a resync pass goes on: about a
# millisecond's work a round (2,000 agents: 100 rounds, a few seconds under load).
RESYNC_SLICE = 20


def _nothing() -> None:
    pass


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
        # What the resync pass in progress has still to read again, the next last (see _resync_slice).
        self._pass_agents: list[int] = []
        self._pass_items: list[int] = []

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
        """One round, after time's :meth:`chores` unless ``chores`` is false. The server does
        its chores in a greenlet of their own, and its rounds (dozens a second under load,
        woken by calls entering queues) skip them."""
        now = now or self._clock()
        if chores:
            self.chores(now)
        with self._lock:
            if self._brain is None or self._built_at is None or not self._resync_slice(now):
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

    def chores(self, now: dt.datetime | None = None, between: Callable[[], None] = _nothing) -> None:
        """What time does: offers that timed out end, agents who keep missing offers go on
        "not-ready", wrap-ups that are over close. Each in a transaction of its own, with
        ``between`` called after each: the server passes a yield there, so a call that enters a
        queue meanwhile is routed after one of them, not after all of them (at 50 calls/s, 50
        wrap-ups fall due every second; done in one go, the voice benchmark's p99 was chores).
        What they change reaches the next round through the bus, like any other writer's."""
        now = now or self._clock()
        self._expire_offers(now, between)
        self._mark_not_ready(between)
        self._interactions.close_expired_wrap_ups(now, between)

    def _expire_offers(self, now: dt.datetime, between: Callable[[], None]) -> None:
        expired = (
            Offer.select(Offer, Interaction.id, Interaction.channel)
            .join(Interaction)
            .where(Offer.state == "pending", Offer.expires_at <= now)
        )
        # Every tick asks and most find nothing: no write lock (SQLite's BEGIN IMMEDIATE) is
        # taken for nothing; end_offer itself ends only a still pending offer.
        for offer in list(expired):
            with self._store.atomic():
                # A call's offer ends when the agent's phone answers or gives up, which the voice
                # controller reports (a phone nobody answers puts its agent on break). One that
                # times out here is one the controller did not get to in time (overloaded, or
                # not running): not the agent's miss, so no cascade of agents to "not-ready".
                missed = offer.interaction.channel != VOICE
                self._notifier.publish(end_offer(offer, now, "expired", "offer timed out", missed=missed))
            between()

    def _mark_not_ready(self, between: Callable[[], None]) -> None:
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
            between()

    # -- the index -------------------------------------------------------------------------

    def _resync_slice(self, now: dt.datetime) -> bool:
        """The safety net for changes nothing told this process of: every ``resync_seconds``
        every agent and waiting item is read again, ``RESYNC_SLICE`` of each a round (marked
        changed, the round re-reads them). Rebuilding the index in one go instead held the
        loop ~80 ms with 2,000 agents, every push and call waiting meanwhile. A pass starts by
        comparing the queues' rules with the index's: False when they changed (a queue edited
        by another process), and the index is rebuilt."""
        brain = self._brain
        assert brain is not None and self._built_at is not None
        if not self._pass_agents and not self._pass_items:
            if now - self._built_at < self._resync:
                return True
            if {q.name: queue_rules(q) for q in Queue.select()} != brain.queues:
                return False
            self._built_at = now
            stored = {agent_id for (agent_id,) in Agent.select(Agent.id).tuples()}  # tuples: no 2,000 models
            self._pass_agents = sorted(stored | brain.agent_ids(), reverse=True)
            self._pass_items = sorted(waiting_ids() | brain.item_ids(), reverse=True)
        for pending, dirty in (
            (self._pass_agents, self._dirty_agents),
            (self._pass_items, self._dirty_items),
        ):
            for _ in range(min(RESYNC_SLICE, len(pending))):
                dirty.add(pending.pop())
        return True

    def _rebuild(self, now: dt.datetime) -> list[routing.Decision]:
        self._dirty_items.clear()
        self._dirty_agents.clear()
        self._pass_agents, self._pass_items = [], []
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
        expires_at = now + self._offer_timeout
        with self._store.atomic():
            taken = routing_record.take(decision, now)
            if taken is None:
                self._stale(decision)
                return
            offers = routing_record.add_offers(decision, now, expires_at)
            routing_record.record(decision, now)
            self._notifier.publish(  # in the offer's transaction: webhooks' deliveries with it
                [
                    InteractionOffered(decision.item_id, agent_id, offer_id, expires_at)
                    for agent_id, offer_id in zip(decision.agent_ids, offers, strict=True)
                ]
            )
        if taken == routing_record.TAKEN:
            # Committed: the watch need not report this change back (the brain made it).
            self._watch.wrote(decision.item_id, now)

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
            routing_record.record(decision, now)
        log.info(
            "interaction %d overflowed from %s to %s", decision.item_id, decision.queue, decision.target_queue
        )
        return [InteractionOverflowed(decision.item_id, decision.queue, decision.target_queue or "")]

    def _time_out(self, decision: routing.Decision, now: dt.datetime) -> None:
        with self._store.atomic():
            routing_record.record(decision, now)
        action = decision.timeout_action or "close"
        if not self._interactions.time_out(decision.item_id, action, decision.message, decision.reason):
            self._stale(decision)

    def _record_waiting(self, decisions: list[routing.Decision], now: dt.datetime) -> None:
        """Store "nobody could take it" once per wait, not on every round: only when it differs
        from the item's latest decision. One query and one transaction for the whole round."""
        if not decisions:
            return
        latest = routing_record.latest(sorted({d.item_id for d in decisions}))
        changed = []
        for d in decisions:
            # JSON compared as text: both sides are written the same way (keys sorted)
            text = routing_record.candidates_json(d)
            last = latest.get(d.item_id)
            if last is None or last != (None, d.step, d.reason, text):
                changed.append((d, text))
        if changed:
            with self._store.atomic():
                for decision, text in changed:
                    routing_record.record(decision, now, text)

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
