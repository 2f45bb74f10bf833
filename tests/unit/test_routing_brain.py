"""The incremental brain: events re-plan only what they changed, and for any sequence of
arrivals, agents freeing up, presence changes and time passing, the rules of the issue hold."""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st
from routing_helpers import NOW, agent, item, queue

from callyard.routing import (
    OFFER,
    OVERFLOW,
    STRATEGIES,
    TIMEOUT,
    WAIT,
    AgentState,
    Brain,
    Decision,
    EscalationStep,
    QueueRules,
    WorkItem,
)
from callyard.routing.eligibility import DEFAULT_BLOCKS, disqualifier
from callyard.routing.escalation import requirements, step_index


def test_a_new_item_is_placed_at_once():
    brain = Brain([queue()])
    brain.set_agent(agent(1))
    (decision,) = brain.add_item(item(1), NOW)
    assert (decision.action, decision.agent_id) == (OFFER, 1)
    assert brain.waiting() == []
    assert brain.load_of(1) == {"chat": 1}


def test_an_agent_freeing_up_takes_the_most_urgent_item_they_qualify_for():
    brain = Brain([queue(), queue("vip", priority=3, skills={"vip": 1}), queue("other", skills={"x": 1})])
    a = agent(1, skills={"support": 5}, capacity={"chat": 1}, load={"chat": 1})
    brain.set_agent(a)
    for i, (q, waited) in enumerate([("support", 10), ("support", 50), ("vip", 99), ("other", 999)], 1):
        (decision,) = brain.add_item(item(i, queue=q, waited=waited), NOW)
        assert decision.action == WAIT
    (decision,) = brain.update_agent(dataclasses.replace(a, load={}), NOW)
    assert (decision.item_id, decision.agent_id) == (2, 1)  # oldest support item; no vip skill
    assert sorted(i.id for i in brain.waiting()) == [1, 3, 4]


def test_an_agent_with_room_for_several_takes_several():
    brain = Brain([queue()])
    a = agent(1, presence="break")
    brain.set_agent(a)
    for i in range(1, 6):
        brain.add_item(item(i, waited=10 - i), NOW)
    decisions = brain.update_agent(dataclasses.replace(a, presence="available"), NOW)
    assert [(d.item_id, d.agent_id) for d in decisions] == [(1, 1), (2, 1), (3, 1)]


def test_the_strategy_still_decides_when_an_agent_frees_up():
    brain = Brain([queue(strategy="top-down")])
    busy = agent(1, order=1, capacity={"chat": 1}, load={"chat": 1})
    brain.set_agent(busy)
    brain.set_agent(agent(2, order=5, presence="break"))
    brain.add_item(item(1), NOW)
    brain.add_item(item(2), NOW)
    # agent 1 frees up; agent 2 comes back: both items go, first in order first
    (first,) = brain.update_agent(dataclasses.replace(busy, load={}), NOW)
    assert first.agent_id == 1
    (second,) = brain.update_agent(agent(2, order=5), NOW)
    assert second.agent_id == 2


def test_removing_an_agent_or_an_item():
    brain = Brain([queue()])
    brain.set_agent(agent(1))
    brain.remove_agent(1)
    (decision,) = brain.add_item(item(1), NOW)
    assert decision.action == WAIT
    brain.remove_item(1)
    assert brain.waiting() == []
    assert brain.update_agent(agent(1), NOW) == []


def test_requeued_item_keeps_its_place_and_tries_others_first():
    brain = Brain([queue()])
    brain.set_agent(agent(1, idle=100))
    brain.set_agent(agent(2))
    (decision,) = brain.add_item(item(1, waited=30, tried=frozenset({1})), NOW)
    assert decision.agent_id == 2


# -- properties ------------------------------------------------------------------------------

CHANNELS = ("chat", "email", "voice")
SKILLS = ("support", "billing", "german")
STEP = dt.timedelta(seconds=1)


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[QueueRules], list[AgentState], list[tuple]]:
    queues = []
    for name, priority in (("q1", draw(st.integers(0, 2))), ("q2", draw(st.integers(0, 2)))):
        ladder: tuple[EscalationStep, ...] = ()
        if draw(st.booleans()):
            ladder = (EscalationStep(20, min_level=3), EscalationStep(40, min_level=1))
            if draw(st.booleans()):
                ladder += (EscalationStep(60, drop_skills=frozenset({"german"})),)
        queues.append(
            QueueRules(
                name=name,
                strategy=draw(st.sampled_from(sorted(s for s in STRATEGIES if s != "ring-progressively"))),
                priority=priority,
                skills=draw(st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 8), max_size=2)),
                escalation=ladder,
            )
        )
    agents = [
        AgentState(
            id=i,
            name=f"a{i}",
            presence=draw(st.sampled_from(("available", "available", "break", "offline"))),
            skills=draw(st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 10), max_size=3)),
            capacity=draw(st.dictionaries(st.sampled_from(CHANNELS), st.integers(0, 3))),
            load={},
            idle_since=NOW - dt.timedelta(seconds=draw(st.integers(0, 3600))),
            order=draw(st.integers(0, 3)),
            contacts_today=draw(st.integers(0, 3)),
        )
        for i in range(1, draw(st.integers(0, 5)) + 1)
    ]
    n = max(len(agents), 1)
    ops = draw(
        st.lists(
            st.one_of(
                st.tuples(
                    st.just("arrive"),
                    st.sampled_from(CHANNELS),
                    st.sampled_from(("q1", "q2")),
                    st.integers(0, 2),
                    st.sampled_from((None, "german", "billing")),
                ),
                st.tuples(st.just("finish"), st.integers(1, n)),
                st.tuples(st.just("presence"), st.integers(1, n), st.sampled_from(("available", "break"))),
                st.tuples(st.just("wait"), st.integers(1, 30)),
            ),
            max_size=40,
        )
    )
    return queues, agents, ops


class World:
    """The truth the brain's decisions are checked against, kept independently of the brain."""

    def __init__(self, queues: list[QueueRules], agents: list[AgentState]) -> None:
        self.queues = {q.name: q for q in queues}
        self.agents = {a.id: a for a in agents}
        self.held: dict[int, list[WorkItem]] = {a.id: [] for a in agents}
        self.waiting: dict[int, WorkItem] = {}
        self.now = NOW

    def load(self, agent_id: int) -> dict[str, int]:
        out: dict[str, int] = {}
        for it in self.held[agent_id]:
            out[it.channel] = out.get(it.channel, 0) + 1
        return out

    def state(self, agent_id: int) -> AgentState:
        return dataclasses.replace(self.agents[agent_id], load=self.load(agent_id))

    def required(self, it: WorkItem) -> dict[str, int]:
        q = self.queues[it.queue]
        return requirements(q, it.skills, step_index(q, (self.now - it.in_queue_since) / STEP))

    def urgency(self, it: WorkItem) -> tuple:
        return (-self.queues[it.queue].priority, -it.priority, it.waiting_since, it.id)

    def apply(self, decisions: list[Decision]) -> None:
        for d in decisions:
            it = self.waiting.get(d.item_id)
            assert it is not None, d
            assert it.queue == d.queue
            if d.action == WAIT:
                continue
            del self.waiting[d.item_id]
            if d.action == OVERFLOW:
                self.waiting[it.id] = dataclasses.replace(it, queue=d.target_queue, queue_since=self.now)
                continue
            if d.action == TIMEOUT:
                continue
            assert d.action == OFFER and d.agent_ids
            for agent_id in d.agent_ids:
                # never over capacity, never without the skills of the current step
                why = disqualifier(self.state(agent_id), it.channel, self.required(it), self.load(agent_id))
                assert why is None, (d, why)
                # most urgent first: nothing more urgent that this agent could take still waits
                for other in self.waiting.values():
                    if self.urgency(other) < self.urgency(it) and other.channel == it.channel:
                        blocked = disqualifier(
                            self.state(agent_id), other.channel, self.required(other), self.load(agent_id)
                        )
                        assert blocked is not None, (d, other)
                self.held[agent_id].append(it)

    def check_nothing_waits_for_an_idle_qualified_agent(self) -> None:
        for it in self.waiting.values():
            for agent_id in self.agents:
                st_ = self.state(agent_id)
                why = disqualifier(st_, it.channel, self.required(it), st_.load, DEFAULT_BLOCKS)
                assert why is not None, (it, st_)

    def check_capacity(self) -> None:
        for agent_id, a in self.agents.items():
            for channel, used in self.load(agent_id).items():
                assert used <= a.capacity.get(channel, 0)


@settings(max_examples=250, deadline=None)
@given(worlds())
def test_property_rules_hold_for_any_sequence_of_events(world_spec):
    queues, agents, ops = world_spec
    world = World(queues, agents)
    brain = Brain(queues)
    for a in agents:
        brain.set_agent(a)
    brain.plan(world.now)
    next_id = 1
    for op in ops:
        if op[0] == "arrive":
            _, channel, qname, priority, extra = op
            it = WorkItem(next_id, channel, qname, priority, world.now, skills={extra: 2} if extra else {})
            next_id += 1
            world.waiting[it.id] = it
            world.apply(brain.add_item(it, world.now))
        elif op[0] == "finish":
            agent_id = op[1]
            if agent_id in world.agents and world.held[agent_id]:
                done = world.held[agent_id].pop(0)
                for other in world.held.values():  # ring-all: the other rings end too
                    if done in other:
                        other.remove(done)
                brain.remove_item(done.id)
                for other_id in world.agents:
                    world.apply(brain.update_agent(world.state(other_id), world.now))
        elif op[0] == "presence":
            agent_id, presence = op[1], op[2]
            if agent_id in world.agents:
                world.agents[agent_id] = dataclasses.replace(world.agents[agent_id], presence=presence)
                world.apply(brain.update_agent(world.state(agent_id), world.now))
        else:
            world.now += dt.timedelta(seconds=op[1])
            world.apply(brain.tick(world.now))
        world.check_capacity()
        world.check_nothing_waits_for_an_idle_qualified_agent()
        assert {i.id for i in brain.waiting()} == set(world.waiting)


@settings(max_examples=150, deadline=None)
@given(worlds())
def test_property_fifo_within_priority_for_equal_work(world_spec):
    """Of two waiting items of one queue, channel and priority with the same needs, the older
    one is never left waiting while the younger is offered."""
    queues, agents, ops = world_spec
    brain = Brain(queues)
    for a in agents:
        brain.set_agent(a)
    items = []
    for i, op in enumerate(o for o in ops if o[0] == "arrive"):
        items.append(WorkItem(i + 1, op[1], op[2], op[3], NOW + dt.timedelta(seconds=i)))
    for it in items:
        brain.hold_item(it, NOW + dt.timedelta(seconds=len(items)))
    decisions = brain.plan(NOW + dt.timedelta(seconds=len(items)))
    offered = {d.item_id for d in decisions if d.action == OFFER}
    for young in items:
        if young.id not in offered:
            continue
        for old in items:
            same = (old.queue, old.channel, old.priority) == (young.queue, young.channel, young.priority)
            if same and old.waiting_since < young.waiting_since:
                assert old.id in offered, (old, young)
