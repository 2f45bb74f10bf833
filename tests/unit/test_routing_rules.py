"""Routing rules over time: escalation steps, business hours, sticky agents, ring-progressively."""

from __future__ import annotations

import datetime as dt

from routing_helpers import NOW, agent, ago, item, queue

from callyard.routing import (
    AFTER_HOURS,
    OFFER,
    OVERFLOW,
    TIMEOUT,
    WAIT,
    Brain,
    BusinessHours,
    EscalationStep,
    plan,
)
from callyard.routing.escalation import requirements, step_index
from callyard.routing.hours import is_open

LADDER = (
    EscalationStep(30, min_level=5),
    EscalationStep(60, min_level=1),
    EscalationStep(120, overflow="general"),
)


def at(seconds: float) -> dt.datetime:
    return NOW + dt.timedelta(seconds=seconds)


# -- escalation ------------------------------------------------------------------------------


def test_steps_apply_by_wait_time():
    q = queue(skills={"support": 8}, escalation=LADDER)
    assert [step_index(q, s) for s in (0, 29.9, 30, 59, 60, 119, 120, 9999)] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert requirements(q, {}, 0) == {"support": 8}
    assert requirements(q, {}, 1) == {"support": 5}
    assert requirements(q, {}, 2) == {"support": 1}


def test_a_step_can_drop_a_skill_including_the_interactions_own():
    q = queue(escalation=(EscalationStep(45, drop_skills=frozenset({"french"})),))
    assert requirements(q, {"french": 6}, 0) == {"support": 1, "french": 6}
    assert requirements(q, {"french": 6}, 1) == {"support": 1}


def test_relaxing_the_minimum_level_lets_a_weaker_agent_take_it_later():
    q = queue(skills={"support": 8}, escalation=LADDER)
    weak = [agent(1, skills={"support": 5})]
    (early,) = plan([item(1, waited=10)], weak, NOW, [q])
    assert (early.action, early.step) == (WAIT, "base")
    assert early.candidates[0].reason == "skill support level 5 < 8"
    (later,) = plan([item(1, waited=31)], weak, NOW, [q])
    assert (later.action, later.agent_id) == (OFFER, 1)
    assert later.step == "step 1 (after 30s: min level 5)"


def test_the_brain_relaxes_a_waiting_item_when_its_step_comes_due():
    brain = Brain([queue(skills={"support": 8}, escalation=LADDER), queue("general")])
    brain.set_agent(agent(1, skills={"support": 4}))
    (first,) = brain.add_item(item(1), NOW)
    assert first.action == WAIT
    assert brain.tick(at(29)) == []
    (at30,) = brain.tick(at(30))
    assert (at30.action, at30.step) == (WAIT, "step 1 (after 30s: min level 5)")
    (at60,) = brain.tick(at(60))
    assert (at60.action, at60.agent_id, at60.step) == (OFFER, 1, "step 2 (after 60s: min level 1)")


def test_overflow_moves_the_item_to_the_other_queue_when_nobody_can_take_it():
    brain = Brain([queue(escalation=LADDER), queue("general", skills={"general": 1})])
    brain.set_agent(agent(1, skills={"general": 2}))
    (waits,) = brain.add_item(item(1), NOW)
    assert waits.action == WAIT
    brain.tick(at(30))
    brain.tick(at(60))
    overflow, offer = brain.tick(at(120))
    assert (overflow.action, overflow.target_queue, overflow.queue) == (OVERFLOW, "general", "support")
    assert overflow.reason == "nobody could take it; overflow to general"
    assert (offer.action, offer.queue, offer.agent_id) == (OFFER, "general", 1)


def test_overflow_waits_in_the_new_queue_with_its_own_clock():
    general = queue("general", skills={"general": 1}, escalation=(EscalationStep(10, timeout="voicemail"),))
    brain = Brain([queue(escalation=(EscalationStep(5, overflow="general"),)), general])
    brain.add_item(item(1), NOW)
    (overflow, waits) = brain.tick(at(5))
    assert (overflow.action, waits.action, waits.queue) == (OVERFLOW, WAIT, "general")
    assert brain.tick(at(14)) == []
    (timeout,) = brain.tick(at(15))
    assert (timeout.action, timeout.timeout_action, timeout.queue) == (TIMEOUT, "voicemail", "general")
    assert brain.waiting() == []


def test_an_eligible_agent_takes_it_rather_than_overflow():
    q = queue(escalation=(EscalationStep(5, overflow="general"),))
    (decision,) = plan([item(1, waited=50)], [agent(1)], NOW, [q, queue("general")])
    assert (decision.action, decision.agent_id) == (OFFER, 1)


def test_timeout_close_carries_the_message():
    q = queue(escalation=(EscalationStep(300, timeout="close", message="Sorry, we are busy."),))
    (decision,) = plan([item(1, waited=301)], [], NOW, [q])
    assert (decision.action, decision.timeout_action, decision.message) == (
        TIMEOUT,
        "close",
        "Sorry, we are busy.",
    )
    assert decision.step == "step 1 (after 300s: timeout: close)"


# -- business hours --------------------------------------------------------------------------

WEEKDAYS = {d: ((dt.time(9), dt.time(17)),) for d in range(5)}
BERLIN = BusinessHours("Europe/Berlin", WEEKDAYS, frozenset({dt.date(2026, 12, 25)}))


def test_hours_are_in_the_queues_time_zone():
    # 2026-03-02 is a Monday; Berlin is UTC+1 in March
    assert not is_open(BERLIN, dt.datetime(2026, 3, 2, 7, 59))
    assert is_open(BERLIN, dt.datetime(2026, 3, 2, 8, 0))
    assert is_open(BERLIN, dt.datetime(2026, 3, 2, 15, 59))
    assert not is_open(BERLIN, dt.datetime(2026, 3, 2, 16, 0))
    # in summer time (UTC+2) the same local hours are an hour earlier in UTC
    assert is_open(BERLIN, dt.datetime(2026, 7, 6, 7, 0))
    assert not is_open(BERLIN, dt.datetime(2026, 3, 7, 10, 0))  # Saturday
    assert not is_open(BERLIN, dt.datetime(2026, 12, 25, 10, 0))  # a holiday
    assert is_open(None, dt.datetime(2026, 12, 25, 3, 0))


def test_a_closed_queue_offers_nothing_and_waits_by_default():
    night = dt.datetime(2026, 3, 2, 22, 0)
    (decision,) = plan([item(1)], [agent(1)], night, [queue(hours=BERLIN)])
    assert (decision.action, decision.reason) == (WAIT, "queue closed (business hours); waits")


def test_after_hours_action():
    night = dt.datetime(2026, 3, 2, 22, 0)
    q = queue(hours=BERLIN, after_hours="close", after_hours_message="We open at 9.")
    (decision,) = plan([item(1)], [agent(1)], night, [q])
    assert (decision.action, decision.timeout_action, decision.message) == (
        AFTER_HOURS,
        "close",
        "We open at 9.",
    )


def test_work_waiting_overnight_is_offered_when_the_queue_opens():
    brain = Brain([queue(hours=BERLIN)])
    brain.set_agent(agent(1))
    evening = dt.datetime(2026, 3, 2, 20, 0)
    brain.plan(evening)
    (waits,) = brain.add_item(item(1), evening)
    assert waits.action == WAIT
    assert brain.tick(dt.datetime(2026, 3, 3, 7, 59)) == []
    (offer,) = brain.tick(dt.datetime(2026, 3, 3, 8, 0))
    assert (offer.action, offer.agent_id) == (OFFER, 1)


def test_items_waiting_when_the_queue_closes_get_the_after_hours_action():
    brain = Brain([queue(hours=BERLIN, after_hours="voicemail")])
    afternoon = dt.datetime(2026, 3, 2, 15, 0)
    brain.plan(afternoon)
    brain.add_item(item(1), afternoon)
    (decision,) = brain.tick(dt.datetime(2026, 3, 2, 16, 0))
    assert (decision.action, decision.timeout_action) == (AFTER_HOURS, "voicemail")


# -- sticky agent ----------------------------------------------------------------------------


def returning(**kwargs: object):  # noqa: ANN201
    return item(1, last_agent_id=2, last_served_at=ago(600), **kwargs)


def test_a_returning_contact_goes_to_their_last_agent():
    agents = [agent(1, idle=999), agent(2, name="Ben")]
    (decision,) = plan([returning()], agents, NOW, [queue(sticky_seconds=3600)])
    assert decision.agent_id == 2
    assert decision.reason == "sticky: Ben served this contact 600s ago"


def test_sticky_only_within_its_time():
    agents = [agent(1, idle=999), agent(2)]
    (decision,) = plan([returning()], agents, NOW, [queue(sticky_seconds=300)])
    assert decision.agent_id == 1
    (decision,) = plan([returning()], agents, NOW, [queue()])  # off by default
    assert decision.agent_id == 1


def test_sticky_only_if_the_agent_can_take_it():
    for last in (agent(2, presence="break"), agent(2, load={"chat": 3}), agent(2, skills={"x": 9})):
        (decision,) = plan([returning()], [agent(1), last], NOW, [queue(sticky_seconds=3600)])
        assert decision.agent_id == 1


# -- ring-progressively ----------------------------------------------------------------------


def test_ring_progressively_adds_the_next_agent_every_interval():
    brain = Brain([queue(strategy="ring-progressively", ring_interval=10)])
    for i, order in ((1, 3), (2, 1), (3, 2)):
        brain.set_agent(agent(i, order=order))
    (first,) = brain.add_item(item(1), NOW)
    assert first.agent_ids == (2,)
    assert brain.tick(at(9)) == []
    (second,) = brain.tick(at(10))
    assert second.agent_ids == (3,)
    (third,) = brain.tick(at(20))
    assert third.agent_ids == (1,)
    assert brain.tick(at(30)) == []  # everyone is ringing
    brain.remove_item(1)  # somebody accepted
    assert brain.tick(at(40)) == []


# -- work back in line after its timeout or after-hours action ran ------------------------------


def test_work_whose_timeout_action_ran_waits_for_an_agent_instead_of_timing_out_again():
    q = queue(escalation=(EscalationStep(10, timeout="voicemail"),))
    (decision,) = plan([item(1, waited=60, timed_out=True)], [], NOW, [q])
    assert (decision.action, decision.reason) == (WAIT, "no eligible agent")
    (decision,) = plan([item(1, waited=60, timed_out=True)], [agent(1)], NOW, [q])
    assert (decision.action, decision.agent_id) == (OFFER, 1)
    (decision,) = plan([item(1, waited=60)], [], NOW, [q])
    assert (decision.action, decision.timeout_action) == (TIMEOUT, "voicemail")


def test_work_whose_after_hours_action_ran_waits_in_the_closed_queue():
    night = dt.datetime(2026, 3, 2, 22, 0)
    q = queue(hours=BERLIN, after_hours="voicemail")
    (decision,) = plan([item(1, timed_out=True)], [agent(1)], night, [q])
    assert decision.action == WAIT and "after-hours action ran" in decision.reason
    (decision,) = plan([item(1)], [agent(1)], night, [q])
    assert (decision.action, decision.timeout_action) == (AFTER_HOURS, "voicemail")
