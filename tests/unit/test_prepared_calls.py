"""Prepared queries (SQL built once) on the voice paths read the same rows as the peewee queries they replace, on
SQLite and PostgreSQL alike (their placeholders differ)."""

from __future__ import annotations

import datetime as dt

from callyard.models import CallRecord, Contact, Interaction, Queue, WebhookSubscription
from callyard.prepared import Prepared, slot
from callyard.services.calls import call_record, interaction_of
from callyard.store import Store

BY_UUID = Prepared(lambda: CallRecord.select().where(CallRecord.uuid == slot("uuid")).limit(1))
BY_STATE = Prepared(
    lambda: (
        CallRecord.select()
        .where(CallRecord.state == slot("state"), CallRecord.node == slot("node"))
        .order_by(CallRecord.id)
    ),
)


def _calls(now: dt.datetime) -> list[CallRecord]:
    queue = Queue.get_or_none(Queue.name == "support") or Queue.create(name="support", created_at=now)
    contact = Contact.create(name="Ann", created_at=now)
    rows = []
    for n in range(3):
        interaction = Interaction.create(
            contact=contact,
            channel="voice",
            queue=queue,
            state="queued",
            subject="Call",
            thread_key=f"u{n}",
            skills={"fr": 3},
            created_at=now,
            updated_at=now,
            last_message_at=now,
        )
        rows.append(
            CallRecord.create(
                interaction=interaction,
                uuid=f"u{n}",
                caller_number="7900",
                state="queued" if n else "ivr",
                entered_at=now,
                queued_at=now + dt.timedelta(seconds=n),
                node="node-a",
            )
        )
    return rows


def test_prepared_reads_what_peewee_reads(db_url):  # noqa: ANN001
    store = Store(db_url)
    store.upgrade()
    now = dt.datetime(2026, 1, 2, 3, 4, 5, 678000)
    try:
        with store.connection():
            made = _calls(now)
            for _ in range(2):  # the second time from the SQL built the first time
                got = BY_UUID.first(uuid="u1")
                assert got is not None
                assert got.__data__ == CallRecord.get(CallRecord.uuid == "u1").__data__
                assert got.queued_at == now + dt.timedelta(seconds=1)  # a datetime, as peewee reads it
                assert BY_UUID.first(uuid="nobody") is None
                assert [r.uuid for r in BY_STATE.all(state="queued", node="node-a")] == ["u1", "u2"]
                assert BY_STATE.all(state="queued", node="node-b") == []
            assert call_record("u2").interaction_id == made[2].interaction_id  # type: ignore[union-attr]
            interaction = interaction_of(made[0].interaction_id)
            assert interaction.skills == {"fr": 3}  # JSON read back as peewee reads it
            assert interaction.__data__ == Interaction.get_by_id(made[0].interaction_id).__data__
    finally:
        store.close()


def test_enabled_webhooks_read_once_built(db_url):  # noqa: ANN001
    from callyard.services.webhooks import WebhookService

    store = Store(db_url)
    store.upgrade()
    now = dt.datetime(2026, 1, 2)
    try:
        with store.connection():
            assert WebhookService._enabled() == []  # noqa: SLF001
            WebhookSubscription.create(url="http://a", events=["call.ended"], secret="s", created_at=now)
            WebhookSubscription.create(url="http://b", events=[], secret="s", enabled=False, created_at=now)
            enabled = WebhookService._enabled()  # noqa: SLF001
            assert [(s.url, s.events) for s in enabled] == [("http://a", ["call.ended"])]
    finally:
        store.close()


def test_prepared_joins_read_their_models(db_url):  # noqa: ANN001
    from callyard.models import Agent
    from callyard.services.inbox import InboxViews

    store = Store(db_url)
    store.upgrade()
    now = dt.datetime(2026, 1, 2, 3, 4, 5)
    try:
        with store.connection():
            made = _calls(now)
            agent = Agent.create(
                login="ann",
                name="Ann Agent",
                password_hash="!",
                presence_since=now,
                idle_since=now,
                created_at=now,
            )
            CallRecord.update(agent=agent.id, state="talking").where(CallRecord.uuid == "u1").execute()
            for _ in range(2):
                item = InboxViews.interaction(made[1].interaction_id)
                assert item is not None
                assert (item.contact.name, item.queue.name) == ("Ann", "support")
                view = InboxViews.call_of(made[1].interaction_id)
                assert view is not None
                assert (view["state"], view["agent_name"]) == ("talking", "Ann Agent")
                assert InboxViews.call_of(made[0].interaction_id)["agent_name"] is None  # type: ignore[index]
                assert InboxViews.interaction(10**9) is None
    finally:
        store.close()


def test_prepared_write_stores_what_peewee_stores(db_url):  # noqa: ANN001
    from callyard.models import StateChange

    insert = Prepared(
        lambda: StateChange.insert(
            interaction=slot("i"),
            from_state=slot("f"),
            to_state=slot("t"),
            agent=slot("a"),
            at=slot("at", StateChange.at),
        )
    )
    store = Store(db_url)
    store.upgrade()
    now = dt.datetime(2026, 1, 2, 3, 4, 5, 6000)
    try:
        with store.connection():
            interaction_id = _calls(now)[0].interaction_id
            with store.atomic():
                insert.execute(i=interaction_id, f="queued", t="offered", a=None, at=now)
            StateChange.create(interaction=interaction_id, from_state="queued", to_state="offered", at=now)
            ours, theirs = (
                StateChange.select().where(StateChange.interaction == interaction_id).order_by(StateChange.id)
            )
            assert {**ours.__data__, "id": 0} == {**theirs.__data__, "id": 0}
            assert ours.at == now and ours.agent_id is None
    finally:
        store.close()
