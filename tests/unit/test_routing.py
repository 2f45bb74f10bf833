"""callyard.routing.plan: pure decisions from a snapshot and a time, no database, no clock."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callyard.routing import AgentState, Candidate, Decision, WorkItem, plan
from callyard.routing.eligibility import disqualifier

NOW = dt.datetime(2026, 3, 2, 9, 0, 0)


def ago(seconds: int) -> dt.datetime:
    return NOW - dt.timedelta(seconds=seconds)


def agent(
    id: int,
    *,
    presence: str = "available",
    skills: dict[str, int] | None = None,
    capacity: dict[str, int] | None = None,
    load: dict[str, int] | None = None,
    idle: int = 0,
    name: str | None = None,
) -> AgentState:
    return AgentState(
        id=id,
        name=name or f"agent{id}",
        presence=presence,
        skills={"support": 5} if skills is None else skills,
        capacity={"chat": 3} if capacity is None else capacity,
        load=load or {},
        idle_since=ago(idle),
    )


def item(
    id: int,
    *,
    channel: str = "chat",
    queue: str = "support",
    skills: dict[str, int] | None = None,
    queue_priority: int = 0,
    priority: int = 0,
    waited: int = 0,
    tried: frozenset[int] = frozenset(),
) -> WorkItem:
    return WorkItem(
        id=id,
        channel=channel,
        queue=queue,
        strategy="longest-idle",
        required_skills={"support": 1} if skills is None else skills,
        queue_priority=queue_priority,
        priority=priority,
        waiting_since=ago(waited),
        tried_agents=tried,
    )


def assigned(decisions: list[Decision]) -> dict[int, int | None]:
    return {d.item_id: d.agent_id for d in decisions}


# -- skills ----------------------------------------------------------------------------------


def test_an_available_skilled_agent_gets_the_item():
    (decision,) = plan([item(1)], [agent(7, name="Anna")], NOW)
    assert decision.item_id == 1
    assert decision.agent_id == 7
    assert decision.strategy == "longest-idle"
    assert "Anna" in decision.reason


def test_agent_lacking_a_required_skill_gets_nothing():
    (decision,) = plan([item(1, skills={"billing": 1})], [agent(7, skills={"support": 10})], NOW)
    assert decision.agent_id is None
    assert decision.reason == "no eligible agent"
    assert decision.candidates == (Candidate(7, "agent7", False, "lacks skill billing"),)


def test_minimum_skill_level_is_enforced():
    items = [item(1, skills={"support": 4})]
    (low,) = plan(items, [agent(1, skills={"support": 3})], NOW)
    assert low.agent_id is None
    assert low.candidates[0].reason == "skill support level 3 < 4"
    (exact,) = plan(items, [agent(1, skills={"support": 4})], NOW)
    assert exact.agent_id == 1


def test_every_required_skill_is_needed():
    items = [item(1, skills={"support": 2, "german": 3})]
    agents = [
        agent(1, skills={"support": 9}),
        agent(2, skills={"german": 9}),
        agent(3, skills={"support": 2, "german": 3}, idle=0),
    ]
    (decision,) = plan(items, agents, NOW)
    assert decision.agent_id == 3


def test_item_without_required_skills_goes_to_anyone_available():
    (decision,) = plan([item(1, skills={})], [agent(1, skills={})], NOW)
    assert decision.agent_id == 1


# -- capacity --------------------------------------------------------------------------------


def test_capacity_is_respected_within_one_round():
    decisions = plan([item(1, waited=20), item(2, waited=10)], [agent(1, capacity={"chat": 1})], NOW)
    assert assigned(decisions) == {1: 1, 2: None}
    waiting = decisions[1]
    assert waiting.candidates == (Candidate(1, "agent1", False, "at capacity for chat (1/1)"),)


def test_existing_load_counts_against_capacity():
    (decision,) = plan([item(1)], [agent(1, capacity={"chat": 2}, load={"chat": 2})], NOW)
    assert decision.agent_id is None
    assert decision.candidates[0].reason == "at capacity for chat (2/2)"


def test_capacity_is_per_channel():
    agents = [agent(1, capacity={"chat": 1, "email": 1}, load={"chat": 1})]
    decisions = plan([item(1, channel="chat"), item(2, channel="email")], agents, NOW)
    assert assigned(decisions) == {1: None, 2: 1}


def test_no_capacity_for_a_channel_means_none():
    (decision,) = plan([item(1, channel="voice")], [agent(1, capacity={"chat": 3})], NOW)
    assert decision.agent_id is None
    assert decision.candidates[0].reason == "at capacity for voice (0/0)"


def test_a_round_fills_agents_up_to_capacity_then_spills_over():
    agents = [agent(1, capacity={"chat": 2}, idle=100), agent(2, capacity={"chat": 1}, idle=50)]
    decisions = plan([item(i, waited=100 - i) for i in range(1, 6)], agents, NOW)
    got = assigned(decisions)
    assert sorted(a for a in got.values() if a is not None) == [1, 1, 2]
    assert [i for i, a in got.items() if a is None] == [4, 5]


# -- presence --------------------------------------------------------------------------------


@pytest.mark.parametrize("presence", ["break", "offline"])
def test_agents_not_available_never_get_work(presence):
    agents = [agent(1, presence=presence, skills={"support": 10}, idle=1000)]
    (decision,) = plan([item(1)], agents, NOW)
    assert decision.agent_id is None
    assert decision.candidates[0].reason == f"presence is {presence}"


def test_unavailable_agent_is_passed_over_for_an_available_one():
    agents = [agent(1, presence="break", idle=1000), agent(2, idle=1)]
    (decision,) = plan([item(1)], agents, NOW)
    assert decision.agent_id == 2


# -- order of agents ---------------------------------------------------------------------------


def test_longest_idle_agent_first():
    agents = [agent(1, idle=10), agent(2, idle=300), agent(3, idle=60)]
    (decision,) = plan([item(1)], agents, NOW)
    assert decision.agent_id == 2
    assert "idle 300s" in decision.reason
    assert "3 eligible" in decision.reason


def test_successive_items_go_to_agents_in_idle_order():
    agents = [
        agent(1, idle=10, capacity={"chat": 1}),
        agent(2, idle=300, capacity={"chat": 1}),
        agent(3, idle=60, capacity={"chat": 1}),
    ]
    decisions = plan([item(1, waited=3), item(2, waited=2), item(3, waited=1)], agents, NOW)
    assert [d.agent_id for d in decisions] == [2, 3, 1]


def test_same_idle_time_goes_to_the_lower_id():
    (decision,) = plan([item(1)], [agent(9, idle=5), agent(4, idle=5)], NOW)
    assert decision.agent_id == 4


def test_tried_agents_go_last():
    agents = [agent(1, idle=1000), agent(2, idle=10)]
    (decision,) = plan([item(1, tried=frozenset({1}))], agents, NOW)
    assert decision.agent_id == 2


def test_tried_agent_still_gets_it_when_nobody_else_can():
    agents = [agent(1, idle=1000), agent(2, presence="break")]
    (decision,) = plan([item(1, tried=frozenset({1}))], agents, NOW)
    assert decision.agent_id == 1


# -- order of work ---------------------------------------------------------------------------


def test_higher_queue_priority_first():
    items = [
        item(1, queue="low", queue_priority=0, priority=9, waited=999),
        item(2, queue="vip", queue_priority=5),
    ]
    decisions = plan(items, [agent(1, capacity={"chat": 1})], NOW)
    assert [d.item_id for d in decisions] == [2, 1]
    assert assigned(decisions) == {2: 1, 1: None}


def test_then_higher_item_priority():
    items = [item(1, priority=0, waited=999), item(2, priority=3, waited=1)]
    decisions = plan(items, [agent(1, capacity={"chat": 1})], NOW)
    assert assigned(decisions) == {2: 1, 1: None}


def test_then_first_come_first_served():
    items = [item(1, waited=5), item(2, waited=50), item(3, waited=20)]
    decisions = plan(items, [agent(1, capacity={"chat": 1})], NOW)
    assert [d.item_id for d in decisions] == [2, 3, 1]
    assert assigned(decisions) == {2: 1, 3: None, 1: None}


def test_same_arrival_time_goes_by_id():
    decisions = plan([item(8, waited=5), item(3, waited=5)], [agent(1, capacity={"chat": 1})], NOW)
    assert assigned(decisions) == {3: 1, 8: None}


# -- decisions -------------------------------------------------------------------------------


def test_decision_lists_every_candidate_with_a_reason():
    agents = [
        agent(1, name="Anna", idle=100),
        agent(2, name="Ben", presence="break"),
        agent(3, name="Cleo", skills={"sales": 5}),
        agent(4, name="Dan", skills={"support": 1}),
        agent(5, name="Eve", load={"chat": 3}),
        agent(6, name="Finn", idle=10),
    ]
    (decision,) = plan([item(1, skills={"support": 2})], agents, NOW)
    assert decision.agent_id == 1
    assert decision.reason == "longest-idle: Anna idle 100s, 2 eligible"
    assert decision.candidates == (
        Candidate(1, "Anna", True, "eligible"),
        Candidate(2, "Ben", False, "presence is break"),
        Candidate(3, "Cleo", False, "lacks skill support"),
        Candidate(4, "Dan", False, "skill support level 1 < 2"),
        Candidate(5, "Eve", False, "at capacity for chat (3/3)"),
        Candidate(6, "Finn", True, "eligible"),
    )


def test_no_items_no_decisions():
    assert plan([], [agent(1)], NOW) == []


def test_no_agents_every_item_waits():
    decisions = plan([item(1), item(2)], [], NOW)
    assert [(d.agent_id, d.reason, d.candidates) for d in decisions] == [(None, "no eligible agent", ())] * 2


def test_unknown_strategy_is_an_error_naming_the_queue():
    bad = WorkItem(
        id=1,
        channel="chat",
        queue="sales",
        strategy="round-robin",
        required_skills={},
        queue_priority=0,
        priority=0,
        waiting_since=NOW,
    )
    with pytest.raises(ValueError, match="sales"):
        plan([bad], [agent(1)], NOW)


def test_plan_does_not_change_its_inputs():
    a = agent(1, load={"chat": 1})
    plan([item(1), item(2)], [a], NOW)
    assert a.load == {"chat": 1}


# -- properties ------------------------------------------------------------------------------

CHANNELS = ("chat", "email", "voice")
SKILLS = ("support", "billing", "german")

skill_maps = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 10), max_size=3)


@st.composite
def snapshots(draw: st.DrawFn) -> tuple[list[WorkItem], list[AgentState]]:
    n_agents = draw(st.integers(0, 6))
    agents = [
        AgentState(
            id=i,
            name=f"a{i}",
            presence=draw(st.sampled_from(("available", "available", "break", "offline"))),
            skills=draw(skill_maps),
            capacity=(cap := draw(st.dictionaries(st.sampled_from(CHANNELS), st.integers(0, 3)))),
            load={ch: draw(st.integers(0, limit)) for ch, limit in cap.items()},
            idle_since=ago(draw(st.integers(0, 3600))),
        )
        for i in range(1, n_agents + 1)
    ]
    n_items = draw(st.integers(0, 12))
    items = [
        WorkItem(
            id=i,
            channel=draw(st.sampled_from(CHANNELS)),
            queue="q",
            strategy="longest-idle",
            required_skills=draw(skill_maps),
            queue_priority=draw(st.integers(0, 2)),
            priority=draw(st.integers(0, 2)),
            waiting_since=ago(draw(st.integers(0, 600))),
            tried_agents=frozenset(draw(st.sets(st.integers(1, max(n_agents, 1)), max_size=2))),
        )
        for i in range(1, n_items + 1)
    ]
    return items, agents


def final_loads(decisions: list[Decision], items: list[WorkItem], agents: list[AgentState]) -> dict:
    by_id = {i.id: i for i in items}
    loads = {a.id: dict(a.load) for a in agents}
    for d in decisions:
        if d.agent_id is not None:
            channel = by_id[d.item_id].channel
            loads[d.agent_id][channel] = loads[d.agent_id].get(channel, 0) + 1
    return loads


@settings(max_examples=150, deadline=None)
@given(snapshots())
def test_property_every_item_gets_exactly_one_decision(snapshot):
    items, agents = snapshot
    decisions = plan(items, agents, NOW)
    assert sorted(d.item_id for d in decisions) == sorted(i.id for i in items)
    for d in decisions:
        assert [c.agent_id for c in d.candidates] == [a.id for a in agents]


@settings(max_examples=150, deadline=None)
@given(snapshots())
def test_property_no_agent_exceeds_capacity(snapshot):
    items, agents = snapshot
    loads = final_loads(plan(items, agents, NOW), items, agents)
    for a in agents:
        for channel, used in loads[a.id].items():
            assert used <= a.capacity.get(channel, 0), (a, channel, used)


@settings(max_examples=150, deadline=None)
@given(snapshots())
def test_property_assignments_go_only_to_available_agents_with_the_skills(snapshot):
    items, agents = snapshot
    by_item = {i.id: i for i in items}
    by_agent = {a.id: a for a in agents}
    for d in plan(items, agents, NOW):
        if d.agent_id is None:
            continue
        a, it = by_agent[d.agent_id], by_item[d.item_id]
        assert a.presence == "available"
        for skill, minimum in it.required_skills.items():
            assert a.skills.get(skill, 0) >= minimum, (a, it)


@settings(max_examples=150, deadline=None)
@given(snapshots())
def test_property_no_item_waits_while_an_eligible_agent_has_room(snapshot):
    items, agents = snapshot
    decisions = plan(items, agents, NOW)
    loads = final_loads(decisions, items, agents)
    by_item = {i.id: i for i in items}
    for d in decisions:
        if d.agent_id is not None:
            continue
        it = by_item[d.item_id]
        for a in agents:
            assert disqualifier(a, it, loads[a.id]) is not None, (it, a, loads[a.id])
            # and independently of disqualifier(): spell the rule out
            has_room = loads[a.id].get(it.channel, 0) < a.capacity.get(it.channel, 0)
            skilled = all(a.skills.get(s, 0) >= m for s, m in it.required_skills.items())
            assert not (a.presence == "available" and skilled and has_room), (it, a)
