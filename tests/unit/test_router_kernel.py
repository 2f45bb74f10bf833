"""The router in the kernel: the brain's decisions turned into offers, overflows and timeouts,
stored with their reason, on SQLite and PostgreSQL; the index rebuilt from the store."""

from __future__ import annotations

import logging

import pytest

from callyard import events as ev
from callyard import services as services_mod
from callyard.config import EscalationConfig, QueueConfig
from callyard.errors import Conflict
from callyard.models import (
    ACTIVE,
    CALLBACK,
    CLOSED,
    OFFERED,
    QUEUED,
    VOICEMAIL,
    Agent,
    Interaction,
    Message,
    Offer,
    OutboxItem,
    Queue,
    RoutingDecision,
)

PASSWORD = "correct horse"


pytestmark = pytest.mark.usefixtures("cheap_passwords")


@pytest.fixture
def published(services):  # noqa: ANN001, ANN201
    seen: list[ev.Event] = []
    services.bus.subscribe(seen.append)
    return seen


def with_queues(services, *queues: QueueConfig) -> None:  # noqa: ANN001
    services.queues.sync(queues)
    services.router.invalidate()


def add_agent(services, login, *, skills=None, presence="available", **kwargs):  # noqa: ANN001, ANN003, ANN201
    agent = services.agents.add(
        login, login.title(), PASSWORD, skills={"support": 5} if skills is None else skills, **kwargs
    )
    if presence != "offline":
        services.agents.set_presence(agent.id, presence)
    return services.agents.get(agent.id)


def ingest(services, *, thread="v1", queue="support", **kwargs):  # noqa: ANN001, ANN003, ANN201
    return services.interactions.ingest(
        channel=kwargs.pop("channel", "chat"),
        identity=kwargs.pop("identity", ("chat_visitor", thread)),
        body="hello",
        queue=queue,
        thread_key=thread,
        external_id=f"{thread}:{kwargs.pop('n', 1)}",
        **kwargs,
    ).interaction_id


def pending(interaction_id: int) -> list[int]:
    return sorted(
        o.agent_id
        for o in Offer.select().where(Offer.interaction == interaction_id, Offer.state == "pending")
    )


def latest(interaction_id: int) -> RoutingDecision:
    return (
        RoutingDecision.select()
        .where(RoutingDecision.interaction == interaction_id)
        .order_by(RoutingDecision.id.desc())
        .first()
    )


# -- ring-all --------------------------------------------------------------------------------


def test_ring_all_first_accept_wins_and_the_others_are_withdrawn(services, published):
    with_queues(services, QueueConfig(name="support", strategy="ring-all", skills={"support": 1}))
    anna, ben, cleo = (add_agent(services, n) for n in ("anna", "ben", "cleo"))
    interaction_id = ingest(services)
    services.router.route()
    assert pending(interaction_id) == sorted([anna.id, ben.id, cleo.id])
    assert Interaction.get_by_id(interaction_id).agent_id is None
    published.clear()
    services.interactions.accept(ben.id, interaction_id)
    current = Interaction.get_by_id(interaction_id)
    assert (current.state, current.agent_id) == (ACTIVE, ben.id)
    withdrawn = [e for e in published if isinstance(e, ev.OfferWithdrawn)]
    assert sorted(e.agent_id for e in withdrawn) == sorted([anna.id, cleo.id])
    assert {e.reason for e in withdrawn} == {"another agent accepted it"}
    with pytest.raises(Conflict) as info:
        services.interactions.accept(anna.id, interaction_id)
    assert info.value.error_id == "offer-taken"
    assert "another agent" in info.value.message


def test_ring_all_goes_back_to_the_queue_only_when_every_ring_ended(services, clock, config):
    with_queues(services, QueueConfig(name="support", strategy="ring-all", skills={"support": 1}))
    anna, ben = add_agent(services, "anna"), add_agent(services, "ben")
    interaction_id = ingest(services)
    services.router.route()
    services.interactions.reject(anna.id, interaction_id)
    assert Interaction.get_by_id(interaction_id).state == OFFERED  # ben is still ringing
    services.interactions.reject(ben.id, interaction_id)
    assert Interaction.get_by_id(interaction_id).state == QUEUED


# -- round-robin -----------------------------------------------------------------------------


def test_round_robin_position_survives_a_restart(services, db_url, config, clock):
    config.queues = [QueueConfig(name="support", strategy="round-robin", skills={"support": 1})]
    with_queues(services, *config.queues)
    agents = [add_agent(services, n) for n in ("anna", "ben", "cleo")]
    first = ingest(services, thread="v1")
    services.router.route()
    assert pending(first) == [agents[0].id]
    assert Queue.get(Queue.name == "support").rr_position == agents[0].id
    # a new process: a fresh router rebuilds its index from the store
    fresh = services_mod.build(config, store=services.store, clock=clock)
    second = ingest(fresh, thread="v2")
    fresh.router.route()
    assert pending(second) == [agents[1].id]


# -- max_no_answer ---------------------------------------------------------------------------


def test_agent_missing_offers_in_a_row_goes_not_ready_and_supervisors_are_told(
    services, clock, config, published, caplog
):
    anna = add_agent(services, "anna")
    interaction_id = ingest(services)
    services.router.route()
    for _ in range(config.routing.max_no_answer):
        assert pending(interaction_id) == [anna.id]  # offered again: nobody else can take it
        clock.advance(config.routing.offer_timeout)
        with caplog.at_level(logging.WARNING, logger="callyard.services.router"):
            services.router.route()
    agent = Agent.get_by_id(anna.id)
    assert (agent.presence, agent.presence_reason, agent.missed_offers) == ("break", "not-ready", 0)
    assert ev.AgentMarkedNotReady(anna.id, config.routing.max_no_answer) in published
    assert ev.AgentPresenceChanged(anna.id, "break", "not-ready") in published
    assert "let 3 offers in a row time out" in caplog.text
    assert Offer.select().where(Offer.state == "pending").count() == 0


def test_a_call_offer_that_times_out_is_not_the_agents_miss(services, clock, config):
    # A call's offer ends when the agent's phone answers or gives up (the voice controller
    # says which); one the router times out is one an overloaded controller never dialled.
    # Counting it put every agent on "not-ready" under load, and calls piled up in the queue.
    anna = add_agent(services, "anna")
    call = ingest(services, thread="c1", channel="voice", identity=("phone", "+100"))
    chat = ingest(services, thread="t1")
    services.router.route()
    assert pending(call) == [anna.id] or pending(chat) == [anna.id]
    for _ in range(2 * config.routing.max_no_answer):
        clock.advance(config.routing.offer_timeout)
        services.router.route()
        agent = Agent.get_by_id(anna.id)
        if pending(chat):
            break
        assert pending(call) == [anna.id]
        assert (agent.presence, agent.missed_offers) == ("available", 0)
    # The chat's offer lapsing is hers, as before.
    assert pending(chat) == [anna.id]
    clock.advance(config.routing.offer_timeout)
    services.router.route()
    assert Agent.get_by_id(anna.id).missed_offers == 1


def test_an_accept_resets_the_missed_offers(services, clock, config):
    anna = add_agent(services, "anna")
    first = ingest(services, thread="v1")
    services.router.route()
    clock.advance(config.routing.offer_timeout)
    services.router.route()  # lapsed once, offered again
    assert Agent.get_by_id(anna.id).missed_offers == 1
    services.interactions.accept(anna.id, first)
    assert Agent.get_by_id(anna.id).missed_offers == 0


def test_rejecting_is_not_missing(services):
    anna = add_agent(services, "anna")
    interaction_id = ingest(services)
    services.router.route()
    for _ in range(5):
        services.interactions.reject(anna.id, interaction_id)
        services.router.route()  # tried last, but nobody else is there
        assert pending(interaction_id) == [anna.id]
    assert Agent.get_by_id(anna.id).presence == "available"


# -- escalation: overflow and timeouts -------------------------------------------------------


def test_overflow_moves_the_interaction_to_the_other_queue(services, clock, published):
    with_queues(
        services,
        QueueConfig(
            name="support",
            skills={"support": 8},
            escalation=[
                EscalationConfig(after=30, min_level=6),
                EscalationConfig(after=60, overflow="general"),
            ],
        ),
        QueueConfig(name="general", skills={"general": 1}),
    )
    ben = add_agent(services, "ben", skills={"general": 3, "support": 2})
    interaction_id = ingest(services)
    services.router.route()
    clock.advance(30)
    services.router.route()
    assert latest(interaction_id).step == "step 1 (after 30s: min level 6)"
    clock.advance(30)
    published.clear()
    services.router.route()
    current = Interaction.get_by_id(interaction_id)
    assert (current.queue.name, current.queue_since, current.state) == ("general", clock.now, OFFERED)
    assert pending(interaction_id) == [ben.id]
    assert ev.InteractionOverflowed(interaction_id, "support", "general") in published
    actions = [
        (d.action, d.step)
        for d in RoutingDecision.select()
        .where(RoutingDecision.interaction == interaction_id)
        .order_by(RoutingDecision.id)
    ]
    assert actions[-2:] == [("overflow", "step 2 (after 60s: overflow to general)"), ("offer", "base")]


def test_timeout_close_tells_the_customer_through_the_outbox_and_closes(services, clock, published):
    with_queues(
        services,
        QueueConfig(
            name="support",
            skills={"support": 1},
            escalation=[EscalationConfig(after=300, timeout="close", message="We are all busy, sorry.")],
        ),
    )
    interaction_id = ingest(services)
    services.router.route()
    clock.advance(299)
    services.router.route()
    assert Interaction.get_by_id(interaction_id).state == QUEUED
    clock.advance(1)
    published.clear()
    services.router.route()
    current = Interaction.get_by_id(interaction_id)
    assert (current.state, current.closed_at) == (CLOSED, clock.now)
    (reply,) = Message.select().where(Message.interaction == interaction_id, Message.direction == "out")
    assert reply.body == "We are all busy, sorry."
    (item,) = OutboxItem.select().where(OutboxItem.message == reply.id)
    assert item.state == "pending"
    assert (
        ev.InteractionTimedOut(interaction_id, "support", "close", "nobody could take it in time: close")
        in published
    )
    assert latest(interaction_id).action == "timeout"


@pytest.mark.parametrize("action,state", [("voicemail", VOICEMAIL), ("callback", CALLBACK)])
def test_timeout_voicemail_or_callback_is_an_event_for_the_voice_channel(
    services, clock, published, action, state
):
    with_queues(
        services,
        QueueConfig(
            name="support", skills={"support": 1}, escalation=[EscalationConfig(after=60, timeout=action)]
        ),
    )
    interaction_id = ingest(services, channel="voice", thread="call-1")
    services.router.route()
    clock.advance(60)
    services.router.route()
    assert Interaction.get_by_id(interaction_id).state == state
    timed_out = [e for e in published if isinstance(e, ev.InteractionTimedOut)]
    assert [(e.interaction_id, e.action) for e in timed_out] == [(interaction_id, action)]
    assert OutboxItem.select().count() == 0


def test_after_hours_action(services, clock):
    # the FakeClock starts on Monday 09:00 UTC; this queue opens at 10:00 in UTC
    with_queues(
        services,
        QueueConfig(
            name="support",
            skills={"support": 1},
            hours={"mon": ["10:00-18:00"]},
            after_hours="close",
            after_hours_message="We open at ten.",
        ),
    )
    add_agent(services, "anna")
    interaction_id = ingest(services)
    services.router.route()
    assert Interaction.get_by_id(interaction_id).state == CLOSED
    assert Message.select().where(Message.direction == "out").get().body == "We open at ten."
    assert latest(interaction_id).action == "after-hours"


def test_work_waits_overnight_and_is_offered_at_opening(services, clock):
    with_queues(services, QueueConfig(name="support", skills={"support": 1}, hours={"mon": ["10:00-18:00"]}))
    anna = add_agent(services, "anna")
    interaction_id = ingest(services)
    services.router.route()
    assert Interaction.get_by_id(interaction_id).state == QUEUED
    assert latest(interaction_id).reason == "queue closed (business hours); waits"
    clock.advance(3600)
    services.router.route()
    assert pending(interaction_id) == [anna.id]


# -- sticky agent and the interaction's own skills ----------------------------------------------


def test_a_returning_contact_goes_to_their_last_agent(services, clock):
    with_queues(services, QueueConfig(name="support", skills={"support": 1}, sticky_seconds=3600))
    anna = add_agent(services, "anna")
    first = ingest(services, thread="v1")
    services.router.route()
    services.interactions.accept(anna.id, first)
    services.interactions.close(anna.id, first)
    clock.advance(10)
    ben = add_agent(services, "ben")
    clock.advance(600)
    services.interactions.finish(anna.id, first)
    # ben has been free longer than anna: without sticky, longest-idle would pick him
    assert ben.idle_since < Agent.get_by_id(anna.id).idle_since
    again = ingest(services, thread="v1", n=2)
    services.router.route()
    assert pending(again) == [anna.id]
    assert latest(again).reason == "sticky: Anna served this contact 610s ago"


def test_an_interaction_can_need_a_skill_of_its_own(services):
    add_agent(services, "anna", skills={"support": 5})
    ben = add_agent(services, "ben", skills={"support": 1, "french": 6})
    interaction_id = ingest(services, skills={"french": 4})
    services.router.route()
    assert pending(interaction_id) == [ben.id]
    assert Interaction.get_by_id(interaction_id).skills == {"french": 4}


# -- the index and the store -------------------------------------------------------------------


def test_a_restart_loses_no_queued_work_and_no_agent_state(services, config, clock):
    anna = add_agent(services, "anna", capacity={"chat": 1})
    first, second = ingest(services, thread="v1"), ingest(services, thread="v2")
    services.router.route()
    services.interactions.accept(anna.id, first)
    assert Interaction.get_by_id(second).state == QUEUED
    fresh = services_mod.build(config, store=services.store, clock=clock)
    assert fresh.router.route()[0].item_id == second  # still waiting, still known
    assert Interaction.get_by_id(second).state == QUEUED  # anna is still full
    fresh.interactions.close(anna.id, first)
    fresh.interactions.finish(anna.id, first)
    fresh.router.route()
    assert pending(second) == [anna.id]


def test_changes_made_by_another_process_are_picked_up_at_the_next_round(services, config, clock):
    anna = add_agent(services, "anna")
    clock.advance(1)
    ben = add_agent(services, "ben")
    interaction_id = ingest(services)
    services.router.route()
    assert pending(interaction_id) == [anna.id]
    # `callyard agent disable anna` runs in its own process: its events never reach this bus
    clock.advance(1)
    other = services_mod.build(config, store=services.store, clock=clock)
    other.agents.set_enabled(anna.id, False)
    services.router.route()
    assert pending(interaction_id) == [ben.id]


def test_changes_made_behind_the_routers_back_are_picked_up_at_resync(services, clock):
    anna = add_agent(services, "anna")
    services.router.route()  # index built
    interaction_id = ingest(services)
    Agent.update(enabled=False).where(Agent.id == anna.id).execute()  # e.g. another process
    services.router.invalidate()
    services.router.route()
    assert pending(interaction_id) == []


def test_every_agent_and_waiting_item_is_read_again_a_slice_a_round_after_resync_seconds(
    services, clock, config, monkeypatch
):
    # The safety net for what no event or watch tells (here an agent disabled by a direct
    # UPDATE): read again a few a round, never the whole index in one go.
    from callyard.services import router as router_mod

    monkeypatch.setattr(router_mod, "RESYNC_SLICE", 2)
    reads: list[object] = []
    real = router_mod.agent_states
    monkeypatch.setattr(
        router_mod, "agent_states", lambda ids, now: reads.append(ids and sorted(ids)) or real(ids, now)
    )
    agents = [add_agent(services, login) for login in ("anna", "ben", "cleo", "dan", "eve")]
    ids = [a.id for a in agents]
    services.router.route()
    assert reads == [None]  # the index built once
    Agent.update(enabled=False).where(Agent.id == ids[2]).execute()  # behind the router's back
    reads.clear()
    clock.advance(config.routing.resync_seconds - 1)
    services.router.route()
    assert reads == []  # not due yet
    clock.advance(1)
    for _ in range(4):
        services.router.route()
    assert reads == [ids[0:2], ids[2:4], ids[4:5]]  # then nothing: the pass is over, no rebuild
    assert services.router._brain.agent_ids() == {ids[0], ids[1], ids[3], ids[4]}  # noqa: SLF001
    interaction_id = ingest(services)
    services.router.route()
    assert pending(interaction_id) and ids[2] not in pending(interaction_id)


def test_queue_rules_changed_behind_the_routers_back_rebuild_the_index_at_resync(services, clock, config):
    anna = add_agent(services, "anna", skills={"support": 5})
    services.router.route()
    Queue.update(skills={"support": 9}).where(Queue.name == "support").execute()  # another process
    clock.advance(config.routing.resync_seconds)
    interaction_id = ingest(services)
    services.router.route()
    assert pending(interaction_id) == []  # anna's level 5 is below the queue's new 9
    Queue.update(skills={"support": 1}).where(Queue.name == "support").execute()
    clock.advance(config.routing.resync_seconds)
    services.router.route()
    assert pending(interaction_id) == [anna.id]


def test_decisions_store_strategy_step_and_every_candidate(services):
    with_queues(services, QueueConfig(name="support", strategy="most-skilled", skills={"support": 3}))
    anna = add_agent(services, "anna", skills={"support": 9})
    ben = add_agent(services, "ben", skills={"support": 4})
    cleo = add_agent(services, "cleo", skills={"support": 2})
    interaction_id = ingest(services)
    services.router.route()
    decision = latest(interaction_id)
    assert (decision.agent_id, decision.strategy, decision.action, decision.step) == (
        anna.id,
        "most-skilled",
        "offer",
        "base",
    )
    assert "skill score 9" in decision.reason
    assert [(c["agent_id"], c["eligible"], c["reason"]) for c in decision.candidates] == [
        (anna.id, True, "chosen"),
        (ben.id, True, "eligible"),
        (cleo.id, False, "skill support level 2 < 3"),
    ]
    view = services.views.routing(interaction_id)
    assert view[-1]["strategy"] == "most-skilled"
    assert view[-1]["step"] == "base"
    assert view[-1]["action"] == "offer"
    assert view[-1]["candidates"][0]["score"] == 9.0


def test_a_queue_nobody_can_serve_is_reported(services, caplog):
    with_queues(
        services,
        QueueConfig(name="support", skills={"support": 1}),
        QueueConfig(name="legal", skills={"law": 7}),
    )
    anna = add_agent(services, "anna", skills={"support": 3, "law": 2})
    with caplog.at_level(logging.WARNING, logger="callyard.services.router"):
        found = services.router.report_unservable()
    assert found == {"legal": "no agent has law ≥ 7"}
    assert "queue legal: nobody can serve it: no agent has law ≥ 7" in caplog.text
    inbox = services.inbox.snapshot(Agent.get_by_id(anna.id))
    assert inbox["unservable_queues"] == [{"queue": "legal", "reason": "no agent has law ≥ 7"}]


# -- ring-progressively ----------------------------------------------------------------------


def test_ring_progressively_adds_the_next_agent_while_the_first_keeps_ringing(services, clock, config):
    with_queues(
        services,
        QueueConfig(name="support", strategy="ring-progressively", skills={"support": 1}, ring_interval=10),
    )
    anna, ben = add_agent(services, "anna"), add_agent(services, "ben")
    Agent.update(routing_order=2).where(Agent.id == anna.id).execute()
    Agent.update(routing_order=1).where(Agent.id == ben.id).execute()
    services.router.invalidate()
    interaction_id = ingest(services)
    services.router.route()
    assert pending(interaction_id) == [ben.id]
    clock.advance(9)
    services.router.route()
    assert pending(interaction_id) == [ben.id]
    clock.advance(1)
    services.router.route()
    assert pending(interaction_id) == sorted([anna.id, ben.id])
    assert Interaction.get_by_id(interaction_id).agent_id is None
    services.interactions.accept(anna.id, interaction_id)
    assert pending(interaction_id) == []
    assert Interaction.get_by_id(interaction_id).agent_id == anna.id
