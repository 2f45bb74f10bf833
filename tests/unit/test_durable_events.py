"""What must follow from a change is written in the change's own transaction, on SQLite and
PostgreSQL: a crash right after the commit loses no webhook delivery nor CRM lookup, a failed
write rolls the change back, and the bus's listeners run only once the change is committed.
Also the store's after-commit hook these rest on, and the call events webhooks offer."""

from __future__ import annotations

import pytest

from callyard import events as ev
from callyard.models import Contact, Interaction, Message, OutboxItem, WebhookDelivery

pytestmark = pytest.mark.usefixtures("cheap_passwords")


def chat(services, visitor: str = "v1") -> int:  # noqa: ANN001
    return services.interactions.ingest(
        channel="chat", identity=("chat_visitor", visitor), body="hi", queue="support", thread_key=visitor
    ).interaction_id


def crash_after_commit(monkeypatch, store) -> list:  # noqa: ANN001
    """The process dies the moment a change has committed: nothing registered to run after the
    commit ever runs (the bus's listeners, the dispatcher's wake-up)."""
    lost: list = []
    monkeypatch.setattr(store, "after_commit", lambda callback: lost.append(callback))
    return lost


# -- the store's after-commit hook -----------------------------------------------------------


def test_after_commit_runs_once_the_outermost_transaction_committed(services):  # noqa: ANN001
    store, ran = services.store, []
    with store.atomic():
        store.after_commit(lambda: ran.append(Contact.select().count()))
        with store.atomic():
            store.after_commit(lambda: ran.append("nested"))
        Contact.create(name="Anna", created_at=services.clock())
        assert ran == []
    assert ran == [1, "nested"]


def test_after_commit_is_dropped_with_a_rollback_and_with_a_rolled_back_savepoint(services):  # noqa: ANN001
    store, ran = services.store, []
    with pytest.raises(RuntimeError), store.atomic():
        store.after_commit(lambda: ran.append("rolled back"))
        raise RuntimeError("the change failed")
    with store.atomic():
        store.after_commit(lambda: ran.append("kept"))
        with pytest.raises(RuntimeError), store.atomic():
            store.after_commit(lambda: ran.append("savepoint rolled back"))
            raise RuntimeError("the inner part failed")
    assert ran == ["kept"]
    store.after_commit(lambda: ran.append("no transaction: at once"))
    assert ran == ["kept", "no transaction: at once"]


def test_after_commit_refuses_a_transaction_it_cannot_see_commit(services):  # noqa: ANN001
    with services.store.db.atomic(), pytest.raises(RuntimeError, match="Store.atomic"):
        services.store.after_commit(lambda: None)


# -- writers in the change's transaction -------------------------------------------------------


def test_a_crash_right_after_the_commit_loses_no_webhook_delivery(services, monkeypatch):  # noqa: ANN001
    sub = services.webhooks.subscribe("http://127.0.0.1:9/hook", ["interaction.created", "message.created"])
    lost = crash_after_commit(monkeypatch, services.store)

    interaction_id = chat(services)

    assert lost, "the bus's listeners were to run after the commit"
    rows = list(WebhookDelivery.select().where(WebhookDelivery.subscription == sub.id))
    assert sorted(d.event for d in rows) == ["interaction.created", "message.created"]
    items = OutboxItem.select().where(OutboxItem.id.in_([d.outbox_item_id for d in rows]))
    assert {i.state for i in items} == {"pending"}  # the dispatcher finds them at its next look
    assert {i.payload["data"]["interaction_id"] for i in items} == {interaction_id}


def test_a_crash_right_after_the_commit_loses_no_crm_lookup(services, monkeypatch):  # noqa: ANN001
    services.crm._config.url = "http://127.0.0.1:9/crm"  # noqa: SLF001 - as if configured
    crash_after_commit(monkeypatch, services.store)

    interaction_id = chat(services)

    lookups = list(OutboxItem.select().where(OutboxItem.channel == "crm"))
    assert [i.payload["interaction_id"] for i in lookups] == [interaction_id]


def test_a_delivery_that_cannot_be_written_rolls_the_change_back(services, monkeypatch):  # noqa: ANN001
    services.webhooks.subscribe("http://127.0.0.1:9/hook", ["message.created"])

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("disk full")

    monkeypatch.setattr(services.webhooks, "_enqueue", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        chat(services)
    # Not stored, so not acknowledged: the customer's side sends it again.
    assert Message.select().count() == 0 and Interaction.select().count() == 0


def test_listeners_run_after_the_commit_and_see_the_deliveries(services):  # noqa: ANN001
    sub = services.webhooks.subscribe("http://127.0.0.1:9/hook", ["interaction.created"])
    seen: list[tuple[bool, int]] = []

    def listener(event: ev.Event) -> None:
        seen.append((services.store.in_transaction(), WebhookDelivery.select().count()))

    services.bus.subscribe(listener, ev.InteractionCreated, first=True)
    chat(services)
    assert seen == [(False, 1)]
    assert WebhookDelivery.get(WebhookDelivery.subscription == sub.id).event == "interaction.created"


def test_an_offer_and_its_webhook_delivery_are_kept_together(services, monkeypatch):  # noqa: ANN001
    sub = services.webhooks.subscribe("http://127.0.0.1:9/hook", ["interaction.offered"])
    anna = services.agents.add("anna", "Anna", "correct horse", skills={"support": 5})
    services.agents.set_presence(anna.id, "available")
    interaction_id = chat(services)
    crash_after_commit(monkeypatch, services.store)

    services.router.route()

    assert Interaction.get_by_id(interaction_id).state == "offered"
    assert [d.event for d in WebhookDelivery.select().where(WebhookDelivery.subscription == sub.id)] == [
        "interaction.offered"
    ]


# -- the call events webhooks offer --------------------------------------------------------------


def test_call_answered_and_call_ended_reach_webhooks_with_the_call(services):  # noqa: ANN001
    sub = services.webhooks.subscribe("http://127.0.0.1:9/hook", ["call.answered", "call.ended"])
    anna = services.agents.add("anna", "Anna", "correct horse", skills={"support": 5})
    services.agents.set_presence(anna.id, "available")
    calls = services.calls
    record = calls.enter("call-1", "79161234567", queue="support")
    calls.enqueue("call-1", "support")
    services.router.route()
    assert calls.ringing("call-1", anna.id, "agent-leg-1")
    services.interactions.accept(anna.id, record.interaction_id)
    calls.connected("call-1", anna.id, "agent-leg-1")
    calls.ended("call-1", "NORMAL_CLEARING")

    items = {
        d.event: d.outbox_item.payload["data"]
        for d in WebhookDelivery.select().where(WebhookDelivery.subscription == sub.id)
    }
    assert set(items) == {"call.answered", "call.ended"}
    answered, ended = items["call.answered"], items["call.ended"]
    assert (answered["uuid"], answered["agent_id"], answered["interaction_id"]) == (
        "call-1",
        anna.id,
        record.interaction_id,
    )
    assert ended["outcome"] == "answered" and ended["call"]["caller_number"] == "79161234567"
    assert ended["call"]["state"] == "ended" and ended["call"]["ended_at"] is not None


def test_a_caller_who_gives_up_in_the_queue_is_a_call_ended_abandoned(services):  # noqa: ANN001
    sub = services.webhooks.subscribe("http://127.0.0.1:9/hook", ["call.ended", "call.answered"])
    services.calls.enter("call-2", "79161234567", queue="support")
    services.calls.enqueue("call-2", "support")
    services.calls.ended("call-2", "ORIGINATOR_CANCEL")
    services.calls.ended("call-2", "ORIGINATOR_CANCEL")  # told twice: one event

    rows = list(WebhookDelivery.select().where(WebhookDelivery.subscription == sub.id))
    assert [(d.event, d.outbox_item.payload["data"]["outcome"]) for d in rows] == [
        ("call.ended", "abandoned")
    ]
