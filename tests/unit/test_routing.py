"""callyard.routing.plan: skills, capacity, presence, priorities and every strategy."""

from __future__ import annotations

import pytest
from routing_helpers import NOW, agent, item, queue

from callyard.routing import OFFER, STRATEGIES, WAIT, Candidate, Decision, plan


def assigned(decisions: list[Decision]) -> dict[int, int | None]:
    return {d.item_id: d.agent_id for d in decisions}


def one(items, agents, q=None, **kwargs):  # noqa: ANN001, ANN201
    (decision,) = plan(items, agents, NOW, [q or queue()], **kwargs)
    return decision


# -- skills ----------------------------------------------------------------------------------


def test_an_available_skilled_agent_gets_the_item():
    decision = one([item(1)], [agent(7, name="Anna")])
    assert (decision.item_id, decision.agent_id, decision.action) == (1, 7, OFFER)
    assert decision.strategy == "longest-idle"
    assert decision.step == "base"
    assert "Anna" in decision.reason


def test_agent_lacking_a_required_skill_gets_nothing():
    decision = one([item(1)], [agent(7, skills={"billing": 10})], queue(skills={"billing": 1, "vip": 1}))
    assert (decision.agent_id, decision.action, decision.reason) == (None, WAIT, "no eligible agent")
    assert decision.candidates == (Candidate(7, "agent7", False, "lacks skill vip"),)


def test_minimum_skill_level_is_enforced():
    q = queue(skills={"support": 4})
    low = one([item(1)], [agent(1, skills={"support": 3})], q)
    assert low.agent_id is None
    assert low.candidates[0].reason == "skill support level 3 < 4"
    assert one([item(1)], [agent(1, skills={"support": 4})], q).agent_id == 1


def test_every_required_skill_is_needed():
    agents = [
        agent(1, skills={"support": 9}, idle=50),
        agent(2, skills={"german": 9}, idle=50),
        agent(3, skills={"support": 2, "german": 3}),
    ]
    assert one([item(1)], agents, queue(skills={"support": 2, "german": 3})).agent_id == 3


def test_an_interaction_adds_its_own_skills():
    agents = [agent(1, skills={"support": 9}, idle=99), agent(2, skills={"support": 1, "french": 6})]
    french = item(1, skills={"french": 5})
    assert one([french], agents).agent_id == 2
    # the higher level wins when queue and interaction name the same skill
    assert one([item(2, skills={"support": 7})], agents).agent_id == 1


def test_item_without_required_skills_goes_to_anyone_available():
    assert one([item(1)], [agent(1, skills={})], queue(skills={})).agent_id == 1


# -- capacity and presence -------------------------------------------------------------------


def test_capacity_is_respected_within_one_round():
    decisions = plan(
        [item(1, waited=20), item(2, waited=10)], [agent(1, capacity={"chat": 1})], NOW, [queue()]
    )
    assert assigned(decisions) == {1: 1, 2: None}
    assert decisions[1].candidates == (Candidate(1, "agent1", False, "at capacity for chat (1/1)"),)


def test_existing_load_counts_against_capacity():
    decision = one([item(1)], [agent(1, capacity={"chat": 2}, load={"chat": 2})])
    assert decision.candidates[0].reason == "at capacity for chat (2/2)"


def test_capacity_is_per_channel():
    agents = [agent(1, capacity={"chat": 1, "email": 1}, load={"chat": 1})]
    decisions = plan([item(1, channel="chat"), item(2, channel="email")], agents, NOW, [queue()])
    assert assigned(decisions) == {1: None, 2: 1}


def test_chats_and_emails_together_up_to_each_limit():
    agents = [agent(1, capacity={"chat": 3, "email": 5})]
    items = [item(i, channel="chat", waited=100 - i) for i in range(1, 5)]
    items += [item(i, channel="email", waited=100 - i) for i in range(5, 12)]
    got = assigned(plan(items, agents, NOW, [queue()]))
    assert [i for i, a in got.items() if a == 1] == [1, 2, 3, 5, 6, 7, 8, 9]


def test_a_call_blocks_chats_and_emails_by_default():
    busy = agent(1, capacity={"chat": 3, "email": 5, "voice": 1}, load={"voice": 1})
    decisions = plan([item(1, channel="chat"), item(2, channel="email")], [busy], NOW, [queue()])
    assert assigned(decisions) == {1: None, 2: None}
    assert decisions[0].candidates[0].reason == "chat blocked while on voice"


def test_emails_do_not_block_calls():
    agents = [agent(1, capacity={"email": 5, "voice": 1}, load={"email": 4})]
    assert one([item(1, channel="voice")], agents).agent_id == 1


def test_a_call_offered_in_the_round_blocks_the_chats_after_it():
    agents = [agent(1, capacity={"chat": 3, "voice": 1})]
    decisions = plan([item(1, channel="voice", waited=9), item(2, channel="chat")], agents, NOW, [queue()])
    assert assigned(decisions) == {1: 1, 2: None}


def test_block_rules_are_configurable():
    agents = [agent(1, capacity={"chat": 3, "email": 5}, load={"chat": 1})]
    blocks = {"chat": frozenset({"email"})}
    assert one([item(1, channel="email")], agents, blocks=blocks).agent_id is None
    assert one([item(1, channel="email")], agents, blocks={}).agent_id == 1


def test_no_capacity_for_a_channel_means_none():
    decision = one([item(1, channel="voice")], [agent(1, capacity={"chat": 3})])
    assert decision.candidates[0].reason == "at capacity for voice (0/0)"


@pytest.mark.parametrize("presence", ["break", "offline"])
def test_agents_not_available_never_get_work(presence):
    decision = one([item(1)], [agent(1, presence=presence, idle=1000)])
    assert decision.agent_id is None
    assert decision.candidates[0].reason == f"presence is {presence}"


def test_an_agent_in_wrap_up_gets_nothing():
    decision = one([item(1)], [agent(1, wrap_up=True, idle=500), agent(2)])
    assert decision.agent_id == 2
    alone = one([item(1)], [agent(1, wrap_up=True)])
    assert alone.candidates[0].reason == "in wrap-up"


# -- order of work ---------------------------------------------------------------------------


def test_higher_queue_priority_first_then_item_priority_then_fifo():
    queues = [queue("low"), queue("vip", priority=5)]
    items = [
        item(1, queue="low", priority=9, waited=999),
        item(2, queue="vip", waited=1),
        item(3, queue="low", priority=9, waited=10),
        item(4, queue="low", waited=5000),
    ]
    decisions = plan(items, [agent(1, capacity={"chat": 1})], NOW, queues)
    assert [d.item_id for d in decisions] == [2, 1, 3, 4]
    assert assigned(decisions) == {2: 1, 1: None, 3: None, 4: None}


def test_same_arrival_time_goes_by_id():
    decisions = plan([item(8, waited=5), item(3, waited=5)], [agent(1, capacity={"chat": 1})], NOW, [queue()])
    assert assigned(decisions) == {3: 1, 8: None}


# -- strategies ------------------------------------------------------------------------------


def strat(name: str, **kwargs: object):  # noqa: ANN201
    return queue(strategy=name, **kwargs)


def test_every_issue_strategy_exists():
    assert set(STRATEGIES) == {
        "ring-all",
        "longest-idle",
        "round-robin",
        "fewest-contacts",
        "least-talk-time",
        "top-down",
        "random",
        "ring-progressively",
        "most-skilled",
    }


def test_longest_idle_agent_first_with_the_reason():
    agents = [agent(1, idle=10), agent(2, idle=300, name="Anna"), agent(3, idle=60)]
    decision = one([item(1)], agents)
    assert decision.agent_id == 2
    assert decision.reason == "longest-idle: Anna idle 300s"
    assert [(c.agent_id, c.reason, c.score) for c in decision.candidates] == [
        (2, "chosen", 300.0),
        (3, "eligible", 60.0),
        (1, "eligible", 10.0),
    ]


def test_longest_idle_ties_go_to_the_lower_id():
    assert one([item(1)], [agent(9, idle=5), agent(4, idle=5)]).agent_id == 4


def test_tried_agents_go_last_but_are_still_tried():
    assert one([item(1, tried=frozenset({1}))], [agent(1, idle=1000), agent(2, idle=10)]).agent_id == 2
    assert one([item(1, tried=frozenset({1}))], [agent(1), agent(2, presence="break")]).agent_id == 1


def test_ring_all_offers_every_eligible_agent_at_once():
    agents = [agent(1), agent(2, idle=5), agent(3, presence="break"), agent(4, skills={"x": 1})]
    decision = one([item(1)], agents, strat("ring-all"))
    assert sorted(decision.agent_ids) == [1, 2]
    assert "1 more rung at once" in decision.reason


def test_ring_all_reserves_capacity_on_every_agent_rung():
    agents = [agent(1, capacity={"chat": 1}), agent(2, capacity={"chat": 1})]
    decisions = plan([item(1, waited=5), item(2)], agents, NOW, [strat("ring-all")])
    assert [sorted(d.agent_ids) for d in decisions] == [[1, 2], []]


def test_round_robin_remembers_its_place():
    agents = [agent(i, capacity={"chat": 5}) for i in (1, 2, 3)]
    decisions = plan([item(i, waited=10 - i) for i in range(1, 6)], agents, NOW, [strat("round-robin")])
    assert [d.agent_id for d in decisions] == [1, 2, 3, 1, 2]
    assert [d.rr_position for d in decisions] == [1, 2, 3, 1, 2]


def test_round_robin_resumes_from_a_stored_position():
    from callyard.routing import Brain

    brain = Brain([strat("round-robin")], rr_positions={"support": 2})
    for i in (1, 2, 3):
        brain.set_agent(agent(i))
    (decision,) = brain.add_item(item(1), NOW)
    assert decision.agent_id == 3
    (decision,) = brain.add_item(item(2), NOW)
    assert decision.agent_id == 1


def test_round_robin_skips_agents_who_cannot_take_it():
    agents = [agent(1), agent(2, presence="break"), agent(3, skills={"other": 3})]
    decisions = plan([item(1, waited=2), item(2)], agents + [agent(4)], NOW, [strat("round-robin")])
    assert [d.agent_id for d in decisions] == [1, 4]


def test_fewest_contacts_today_then_longest_idle():
    agents = [
        agent(1, contacts_today=5, idle=900),
        agent(2, contacts_today=2),
        agent(3, contacts_today=2, idle=9),
    ]
    decision = one([item(1)], agents, strat("fewest-contacts"))
    assert decision.agent_id == 3
    assert "2 contacts today" in decision.reason


def test_fewest_contacts_counts_the_offers_it_makes():
    agents = [agent(1, contacts_today=0), agent(2, contacts_today=1)]
    decisions = plan([item(i, waited=9 - i) for i in range(1, 4)], agents, NOW, [strat("fewest-contacts")])
    assert [d.agent_id for d in decisions] == [1, 1, 2]


def test_least_talk_time():
    agents = [agent(1, talk_seconds_today=600, idle=900), agent(2, talk_seconds_today=30)]
    assert one([item(1)], agents, strat("least-talk-time")).agent_id == 2


def test_top_down_always_starts_from_the_first_in_order():
    agents = [agent(1, order=3, idle=999), agent(2, order=1), agent(3, order=2)]
    decisions = plan([item(1, waited=5), item(2)], agents, NOW, [strat("top-down")])
    assert [d.agent_id for d in decisions] == [2, 2]


def test_random_spreads_and_is_repeatable_with_a_seed():
    agents = [agent(i, capacity={"chat": 100}) for i in range(1, 6)]
    items = [item(i, waited=100 - i) for i in range(1, 61)]
    first = [d.agent_id for d in plan(items, agents, NOW, [strat("random")], seed=3)]
    again = [d.agent_id for d in plan(items, agents, NOW, [strat("random")], seed=3)]
    assert first == again
    assert set(first) == {1, 2, 3, 4, 5}


def test_random_only_picks_eligible_agents():
    agents = [agent(1, presence="break"), agent(2, skills={"x": 1}), agent(3)]
    for seed in range(10):
        assert one([item(1)], agents, strat("random"), seed=seed).agent_id == 3


def test_ring_progressively_rings_the_first_in_order():
    agents = [agent(1, order=2), agent(2, order=1)]
    decision = one([item(1)], agents, strat("ring-progressively"))
    assert decision.agent_ids == (2,)


def test_most_skilled_highest_level_on_the_required_skills_ties_by_idle():
    q = strat("most-skilled", skills={"support": 1, "german": 1})
    agents = [
        agent(1, skills={"support": 9, "german": 2}, idle=999),  # 11
        agent(2, skills={"support": 6, "german": 7}, idle=5),  # 13
        agent(3, skills={"support": 7, "german": 6}, idle=50),  # 13, idle longer
        agent(4, skills={"support": 10}, idle=5000),  # lacks german
    ]
    decision = one([item(1)], agents, q)
    assert decision.agent_id == 3
    assert "skill score 13" in decision.reason


def test_most_skilled_with_one_skill():
    agents = [agent(1, skills={"support": 3}, idle=99), agent(2, skills={"support": 8})]
    assert one([item(1)], agents, strat("most-skilled")).agent_id == 2


def test_unknown_strategy_is_an_error_naming_the_queue():
    with pytest.raises(ValueError, match="sales"):
        plan([item(1, queue="sales")], [agent(1)], NOW, [queue("sales", strategy="round-the-world")])


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
    decision = one([item(1)], agents, queue(skills={"support": 2}))
    assert decision.agent_id == 1
    assert decision.reason == "longest-idle: Anna idle 100s"
    assert decision.candidates == (
        Candidate(1, "Anna", True, "chosen", 100.0),
        Candidate(6, "Finn", True, "eligible", 10.0),
        # then who has the skill but cannot take it now, then everyone else
        Candidate(2, "Ben", False, "presence is break"),
        Candidate(4, "Dan", False, "skill support level 1 < 2"),
        Candidate(5, "Eve", False, "at capacity for chat (3/3)"),
        Candidate(3, "Cleo", False, "lacks skill support"),
    )


def test_an_explanation_is_capped_and_lists_the_closest_agents_first():
    from callyard.routing import Brain

    brain = Brain([queue(skills={"rare": 1})], explain=True)
    for i in range(1, 201):
        brain.set_agent(agent(i, skills={"support": 5}))
    brain.set_agent(agent(500, skills={"rare": 3}, presence="break"))
    (decision,) = brain.add_item(item(1), NOW)
    assert len(decision.candidates) == 50
    assert decision.candidates[0] == Candidate(500, "agent500", False, "presence is break")
    assert decision.candidates[1] == Candidate(1, "agent1", False, "lacks skill rare")


def test_without_explain_a_decision_lists_the_agents_walked():
    agents = [agent(1, skills={"support": 1}, idle=500), agent(2, skills={"support": 4}, idle=5)]
    decision = one([item(1)], agents, queue(skills={"support": 3}), explain=False)
    assert decision.agent_id == 2
    assert decision.candidates == (
        Candidate(2, "agent2", True, "chosen", 5.0),
        Candidate(1, "agent1", False, "skill support level 1 < 3"),
    )


def test_no_items_no_decisions():
    assert plan([], [agent(1)], NOW, [queue()]) == []


def test_no_agents_every_item_waits():
    decisions = plan([item(1), item(2)], [], NOW, [queue()])
    assert [(d.agent_id, d.reason, d.candidates) for d in decisions] == [(None, "no eligible agent", ())] * 2


def test_plan_does_not_change_its_inputs():
    a = agent(1, load={"chat": 1})
    plan([item(1), item(2)], [a], NOW, [queue()])
    assert a.load == {"chat": 1}
