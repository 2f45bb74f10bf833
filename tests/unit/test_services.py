"""callyard.services: the verbs that change state, on SQLite and on PostgreSQL.

Every test uses the ``services`` fixture (a fresh database per test, a FakeClock, queue
"support" requiring skill support>=1), so each one runs once per database.
"""

from __future__ import annotations

import datetime as dt

import pytest
from werkzeug.security import generate_password_hash

from callyard import config as config_mod
from callyard import events as ev
from callyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from callyard.models import (
    ACTIVE,
    CLOSED,
    OFFERED,
    QUEUED,
    WRAP_UP,
    Agent,
    AgentCapacity,
    AgentSkill,
    Contact,
    Identity,
    Interaction,
    Message,
    Offer,
    OutboxItem,
    RoutingDecision,
    StateChange,
)
from callyard.services import agents as agents_module
from callyard.services.interactions import MAX_REPLY_BYTES
from callyard.services.queues import QueueService
from callyard.services.views import message_dict

PASSWORD = "correct horse"


# -- helpers ---------------------------------------------------------------------------------


pytestmark = pytest.mark.usefixtures("cheap_passwords")


@pytest.fixture
def published(services):  # noqa: ANN001, ANN201
    """Every event the services publish, in order."""
    seen: list[ev.Event] = []
    services.bus.subscribe(seen.append)
    return seen


def of_type(events: list[ev.Event], kind: type[ev.Event]) -> list[ev.Event]:
    return [e for e in events if isinstance(e, kind)]


def add_agent(services, login: str, *, skills=None, presence="available", **kwargs):  # noqa: ANN001, ANN201
    agent = services.agents.add(
        login, login.title(), PASSWORD, skills={"support": 5} if skills is None else skills, **kwargs
    )
    if presence != "offline":
        services.agents.set_presence(agent.id, presence)
    return services.agents.get(agent.id)


def ingest(services, *, thread="v1", n=1, body="hello", channel="chat", **kwargs):  # noqa: ANN001, ANN201
    kwargs.setdefault("identity", ("chat_visitor", thread))
    kwargs.setdefault("queue", "support")
    kwargs.setdefault("external_id", f"{thread}:{n}")
    return services.interactions.ingest(channel=channel, body=body, thread_key=thread, **kwargs)


def interaction(interaction_id: int) -> Interaction:
    return Interaction.get_by_id(interaction_id)


def offers(interaction_id: int) -> list[tuple[int, str]]:
    return [
        (o.agent_id, o.state)
        for o in Offer.select().where(Offer.interaction == interaction_id).order_by(Offer.id)
    ]


def decisions(interaction_id: int) -> list[RoutingDecision]:
    return list(
        RoutingDecision.select()
        .where(RoutingDecision.interaction == interaction_id)
        .order_by(RoutingDecision.id)
    )


def offered_to(services, agent, *, thread="v1"):  # noqa: ANN001, ANN201
    """A new chat, routed: offered to ``agent``."""
    result = ingest(services, thread=thread)
    services.router.route()
    current = interaction(result.interaction_id)
    assert (current.state, current.agent_id) == (OFFERED, agent.id)
    return result.interaction_id


def active_with(services, agent, *, thread="v1"):  # noqa: ANN001, ANN201
    interaction_id = offered_to(services, agent, thread=thread)
    services.interactions.accept(agent.id, interaction_id)
    return interaction_id


# -- ingest ----------------------------------------------------------------------------------


def test_ingest_creates_a_contact_and_a_queued_interaction(services, clock, published):
    result = ingest(services, body="hello there", contact_name="Ada")
    assert result.duplicate is False
    created = interaction(result.interaction_id)
    assert created.state == QUEUED
    assert created.channel == "chat"
    assert created.queue.name == "support"
    assert created.thread_key == "v1"
    assert created.agent_id is None
    assert created.queued_at == clock.now
    assert created.last_message_at == clock.now
    identity = Identity.get(Identity.kind == "chat_visitor", Identity.value == "v1")
    assert identity.contact_id == created.contact_id
    assert Contact.get_by_id(created.contact_id).name == "Ada"
    message = Message.get_by_id(result.message_id)
    assert (message.interaction_id, message.direction, message.body, message.external_id) == (
        created.id,
        "in",
        "hello there",
        "v1:1",
    )
    history = [(s.from_state, s.to_state) for s in StateChange.select().order_by(StateChange.id)]
    assert history == [(None, "new"), ("new", "queued")]
    assert published == [
        ev.InteractionCreated(created.id, "chat"),
        ev.InteractionQueued(created.id, "support"),
        ev.MessageCreated(message.id, created.id, "chat", "in", None),
    ]


def test_ingest_dedupes_by_channel_and_external_id(services, published):
    first = ingest(services, n=1)
    published.clear()
    again = ingest(services, n=1, body="hello (resent)")
    assert again.duplicate is True
    assert (again.interaction_id, again.message_id) == (first.interaction_id, first.message_id)
    assert Message.select().count() == 1
    assert Message.get_by_id(first.message_id).body == "hello"
    assert Interaction.select().count() == 1
    assert published == []  # nothing happened, so nothing is announced
    # the same external id on another channel is another message
    other = ingest(services, n=1, channel="telegram", identity=("telegram", "42"))
    assert other.duplicate is False
    assert Message.select().count() == 2


def test_a_resend_after_its_conversation_closed_leaves_nothing_behind(services, published):
    """The resend reaches the INSERT of its message (nothing open continues its thread, so a
    new interaction is begun first): the unique (channel, external_id) refuses it and the
    whole transaction is rolled back."""
    first = ingest(services, n=1)
    Interaction.update(state="closed").where(Interaction.id == first.interaction_id).execute()
    published.clear()
    counts = Interaction.select().count(), StateChange.select().count(), Contact.select().count()
    again = ingest(services, n=1, body="hello (resent)")
    assert again.duplicate is True
    assert (again.interaction_id, again.message_id) == (first.interaction_id, first.message_id)
    assert (Interaction.select().count(), StateChange.select().count(), Contact.select().count()) == counts
    assert Message.select().count() == 1
    assert published == []


def test_ingest_hands_back_the_stored_message_as_a_read_would_find_it(services):
    # The chat channel answers a visitor with this row instead of reading it again.
    first = ingest(services, n=1)
    again = ingest(services, n=1, body="hello (resent)")
    for result in (first, again):
        stored = Message.get_by_id(result.message_id)
        assert result.message is not None
        assert message_dict(result.message, attachments=[]) == message_dict(stored, attachments=[])
    assert again.message.body == "hello"  # the resend is the row stored first


def test_messages_without_external_id_are_never_deduplicated(services):
    a = ingest(services, external_id=None)
    b = ingest(services, external_id=None)
    assert a.message_id != b.message_id
    assert a.interaction_id == b.interaction_id


def test_a_second_message_from_the_same_thread_joins_the_open_interaction(services):
    first = ingest(services, n=1)
    second = ingest(services, n=2, body="are you there?")
    assert second.duplicate is False
    assert second.interaction_id == first.interaction_id
    assert Interaction.select().count() == 1
    assert Contact.select().count() == 1
    bodies = [
        m.body
        for m in Message.select().where(Message.interaction == first.interaction_id).order_by(Message.id)
    ]
    assert bodies == ["hello", "are you there?"]
    # another visitor is another interaction and another contact
    other = ingest(services, thread="v2")
    assert other.interaction_id != first.interaction_id
    assert interaction(other.interaction_id).contact_id != interaction(first.interaction_id).contact_id


def test_a_message_after_the_interaction_ended_opens_a_new_one(services):
    anna = add_agent(services, "anna")
    old = active_with(services, anna)
    services.interactions.close(anna.id, old)
    later = ingest(services, n=2)
    assert later.interaction_id != old
    assert interaction(later.interaction_id).state == QUEUED
    assert interaction(later.interaction_id).contact_id == interaction(old).contact_id


@pytest.mark.parametrize("body", ["", "   \n\t"])
def test_ingest_refuses_an_empty_message_and_stores_nothing(services, body, published):
    with pytest.raises(InvalidInput) as info:
        ingest(services, body=body)
    assert info.value.error_id == "empty-message"
    assert (Message.select().count(), Interaction.select().count(), Contact.select().count()) == (0, 0, 0)
    assert published == []


def test_ingest_refuses_a_message_over_max_bytes_and_stores_nothing(services, config):
    limit = config.channels.chat.max_message_bytes
    # the limit is in bytes of UTF-8, not in characters: 'é' is two bytes
    body = "é" * (limit // 2 + 1)
    assert len(body) < limit
    with pytest.raises(InvalidInput) as info:
        ingest(services, body=body, max_bytes=limit)
    assert info.value.error_id == "message-too-large"
    assert info.value.details["max_bytes"] == limit
    assert (Message.select().count(), Interaction.select().count(), Contact.select().count()) == (0, 0, 0)
    # exactly at the limit is fine
    ingest(services, body="x" * limit, max_bytes=limit)
    assert Message.select().count() == 1


def test_ingest_remembers_found_queues_but_not_missing_ones(services):
    """Ingest keeps the ids of queues it found; a name it did not find is looked up again, so a
    queue created afterwards (here, or by another process such as the CLI) takes messages."""
    with pytest.raises(NotFound):
        ingest(services, thread="a", queue="sales")
    other_process = QueueService(services.store, services.clock)
    sales = other_process.add("sales")
    first = ingest(services, thread="b", queue="sales")
    second = ingest(services, thread="c", queue="sales")  # from memory
    for result in (first, second):
        stored = Interaction.get_by_id(result.interaction_id)
        assert stored.queue_id == sales.id and stored.queue.name == "sales"
    # the queue's other settings are read from the store where they are used, never from memory
    other_process.sync([config_mod.QueueConfig(name="sales", wrap_up_seconds=30)])
    assert Interaction.get_by_id(second.interaction_id).queue.wrap_up_seconds == 30


def test_ingest_into_an_unknown_queue_or_channel(services):
    with pytest.raises(NotFound) as info:
        ingest(services, queue="nope")
    assert info.value.error_id == "queue-not-found"
    with pytest.raises(InvalidInput) as info:
        ingest(services, channel="pigeon")
    assert info.value.error_id == "invalid-channel"
    assert Message.select().count() == 0


# -- routing ---------------------------------------------------------------------------------


def test_routing_offers_to_an_available_skilled_agent_and_records_why(services, clock, config, published):
    anna = add_agent(services, "anna")
    result = ingest(services)
    published.clear()
    (decision,) = services.router.route()
    assert decision.agent_id == anna.id
    current = interaction(result.interaction_id)
    assert (current.state, current.agent_id) == (OFFERED, anna.id)
    (offer,) = Offer.select()
    assert (offer.agent_id, offer.state) == (anna.id, "pending")
    assert offer.expires_at == clock.now + dt.timedelta(seconds=config.routing.offer_timeout)
    (recorded,) = decisions(result.interaction_id)
    assert recorded.agent_id == anna.id
    assert recorded.strategy == "longest-idle"
    assert "Anna" in recorded.reason
    assert (recorded.action, recorded.step) == ("offer", "base")
    assert recorded.candidates == [
        {"agent_id": anna.id, "name": "Anna", "eligible": True, "reason": "chosen", "score": 0.0}
    ]
    assert published == [ev.InteractionOffered(current.id, anna.id, offer.id, offer.expires_at)]


def test_routing_with_nothing_waiting_does_nothing(services):
    add_agent(services, "anna")
    assert services.router.route() == []
    assert RoutingDecision.select().count() == 0


def test_longest_idle_agent_gets_the_offer(services, clock):
    anna = add_agent(services, "anna")
    clock.advance(10)
    add_agent(services, "ben")
    offered_to(services, anna)


def test_agents_lacking_the_skill_or_on_break_get_nothing_and_the_wait_is_recorded_once(services, clock):
    ben = add_agent(services, "ben", skills={"sales": 9})
    cleo = add_agent(services, "cleo", skills={"support": 9}, presence="break")
    dan = add_agent(services, "dan", skills={"support": 9}, presence="offline")
    result = ingest(services)
    (decision,) = services.router.route()
    assert decision.agent_id is None
    for _ in range(3):  # nothing changed: nothing to decide again
        clock.advance(5)
        assert services.router.route() == []
    current = interaction(result.interaction_id)
    assert (current.state, current.agent_id) == (QUEUED, None)
    assert Offer.select().count() == 0
    (recorded,) = decisions(result.interaction_id)  # once, not on every round
    assert recorded.agent_id is None
    assert recorded.reason == "no eligible agent"
    assert {c["agent_id"]: c["reason"] for c in recorded.candidates} == {
        ben.id: "lacks skill support",
        cleo.id: "presence is break",
        dan.id: "presence is offline",
    }
    # once the picture changes, the work moves, and that is recorded too
    services.agents.set_presence(cleo.id, "available")
    services.router.route()
    assert interaction(result.interaction_id).agent_id == cleo.id
    assert [d.agent_id for d in decisions(result.interaction_id)] == [None, cleo.id]


def test_below_the_minimum_skill_level_gets_nothing(services):
    services.queues.add("expert", skills={"support": 7})
    add_agent(services, "anna", skills={"support": 6})
    result = ingest(services, queue="expert")
    services.router.route()
    assert interaction(result.interaction_id).state == QUEUED
    (recorded,) = decisions(result.interaction_id)
    assert recorded.candidates[0]["reason"] == "skill support level 6 < 7"


def test_capacity_is_respected_within_one_round(services):
    anna = add_agent(services, "anna", capacity={"chat": 1})
    first = ingest(services, thread="v1")
    second = ingest(services, thread="v2")
    services.router.route()
    assert offers(first.interaction_id) == [(anna.id, "pending")]
    assert offers(second.interaction_id) == []
    assert interaction(second.interaction_id).state == QUEUED
    (waiting,) = decisions(second.interaction_id)
    assert waiting.candidates[0]["reason"] == "at capacity for chat (1/1)"


def test_capacity_is_respected_across_rounds(services):
    anna = add_agent(services, "anna", capacity={"chat": 1})
    first = offered_to(services, anna, thread="v1")
    second = ingest(services, thread="v2")
    services.router.route()
    assert interaction(second.interaction_id).state == QUEUED
    # accepting keeps the load, wrap-up keeps it too; only finishing frees the agent
    services.interactions.accept(anna.id, first)
    services.router.route()
    assert interaction(second.interaction_id).state == QUEUED
    services.interactions.close(anna.id, first)
    services.router.route()
    assert interaction(second.interaction_id).state == QUEUED
    services.interactions.finish(anna.id, first)
    services.router.route()
    assert interaction(second.interaction_id).agent_id == anna.id


def test_disabled_agents_are_not_routed_to(services):
    anna = add_agent(services, "anna")
    Agent.update(enabled=False).where(Agent.id == anna.id).execute()
    result = ingest(services)
    services.router.route()
    assert interaction(result.interaction_id).state == QUEUED


# -- offers: timeout, accept, reject -----------------------------------------------------------


def test_offer_timeout_requeues_and_the_next_agent_gets_it(services, clock, config, published):
    anna = add_agent(services, "anna")
    clock.advance(1)
    ben = add_agent(services, "ben")
    interaction_id = offered_to(services, anna)
    clock.advance(config.routing.offer_timeout - 1)
    services.router.route()
    assert offers(interaction_id) == [(anna.id, "pending")]  # not yet
    clock.advance(1)
    published.clear()
    services.router.route()
    assert offers(interaction_id) == [(anna.id, "expired"), (ben.id, "pending")]
    current = interaction(interaction_id)
    assert (current.state, current.agent_id) == (OFFERED, ben.id)
    assert [type(e) for e in published] == [ev.OfferWithdrawn, ev.InteractionQueued, ev.InteractionOffered]
    assert published[0].reason == "offer timed out"
    states = [(s.from_state, s.to_state) for s in StateChange.select().order_by(StateChange.id)]
    assert states[-3:] == [(QUEUED, OFFERED), (OFFERED, QUEUED), (QUEUED, OFFERED)]


def test_an_agent_who_let_an_offer_lapse_is_tried_last_but_still_tried(services, clock, config):
    anna = add_agent(services, "anna")
    interaction_id = offered_to(services, anna)
    clock.advance(config.routing.offer_timeout)
    services.router.route()
    assert offers(interaction_id) == [(anna.id, "expired"), (anna.id, "pending")]


def test_accept_makes_the_interaction_active(services, clock, published):
    anna = add_agent(services, "anna")
    interaction_id = offered_to(services, anna)
    clock.advance(3)
    published.clear()
    accepted = services.interactions.accept(anna.id, interaction_id)
    assert (accepted.state, accepted.agent_id, accepted.answered_at) == (ACTIVE, anna.id, clock.now)
    assert offers(interaction_id) == [(anna.id, "accepted")]
    assert published == [ev.InteractionAssigned(interaction_id, anna.id)]


def test_accepting_twice_or_by_the_wrong_agent_is_a_conflict(services):
    anna = add_agent(services, "anna")
    ben = add_agent(services, "ben")
    interaction_id = offered_to(services, anna)
    with pytest.raises(Conflict) as info:
        services.interactions.accept(ben.id, interaction_id)
    assert info.value.error_id == "offer-gone"
    # the wrong agent's attempt changed nothing
    assert (interaction(interaction_id).state, offers(interaction_id)) == (OFFERED, [(anna.id, "pending")])
    services.interactions.accept(anna.id, interaction_id)
    with pytest.raises(Conflict):
        services.interactions.accept(anna.id, interaction_id)
    with pytest.raises(Conflict):
        services.interactions.accept(ben.id, interaction_id)
    current = interaction(interaction_id)
    assert (current.state, current.agent_id) == (ACTIVE, anna.id)


def test_accept_just_before_the_timeout_wins(services, clock, config):
    anna = add_agent(services, "anna")
    interaction_id = offered_to(services, anna)
    clock.advance(config.routing.offer_timeout - 1)
    assert services.interactions.accept(anna.id, interaction_id).state == ACTIVE


def test_a_stale_accept_after_the_timeout_is_refused_as_expired(services, clock, config):
    anna = add_agent(services, "anna")
    interaction_id = offered_to(services, anna)
    clock.advance(config.routing.offer_timeout)
    with pytest.raises(Conflict) as info:
        services.interactions.accept(anna.id, interaction_id)
    assert info.value.error_id == "offer-expired"
    # the lapsed offer is ended for good and the work is back in the queue
    assert offers(interaction_id) == [(anna.id, "expired")]
    assert (interaction(interaction_id).state, interaction(interaction_id).agent_id) == (QUEUED, None)


def test_an_accept_after_the_router_expired_the_offer_is_refused_as_expired(services, clock, config):
    anna = add_agent(services, "anna")
    clock.advance(1)
    ben = add_agent(services, "ben")
    interaction_id = offered_to(services, anna)
    clock.advance(config.routing.offer_timeout)
    services.router.route()  # the router's tick came first and gave it to ben
    with pytest.raises(Conflict) as info:
        services.interactions.accept(anna.id, interaction_id)
    assert info.value.error_id == "offer-expired"
    services.interactions.accept(ben.id, interaction_id)
    assert interaction(interaction_id).agent_id == ben.id


def test_reject_requeues_and_the_next_agent_gets_it(services, clock, published):
    anna = add_agent(services, "anna")
    clock.advance(1)
    ben = add_agent(services, "ben")
    interaction_id = offered_to(services, anna)
    published.clear()
    services.interactions.reject(anna.id, interaction_id)
    current = interaction(interaction_id)
    assert (current.state, current.agent_id) == (QUEUED, None)
    assert offers(interaction_id) == [(anna.id, "rejected")]
    assert [type(e) for e in published] == [ev.OfferWithdrawn, ev.InteractionQueued]
    with pytest.raises(Conflict):
        services.interactions.reject(anna.id, interaction_id)  # nothing left to reject
    services.router.route()
    assert interaction(interaction_id).agent_id == ben.id


def test_reject_by_an_agent_without_the_offer_is_a_conflict(services):
    anna = add_agent(services, "anna")
    ben = add_agent(services, "ben")
    interaction_id = offered_to(services, anna)
    with pytest.raises(Conflict):
        services.interactions.reject(ben.id, interaction_id)
    assert offers(interaction_id) == [(anna.id, "pending")]


# -- replies ---------------------------------------------------------------------------------


def test_reply_stores_the_message_and_an_outbox_item(services, clock, published):
    anna = add_agent(services, "anna")
    interaction_id = active_with(services, anna)
    clock.advance(4)
    published.clear()
    message = services.interactions.reply(anna.id, interaction_id, "hi, how can I help?")
    stored = Message.get_by_id(message.id)
    assert (stored.direction, stored.agent_id, stored.body, stored.channel) == (
        "out",
        anna.id,
        "hi, how can I help?",
        "chat",
    )
    (item,) = OutboxItem.select()
    assert (item.message_id, item.channel, item.state, item.attempts) == (message.id, "chat", "pending", 0)
    assert item.next_attempt_at == clock.now
    assert interaction(interaction_id).last_message_at == clock.now
    assert published == [
        ev.MessageCreated(message.id, interaction_id, "chat", "out", anna.id),
        ev.OutboxItemAdded(item.id, "chat"),
    ]


def test_reply_and_its_outbox_item_are_one_transaction(services, monkeypatch):
    anna = add_agent(services, "anna")
    interaction_id = active_with(services, anna)

    def broken_enqueue(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("disk full")

    monkeypatch.setattr(services.outbox, "enqueue", broken_enqueue)
    with pytest.raises(RuntimeError):
        services.interactions.reply(anna.id, interaction_id, "lost?")
    assert Message.select().where(Message.direction == "out").count() == 0
    assert OutboxItem.select().count() == 0


def test_reply_by_another_agent_is_forbidden(services):
    anna = add_agent(services, "anna")
    ben = add_agent(services, "ben")
    interaction_id = active_with(services, anna)
    with pytest.raises(Forbidden) as info:
        services.interactions.reply(ben.id, interaction_id, "let me take this")
    assert info.value.error_id == "not-your-interaction"
    assert Message.select().where(Message.direction == "out").count() == 0
    assert OutboxItem.select().count() == 0


def test_reply_requires_an_active_interaction(services):
    anna = add_agent(services, "anna")
    interaction_id = offered_to(services, anna)  # offered, not yet accepted
    with pytest.raises(Conflict) as info:
        services.interactions.reply(anna.id, interaction_id, "hi")
    assert info.value.error_id == "not-active"
    services.interactions.accept(anna.id, interaction_id)
    services.interactions.close(anna.id, interaction_id)
    with pytest.raises(Conflict) as info:
        services.interactions.reply(anna.id, interaction_id, "one more thing")
    assert info.value.error_id == "not-active"
    assert Message.select().where(Message.direction == "out").count() == 0
    assert OutboxItem.select().count() == 0


def test_reply_to_a_missing_interaction(services):
    anna = add_agent(services, "anna")
    with pytest.raises(NotFound):
        services.interactions.reply(anna.id, 999, "hello?")


@pytest.mark.parametrize(
    ("body", "error_id"),
    [("", "empty-message"), ("  \n ", "empty-message"), ("x" * (MAX_REPLY_BYTES + 1), "message-too-large")],
    ids=["empty", "blank", "too-large"],
)
def test_invalid_replies_store_nothing(services, body, error_id):
    anna = add_agent(services, "anna")
    interaction_id = active_with(services, anna)
    with pytest.raises(InvalidInput) as info:
        services.interactions.reply(anna.id, interaction_id, body)
    assert info.value.error_id == error_id
    assert Message.select().where(Message.direction == "out").count() == 0
    assert OutboxItem.select().count() == 0


def test_a_reply_of_exactly_max_bytes_is_fine(services):
    anna = add_agent(services, "anna")
    interaction_id = active_with(services, anna)
    services.interactions.reply(anna.id, interaction_id, "x" * MAX_REPLY_BYTES)
    assert OutboxItem.select().count() == 1


# -- close, finish, state machine ----------------------------------------------------------------


def test_close_goes_to_wrap_up_and_finish_closes_and_frees_the_agent(services, clock, published):
    anna = add_agent(services, "anna")
    interaction_id = active_with(services, anna)
    clock.advance(60)
    published.clear()
    closed = services.interactions.close(anna.id, interaction_id)
    assert (closed.state, closed.ended_at) == (WRAP_UP, clock.now)
    assert published == [ev.InteractionWrappedUp(interaction_id, anna.id)]
    assert services.agents.get(anna.id).idle_since < clock.now
    clock.advance(15)
    published.clear()
    finished = services.interactions.finish(anna.id, interaction_id)
    assert (finished.state, finished.closed_at) == (CLOSED, clock.now)
    assert services.agents.get(anna.id).idle_since == clock.now
    assert published == [ev.InteractionClosed(interaction_id, anna.id)]
    states = [s.to_state for s in StateChange.select().order_by(StateChange.id)]
    assert states == ["new", QUEUED, OFFERED, ACTIVE, WRAP_UP, CLOSED]


def test_close_and_finish_by_another_agent_are_forbidden(services):
    anna = add_agent(services, "anna")
    ben = add_agent(services, "ben")
    interaction_id = active_with(services, anna)
    with pytest.raises(Forbidden):
        services.interactions.close(ben.id, interaction_id)
    services.interactions.close(anna.id, interaction_id)
    with pytest.raises(Forbidden):
        services.interactions.finish(ben.id, interaction_id)
    assert interaction(interaction_id).state == WRAP_UP


def test_invalid_transitions_are_conflicts(services):
    anna = add_agent(services, "anna")
    interaction_id = offered_to(services, anna)
    # an offer that was never accepted can be neither wrapped up nor finished
    for verb in (services.interactions.close, services.interactions.finish):
        with pytest.raises(Conflict) as info:
            verb(anna.id, interaction_id)
        assert info.value.error_id == "invalid-transition"
    assert interaction(interaction_id).state == OFFERED
    assert offers(interaction_id) == [(anna.id, "pending")]
    services.interactions.accept(anna.id, interaction_id)
    services.interactions.close(anna.id, interaction_id)
    with pytest.raises(Conflict) as info:
        services.interactions.close(anna.id, interaction_id)
    assert info.value.error_id == "invalid-transition"
    services.interactions.finish(anna.id, interaction_id)
    for verb in (services.interactions.close, services.interactions.finish):
        with pytest.raises(Conflict) as info:
            verb(anna.id, interaction_id)
        assert info.value.error_id == "invalid-transition"
    with pytest.raises(Conflict):
        services.interactions.accept(anna.id, interaction_id)
    assert interaction(interaction_id).state == CLOSED
    to_states = [s.to_state for s in StateChange.select().order_by(StateChange.id)]
    assert to_states.count(CLOSED) == 1


def test_wrap_up_ends_by_itself_after_the_queue_wrap_up_time(services, clock):
    services.queues.add("sales", skills={"support": 1}, wrap_up_seconds=20)
    anna = add_agent(services, "anna")
    result = ingest(services, queue="sales")
    services.router.route()
    services.interactions.accept(anna.id, result.interaction_id)
    services.interactions.close(anna.id, result.interaction_id)
    clock.advance(19)
    services.router.route()
    assert interaction(result.interaction_id).state == WRAP_UP
    clock.advance(1)
    services.router.route()
    assert interaction(result.interaction_id).state == CLOSED
    assert services.agents.get(anna.id).idle_since == clock.now


def test_chores_are_done_one_step_at_a_time_each_committed_before_the_next(services, clock, published):
    # The server yields between steps (a call entering a queue is routed after one of them, not
    # after all): what each step did must be committed, and told, by then.
    services.queues.add("sales", skills={"support": 1}, wrap_up_seconds=20)
    wrapping = []
    for login in ("anna", "ben"):
        agent = add_agent(services, login)
        result = ingest(services, queue="sales", thread=login)
        services.router.route()
        services.interactions.accept(agent.id, result.interaction_id)
        services.interactions.close(agent.id, result.interaction_id)
        wrapping.append(result.interaction_id)
    clock.advance(20)
    published.clear()
    seen = []

    def between() -> None:
        assert not services.store.in_transaction()
        seen.append(([interaction(i).state for i in wrapping], [e.name for e in published]))

    services.router.chores(between=between)
    assert seen == [
        ([CLOSED, WRAP_UP], ["interaction.closed"]),
        ([CLOSED, CLOSED], ["interaction.closed", "interaction.closed"]),
    ]


# -- presence --------------------------------------------------------------------------------


@pytest.mark.parametrize(("presence", "reason"), [("break", "lunch"), ("offline", "")])
def test_leaving_available_withdraws_pending_offers_and_requeues(
    services, clock, published, presence, reason
):
    anna = add_agent(services, "anna")
    clock.advance(1)
    ben = add_agent(services, "ben")
    interaction_id = offered_to(services, anna)
    published.clear()
    updated = services.agents.set_presence(anna.id, presence, "lunch")
    assert (updated.presence, updated.presence_reason, updated.presence_since) == (
        presence,
        reason,
        clock.now,
    )
    assert offers(interaction_id) == [(anna.id, "withdrawn")]
    current = interaction(interaction_id)
    assert (current.state, current.agent_id) == (QUEUED, None)
    assert [type(e) for e in published] == [ev.OfferWithdrawn, ev.InteractionQueued, ev.AgentPresenceChanged]
    assert published[0].reason == f"agent went {presence}"
    assert published[-1] == ev.AgentPresenceChanged(anna.id, presence, reason)
    services.router.route()
    assert offers(interaction_id) == [(anna.id, "withdrawn"), (ben.id, "pending")]


def test_an_agent_on_break_keeps_the_work_already_accepted(services):
    anna = add_agent(services, "anna")
    interaction_id = active_with(services, anna)
    services.agents.set_presence(anna.id, "break", "coffee")
    current = interaction(interaction_id)
    assert (current.state, current.agent_id) == (ACTIVE, anna.id)


def test_coming_back_resets_idle_time(services, clock):
    anna = add_agent(services, "anna")
    services.agents.set_presence(anna.id, "break")
    clock.advance(30)
    back = services.agents.set_presence(anna.id, "available")
    assert back.idle_since == clock.now
    assert back.presence_reason == ""


def test_unknown_presence_is_invalid(services):
    anna = add_agent(services, "anna")
    with pytest.raises(InvalidInput) as info:
        services.agents.set_presence(anna.id, "busy")
    assert info.value.error_id == "invalid-presence"
    assert services.agents.get(anna.id).presence == "available"


# -- agents ----------------------------------------------------------------------------------


def test_add_agent_stores_skills_and_default_capacity(services, config):
    agent = services.agents.add("  Anna.K ", "Anna K", PASSWORD, skills={"support": 3}, capacity={"chat": 1})
    assert agent.login == "anna.k"
    assert (agent.role, agent.presence, agent.enabled) == ("agent", "offline", True)
    assert agent.password_hash != PASSWORD
    assert services.agents.skills(agent.id) == {"support": 3}
    assert services.agents.capacity(agent.id) == {
        "chat": 1,
        "email": config.capacity.email,
        "voice": config.capacity.voice,
        "telegram": config.capacity.telegram,
        "api": config.capacity.api,
    }


@pytest.mark.parametrize(
    ("login", "name", "password", "kwargs", "error_id"),
    [
        ("", "Anna", PASSWORD, {}, "invalid-agent"),
        ("has space", "Anna", PASSWORD, {}, "invalid-agent"),
        ("-anna", "Anna", PASSWORD, {}, "invalid-agent"),
        ("anna@example", "Anna", PASSWORD, {}, "invalid-agent"),
        ("a" * 65, "Anna", PASSWORD, {}, "invalid-agent"),
        ("anna", "  ", PASSWORD, {}, "invalid-agent"),
        ("anna", "Anna", "short12", {}, "weak-password"),
        ("anna", "Anna", PASSWORD, {"role": "root"}, "invalid-agent"),
        ("anna", "Anna", PASSWORD, {"skills": {"support": 11}}, "invalid-agent"),
        ("anna", "Anna", PASSWORD, {"skills": {"support": 0}}, "invalid-agent"),
        ("anna", "Anna", PASSWORD, {"capacity": {"fax": 1}}, "invalid-agent"),
        ("anna", "Anna", PASSWORD, {"capacity": {"chat": -1}}, "invalid-agent"),
    ],
)
def test_add_agent_validation(services, login, name, password, kwargs, error_id):
    with pytest.raises(InvalidInput) as info:
        services.agents.add(login, name, password, **kwargs)
    assert info.value.error_id == error_id
    assert (Agent.select().count(), AgentSkill.select().count(), AgentCapacity.select().count()) == (0, 0, 0)


def test_add_agent_limits_are_inclusive(services):
    services.agents.add("a" * 64, "Long", "x" * 8, role="admin", skills={"support": 10, "sales": 1})
    assert Agent.select().count() == 1


def test_duplicate_login_is_a_conflict(services):
    services.agents.add("anna", "Anna", PASSWORD)
    with pytest.raises(Conflict) as info:
        services.agents.add("ANNA", "Another Anna", PASSWORD)
    assert info.value.error_id == "agent-exists"
    assert Agent.select().count() == 1


def test_authenticate(services):
    anna = services.agents.add("anna", "Anna", PASSWORD)
    assert services.agents.authenticate("anna", PASSWORD).id == anna.id
    assert services.agents.authenticate(" Anna ", PASSWORD).id == anna.id
    assert services.agents.authenticate("anna", PASSWORD + "!") is None
    assert services.agents.authenticate("anna", "") is None
    assert services.agents.authenticate("nobody", PASSWORD) is None


def test_an_unknown_login_costs_a_hash_check_like_a_known_one(services, monkeypatch):
    # A wrong login and a wrong password must take the same time: the unknown login is checked
    # against a hash made the way werkzeug makes real ones (same method, same work factor).
    checked = []
    real_check = agents_module.check_password_hash
    monkeypatch.setattr(
        agents_module, "check_password_hash", lambda h, p: checked.append(h) or real_check(h, p)
    )
    assert services.agents.authenticate("nobody", "not-a-password") is None
    assert checked == [agents_module._DUMMY_HASH]
    method = generate_password_hash("x").split("$")[0]
    assert agents_module._DUMMY_HASH.split("$")[0] == method


def test_a_disabled_agent_cannot_authenticate(services):
    anna = services.agents.add("anna", "Anna", PASSWORD)
    Agent.update(enabled=False).where(Agent.id == anna.id).execute()
    assert services.agents.authenticate("anna", PASSWORD) is None


def test_unknown_agent(services):
    with pytest.raises(NotFound):
        services.agents.get(12345)
    with pytest.raises(NotFound):
        services.agents.by_login("nobody")


# -- outbox ----------------------------------------------------------------------------------


@pytest.fixture
def outbox_item(services):  # noqa: ANN001, ANN201
    anna = add_agent(services, "anna")
    interaction_id = active_with(services, anna)
    message = services.interactions.reply(anna.id, interaction_id, "on its way")
    (item,) = OutboxItem.select()
    return item, message


def test_outbox_attempt_success_marks_sent(services, clock, outbox_item):
    item, message = outbox_item
    delivered = []
    (due,) = services.outbox.due(clock.now)
    assert due.id == item.id
    clock.advance(1)
    assert services.outbox.attempt(due, delivered.append) is True
    assert [d.id for d in delivered] == [item.id]
    sent = OutboxItem.get_by_id(item.id)
    assert (sent.state, sent.attempts, sent.sent_at, sent.last_error) == ("sent", 1, clock.now, "")
    assert services.outbox.due(clock.advance(3600)) == []
    assert services.outbox.next_due_at() is None
    assert services.outbox.status_of(message.id) == {"state": "sent", "attempts": 1, "error": ""}


def test_outbox_failure_retries_with_backoff_then_fails_visibly(
    services, clock, config, outbox_item, published
):
    item, message = outbox_item
    base = config.outbox.retry_base_seconds
    max_attempts = config.outbox.max_attempts
    assert max_attempts >= 3

    def down(_item):  # noqa: ANN001, ANN202
        raise ConnectionError("gateway down")

    published.clear()
    for attempt in range(1, max_attempts):
        (due,) = services.outbox.due(clock.now)
        assert services.outbox.attempt(due, down) is False
        retried = OutboxItem.get_by_id(item.id)
        delay = base * 2 ** (attempt - 1)
        assert retried.state == "pending"
        assert retried.attempts == attempt
        assert retried.last_error == "ConnectionError: gateway down"
        assert retried.next_attempt_at == clock.now + dt.timedelta(seconds=delay)
        assert services.outbox.next_due_at() == retried.next_attempt_at
        # not due a moment before the backoff is over, due right when it is
        assert services.outbox.due(clock.advance(delay - 0.5)) == []
        clock.advance(0.5)
    assert of_type(published, ev.MessageDeliveryFailed) == []
    (due,) = services.outbox.due(clock.now)
    assert services.outbox.attempt(due, down) is False
    failed = OutboxItem.get_by_id(item.id)
    assert (failed.state, failed.attempts) == ("failed", max_attempts)
    assert published == [
        ev.MessageDeliveryFailed(message.id, message.interaction_id, "ConnectionError: gateway down")
    ]
    assert services.outbox.due(clock.advance(10**6)) == []
    assert services.outbox.status_of(message.id) == {
        "state": "failed",
        "attempts": max_attempts,
        "error": "ConnectionError: gateway down",
    }


def test_outbox_without_an_adapter_counts_as_a_failed_attempt(services, clock, outbox_item):
    item, _ = outbox_item
    assert services.outbox.attempt(item, None) is False
    retried = OutboxItem.get_by_id(item.id)
    assert (retried.state, retried.attempts) == ("pending", 1)
    assert "no adapter" in retried.last_error
