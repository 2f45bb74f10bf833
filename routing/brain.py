"""The incremental routing brain: an in-memory index of agents and waiting work.

Agents who can take work now are kept, per (ordering, channel, skill), in a list sorted the
way the queues' strategies want them (``index.py``); waiting items are kept per (queue,
channel) in priority and arrival order (``waiting.py``). An event only re-plans what it changed:

- ``add_item``: a new (or requeued) item is placed at once, or waits;
- ``update_agent``: an agent who frees up (or changes) takes the most urgent work they qualify
  for; if somebody else is a better match by the strategy, that agent gets it instead;
- ``tick``: escalation steps that came due, queues that opened or closed, ring-progressively;
- ``plan``: everything waiting, most urgent first (at start).

Each decision that offers work updates the index at once (the agent's load, the queue's
round-robin position), so a batch of decisions never over-fills an agent. The brain holds no
clock: ``now`` is passed in.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Iterator, Mapping

from sortedcontainers import SortedList

from . import escalation as esc
from .eligibility import DEFAULT_BLOCKS, lacks, skill_gap
from .explain import EXPLAIN_LIMIT, explain, score, score_text
from .hours import is_open
from .index import SECOND, AgentIndex, IndexedAgent
from .model import (
    AFTER_HOURS,
    OFFER,
    OVERFLOW,
    TIMEOUT,
    WAIT,
    AgentState,
    Candidate,
    Decision,
    QueueRules,
    WorkItem,
)
from .strategies import ALL, CONTACTS, PROGRESSIVE, STRATEGIES, Strategy
from .waiting import Waiting

# Walked agents recorded in a decision; Brain(explain=True) lists more (up to EXPLAIN_LIMIT).
WALK_RECORD = 20


class Brain:
    def __init__(
        self,
        queues: Iterable[QueueRules],
        *,
        blocks: Mapping[str, frozenset[str]] = DEFAULT_BLOCKS,
        rr_positions: Mapping[str, int] | None = None,
        seed: int = 0,
        explain: bool = False,
    ) -> None:
        self.queues: dict[str, QueueRules] = {}
        for q in queues:
            if q.strategy not in STRATEGIES:
                raise ValueError(f"queue {q.name!r}: unknown strategy {q.strategy!r}")
            self.queues[q.name] = q
        self._explain = explain
        self._rng = random.Random(seed)
        self._index = AgentIndex({STRATEGIES[q.strategy].ordering for q in self.queues.values()}, blocks)
        self._waiting = Waiting(self.queues)
        # queue -> (order, id) of the agent round-robin served last
        self._rr: dict[str, tuple[int, int]] = {}
        self._rr_ids = dict(rr_positions or {})
        self._open: dict[str, bool] = {}
        levels = sorted({q.priority for q in self.queues.values()}, reverse=True)
        self._by_priority = [
            sorted(n for n, q in self.queues.items() if q.priority == level) for level in levels
        ]
        # the least any item of a queue can require (all steps applied, no extra skills)
        self._loosest = {n: esc.requirements(q, {}, len(q.escalation)) for n, q in self.queues.items()}
        self._req_cache: dict[tuple[str, int], dict[str, int]] = {}
        self._describe_cache: dict[tuple[str, int], str] = {}

    # -- what the brain holds --------------------------------------------------------------

    def waiting(self) -> list[WorkItem]:
        return list(self._waiting.items.values())

    def agent_ids(self) -> set[int]:
        return set(self._index.agents)

    def item_ids(self) -> set[int]:
        return set(self._waiting.items)

    def agent(self, agent_id: int) -> AgentState | None:
        a = self._index.agents.get(agent_id)
        return None if a is None else a.state

    def load_of(self, agent_id: int) -> dict[str, int]:
        a = self._index.agents.get(agent_id)
        return {} if a is None else dict(a.load)

    def rr_position(self, queue: str) -> int | None:
        pos = self._rr.get(queue)
        return pos[1] if pos else self._rr_ids.get(queue)

    # -- agents ----------------------------------------------------------------------------

    def update_agent(self, state: AgentState, now: dt.datetime) -> list[Decision]:
        """Add or refresh an agent; if they can take work, they take the most urgent they may."""
        self.set_agent(state)
        return self._serve_agent(state.id, now)

    def set_agent(self, state: AgentState) -> None:
        """Add or refresh an agent without planning (bulk loading before ``plan``)."""
        a, changed = self._index.set(state)
        if not changed:
            return
        a.servable = [
            [name for name in names if not lacks(state.skills, self._loosest[name])]
            for names in self._by_priority
        ]
        for queue, agent_id in list(self._rr_ids.items()):
            if agent_id == state.id:
                self._rr[queue] = (state.order, state.id)
                del self._rr_ids[queue]

    def remove_agent(self, agent_id: int) -> None:
        self._index.remove(agent_id)

    # -- items -----------------------------------------------------------------------------

    def add_item(self, item: WorkItem, now: dt.datetime) -> list[Decision]:
        """A new or requeued item: placed at once, or it waits."""
        self._waiting.hold(item, now)
        if item.ringing:
            return []
        return self._route(item.id, now)

    def hold_item(self, item: WorkItem, now: dt.datetime) -> None:
        """Add an item without planning (bulk loading before ``plan``)."""
        self._waiting.hold(item, now)

    def remove_item(self, item_id: int) -> None:
        self._waiting.remove(item_id)

    # -- planning --------------------------------------------------------------------------

    def plan(self, now: dt.datetime) -> list[Decision]:
        """Decide for every waiting item, most urgent first."""
        for name, queue in self.queues.items():
            self._open[name] = is_open(queue.hours, now)
        return self._route_all(list(self._waiting.items), now)

    def tick(self, now: dt.datetime) -> list[Decision]:
        """What time alone changes: escalation steps, opening hours, ring-progressively."""
        decisions: list[Decision] = []
        for name, queue in self.queues.items():
            if queue.hours is None:
                continue
            was, now_open = self._open.get(name), is_open(queue.hours, now)
            self._open[name] = now_open
            if was is None or was == now_open or (not now_open and queue.after_hours == "wait"):
                continue
            decisions += self._route_all(
                [i for i, it in self._waiting.items.items() if it.queue == name], now
            )
        due = self._waiting.due(now)
        for item_id in sorted(due, key=self._waiting.urgency):  # most urgent first, as always
            item = self._waiting.items.get(item_id)
            if item is None:
                continue
            decisions += self._route(item_id, now)
            if item_id in self._waiting.items:
                self._waiting.schedule(item, now)
        for item in list(self._waiting.ringing.values()):
            queue = self.queues[item.queue]
            if item.last_ring_at is not None and (now - item.last_ring_at) / SECOND >= queue.ring_interval:
                decisions += self._ring_next(item, now)
        return decisions

    def _route_all(self, item_ids: list[int], now: dt.datetime) -> list[Decision]:
        decisions: list[Decision] = []
        for item_id in sorted(item_ids, key=self._waiting.urgency):
            if item_id in self._waiting.items:
                decisions += self._route(item_id, now)
        return decisions

    def _requirements(self, queue: QueueRules, item: WorkItem, reached: int) -> dict[str, int]:
        if item.skills:
            return esc.requirements(queue, item.skills, reached)
        key = (queue.name, reached)
        req = self._req_cache.get(key)
        if req is None:
            req = self._req_cache[key] = esc.requirements(queue, {}, reached)
        return req

    def _describe(self, queue: QueueRules, reached: int) -> str:
        key = (queue.name, -1 - reached)
        text = self._describe_cache.get(key)
        if text is None:
            text = self._describe_cache[key] = esc.describe(queue, reached)
        return text

    def _is_open(self, queue: QueueRules, now: dt.datetime) -> bool:
        if queue.hours is None:
            return True
        state = self._open.get(queue.name)
        if state is None:
            state = self._open[queue.name] = is_open(queue.hours, now)
        return state

    def _route(self, item_id: int, now: dt.datetime) -> list[Decision]:
        item = self._waiting.items[item_id]
        queue = self.queues[item.queue]
        strategy = STRATEGIES[queue.strategy]
        if not self._is_open(queue, now):
            if queue.after_hours == "wait":
                return [self._decision(item, WAIT, "base", "queue closed (business hours); waits", now)]
            if item.timed_out:
                why = "queue closed (business hours); its after-hours action ran, it waits for an agent"
                return [self._decision(item, WAIT, "base", why, now)]
            self.remove_item(item.id)
            return [
                self._decision(
                    item,
                    AFTER_HOURS,
                    "base",
                    f"queue closed (business hours): {queue.after_hours}",
                    now,
                    timeout_action=queue.after_hours,
                    message=queue.after_hours_message,
                )
            ]
        reached = esc.step_index(queue, (now - item.in_queue_since) / SECOND)
        step = self._describe(queue, reached)
        required = self._requirements(queue, item, reached)

        sticky = self._sticky(item, queue, required, now)
        if sticky is not None:
            served = int((now - item.last_served_at) / SECOND) if item.last_served_at else 0
            reason = f"sticky: {sticky.state.name} served this contact {served}s ago"
            return [self._offer(item, queue, strategy, step, [sticky], reason, (), now)]

        picked, walked = self._pick(item, queue, strategy, required, item.ringing)
        if picked:
            first = picked[0]
            reason = f"{queue.strategy}: {first.state.name} {score_text(first, strategy, required, now)}"
            if len(picked) > 1:
                reason += f" and {len(picked) - 1} more rung at once"
            return [self._offer(item, queue, strategy, step, picked, reason, walked, now)]

        pending = esc.pending_action(queue, reached)
        if pending is not None and pending.overflow:
            self.remove_item(item.id)
            moved = WorkItem(
                id=item.id,
                channel=item.channel,
                queue=pending.overflow,
                priority=item.priority,
                waiting_since=item.waiting_since,
                queue_since=now,
                skills=item.skills,
                last_agent_id=item.last_agent_id,
                last_served_at=item.last_served_at,
                tried_agents=item.tried_agents,
                timed_out=item.timed_out,
            )
            out = [
                self._decision(
                    item,
                    OVERFLOW,
                    step,
                    f"nobody could take it; overflow to {pending.overflow}",
                    now,
                    walked,
                    target_queue=pending.overflow,
                )
            ]
            if pending.overflow in self.queues:
                out += self.add_item(moved, now)
            return out
        if pending is not None and pending.timeout and not item.timed_out:
            self.remove_item(item.id)
            return [
                self._decision(
                    item,
                    TIMEOUT,
                    step,
                    f"nobody could take it in time: {pending.timeout}",
                    now,
                    walked,
                    timeout_action=pending.timeout,
                    message=pending.message,
                )
            ]
        return [self._decision(item, WAIT, step, "no eligible agent", now, walked)]

    def _sticky(
        self, item: WorkItem, queue: QueueRules, required: Mapping[str, int], now: dt.datetime
    ) -> IndexedAgent | None:
        if not queue.sticky_seconds or item.last_agent_id is None or item.last_served_at is None:
            return None
        if (now - item.last_served_at) / SECOND > queue.sticky_seconds:
            return None
        a = self._index.agents.get(item.last_agent_id)
        if a is None or item.channel not in a.ready or a.state.id in item.ringing:
            return None
        if a.state.id in item.tried_agents or skill_gap(a.state.skills, required):
            return None
        return a

    def _walk_order(self, bucket: SortedList, queue: QueueRules, strategy: Strategy) -> Iterator[tuple]:
        if strategy.cyclic and bucket:
            pos = self._rr.get(queue.name)
            if pos is None and queue.name in self._rr_ids:
                pos = (0, self._rr_ids[queue.name])
            start = 0 if pos is None else bucket.bisect_right(pos)
        elif strategy.random_start and bucket:
            start = self._rng.randrange(len(bucket))
        else:
            return iter(bucket)
        return _chain(bucket.islice(start), bucket.islice(0, start))

    def _pick(
        self,
        item: WorkItem,
        queue: QueueRules,
        strategy: Strategy,
        required: Mapping[str, int],
        exclude: frozenset[int],
    ) -> tuple[list[IndexedAgent], tuple[Candidate, ...]]:
        ordering = strategy.ordering
        channel = item.channel
        bucket, bucket_skill = self._index.smallest(ordering, channel, required)
        if not bucket:
            return [], ()
        agents = self._index.agents
        tried = item.tried_agents
        need_check = len(required) > 1 or any(level > 1 for level in required.values())
        bucket_key = (ordering, channel, bucket_skill)
        contacts = ordering == CONTACTS
        while True:
            walked: list[Candidate] = []
            chosen: list[IndexedAgent] = []
            chosen_entry: tuple | None = None
            deferred: list[IndexedAgent] = []
            best: tuple | None = None
            stale: list[tuple] = []
            moved: list[tuple] = []
            for entry in self._walk_order(bucket, queue, strategy):
                agent_id = entry[-1]
                a = agents[agent_id]
                if channel not in a.ready:
                    stale.append(entry)
                    continue
                if contacts and entry[0] != a.contacts:
                    moved.append(entry)  # took work since it was filed: re-filed below
                    continue
                if agent_id in exclude:
                    continue
                if need_check:
                    gap = skill_gap(a.state.skills, required)
                    if gap:
                        if len(walked) < WALK_RECORD:
                            walked.append(Candidate(agent_id, a.state.name, False, gap))
                        continue
                if strategy.offers == ALL:
                    chosen.append(a)
                    continue
                if agent_id in tried:
                    deferred.append(a)
                    continue
                if strategy.best_skill:
                    score = sum(a.state.skills.get(s, 0) for s in required)
                    rank = (-score, a.idle_ts, agent_id)
                    if best is None or rank < best[0]:
                        best = (rank, a)
                    # the walk goes down the level on one skill: stop once nobody further on
                    # can reach the best score (a tie could still win on idle time)
                    if -entry[0] + 10 * (len(required) - 1) < -best[0][0]:
                        break
                    continue
                chosen.append(a)
                chosen_entry = entry
                break
            # Entries are dropped or re-filed lazily, by the walks that meet them: an offer
            # then costs the brain nearly nothing, and lists nobody walks are never touched.
            self._index.drop(bucket_key, stale)
            refiled = self._index.refile(bucket_key, moved)
            if refiled and (chosen_entry is None or any(f < chosen_entry for f in refiled)):
                continue  # a re-filed agent may now come first: walk again (keys are fresh now)
            break
        if best is not None:
            chosen = [best[1]]
        if not chosen and deferred:
            chosen = [deferred[0]]
        return chosen, tuple(walked)

    def _offer(
        self,
        item: WorkItem,
        queue: QueueRules,
        strategy: Strategy,
        step: str,
        picked: list[IndexedAgent],
        reason: str,
        walked: tuple[Candidate, ...],
        now: dt.datetime,
    ) -> Decision:
        ids = tuple(a.state.id for a in picked)
        if self._explain:
            walked = self.explain(item, now, chosen=ids)
        else:
            chosen = {a.state.id for a in picked}
            required = self._requirements(
                queue, item, esc.step_index(queue, (now - item.in_queue_since) / SECOND)
            )
            walked = tuple(
                Candidate(a.state.id, a.state.name, True, "chosen", score(a, strategy, required, now))
                for a in picked
            ) + tuple(c for c in walked if c.agent_id not in chosen)
        if strategy.offers == PROGRESSIVE:
            self.remove_item(item.id)
            ringing = WorkItem(
                id=item.id,
                channel=item.channel,
                queue=item.queue,
                priority=item.priority,
                waiting_since=item.waiting_since,
                queue_since=item.queue_since,
                skills=item.skills,
                tried_agents=item.tried_agents,
                ringing=item.ringing | set(ids),
                last_ring_at=now,
            )
            self._waiting.ringing[item.id] = ringing
        else:
            self.remove_item(item.id)
        for a in picked:
            self._index.took(a, item.channel)
        rr = None
        if strategy.cyclic:
            last = picked[-1].state
            self._rr[queue.name] = (last.order, last.id)
            rr = last.id
        return Decision(
            item_id=item.id,
            action=OFFER,
            queue=item.queue,
            strategy=queue.strategy,
            step=step,
            reason=reason,
            agent_ids=ids,
            candidates=walked,
            rr_position=rr,
        )

    def _ring_next(self, item: WorkItem, now: dt.datetime) -> list[Decision]:
        queue = self.queues[item.queue]
        strategy = STRATEGIES[queue.strategy]
        reached = esc.step_index(queue, (now - item.in_queue_since) / SECOND)
        required = self._requirements(queue, item, reached)
        picked, walked = self._pick(item, queue, strategy, required, item.ringing)
        picked = [a for a in picked if a.state.id not in item.tried_agents]
        if not picked:
            return []
        first = picked[0]
        reason = f"{queue.strategy}: {first.state.name} rung as well, position {first.state.order}"
        return [
            self._offer(item, queue, strategy, self._describe(queue, reached), picked, reason, walked, now)
        ]

    def _decision(
        self,
        item: WorkItem,
        action: str,
        step: str,
        reason: str,
        now: dt.datetime,
        walked: tuple[Candidate, ...] = (),
        **extra: object,
    ) -> Decision:
        if self._explain:
            walked = self.explain(item, now)
        return Decision(
            item_id=item.id,
            action=action,
            queue=item.queue,
            strategy=self.queues[item.queue].strategy,
            step=step,
            reason=reason,
            candidates=walked,
            **extra,  # type: ignore[arg-type]
        )

    # -- agents who free up ----------------------------------------------------------------

    def _serve_agent(self, agent_id: int, now: dt.datetime) -> list[Decision]:
        decisions: list[Decision] = []
        for _ in range(1000):  # bounded: each round places or ends one item
            a = self._index.agents.get(agent_id)
            if a is None or not a.ready:
                break
            best: tuple | None = None
            for channel in a.ready:
                found = self._waiting.most_urgent_for(a, channel, now, self._is_open, self._requirements)
                if found is not None and (best is None or found < best):
                    best = found
            if best is None:
                break
            made = self._route(best[-1], now)
            decisions += made
            if made[0].action == WAIT:
                break  # cannot happen while the index is consistent; never loop on it
        return decisions

    # -- explanations ----------------------------------------------------------------------

    def explain(
        self, item: WorkItem, now: dt.datetime, chosen: tuple[int, ...] = (), limit: int = EXPLAIN_LIMIT
    ) -> tuple[Candidate, ...]:
        """Up to ``limit`` agents that count for ``item`` now, with their score or
        disqualifier (see ``explain.explain``)."""
        queue = self.queues[item.queue]
        reached = esc.step_index(queue, (now - item.in_queue_since) / SECOND)
        required = self._requirements(queue, item, reached)
        return explain(self._index, item, STRATEGIES[queue.strategy], required, now, chosen, limit)


def _chain(*parts: Iterable[tuple]) -> Iterator[tuple]:
    for part in parts:
        yield from part
