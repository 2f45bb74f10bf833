"""Prepared queries on SQLite and PostgreSQL: the SQL built once gives what the query builder
gives, with each run's own values, converted as their fields store them."""

from __future__ import annotations

import datetime as dt

import peewee as pw

from callyard.models import Contact, Identity, Interaction, Message, Queue
from callyard.prepared import Prepared, PreparedIn, slot

OWNER = Prepared(
    lambda: (
        Identity.select(Identity, Contact)
        .join(Contact)
        .where(Identity.kind == slot("kind"), Identity.value == slot("value"))
        .limit(1)
    )
)
MESSAGES = Prepared(
    lambda: (
        Message.select(Message, Interaction, Queue)
        .join(Interaction)
        .join(Queue, pw.JOIN.LEFT_OUTER)
        .where(
            Message.interaction == slot("interaction"),
            Message.created_at >= slot("since", Message.created_at),
        )
        .order_by(Message.id)
    )
)
INSERT = Prepared(
    lambda: Message.insert(
        interaction=slot("interaction"),
        channel="chat",
        direction="in",
        body=slot("body"),
        created_at=slot("now", Message.created_at),
        meta=slot("meta", Message.meta),
    ).returning(Message.id)
)


def test_prepared_queries_read_and_write_as_the_query_builder_does(services, clock):  # noqa: ANN001
    with services.store.connection():
        with services.store.atomic():
            result = services.interactions.ingest(
                channel="chat",
                identity=("chat_visitor", "v1"),
                body="hello",
                queue="support",
                thread_key="v1",
            )
            services.contacts.find_or_create("chat_visitor", "v2", name="Other")
        ada = OWNER.first(kind="chat_visitor", value="v1")
        other = OWNER.first(kind="chat_visitor", value="v2")
        assert ada.contact.id != other.contact.id and other.contact.name == "Other"
        assert OWNER.first(kind="chat_visitor", value="nobody") is None

        later = clock() + dt.timedelta(minutes=5)
        with services.store.atomic():
            new_id = INSERT.scalar(
                interaction=result.interaction_id, body="with meta", now=later, meta={"auto": "x"}
            )
        stored = Message.get_by_id(new_id)
        assert (stored.body, stored.created_at, stored.meta) == ("with meta", later, {"auto": "x"})

        rows = list(MESSAGES.rows(interaction=result.interaction_id, since=clock()))
        built = list(
            Message.select(Message, Interaction, Queue)
            .join(Interaction)
            .join(Queue, pw.JOIN.LEFT_OUTER)
            .where(Message.interaction == result.interaction_id, Message.created_at >= clock())
            .order_by(Message.id)
        )
        assert [(m.id, m.body, m.meta, m.interaction.queue.name) for m in rows] == [
            (m.id, m.body, m.meta, m.interaction.queue.name) for m in built
        ]
        assert [m.body for m in rows] == ["hello", "with meta"]
        # Another run, other values: nothing of the first one is kept.
        assert [m.body for m in MESSAGES.rows(interaction=result.interaction_id, since=later)] == [
            "with meta"
        ]


QUEUES_IN = PreparedIn(
    lambda ids: (
        (Queue.select(Queue.name).where(Queue.priority >= slot("priority")).order_by(Queue.name))
        if ids is None
        else Queue.select(Queue.name)
        .where(Queue.priority >= slot("priority"), Queue.id.in_(ids))
        .order_by(Queue.name)
    ),
    keep=2,
)


def test_prepared_in_lists_of_any_length_give_what_the_query_builder_gives(services):  # noqa: ANN001
    with services.store.connection():
        with services.store.atomic():
            for i in range(5):
                Queue.create(name=f"q{i}", priority=i, created_at=dt.datetime(2026, 1, 1))
        ids = {q.name: q.id for q in Queue.select()}

        def names(wanted: list[str] | None, priority: int = 0) -> list[str]:
            rows = QUEUES_IN.rows(None if wanted is None else [ids[n] for n in wanted], priority=priority)
            return [q.name for q in rows]

        # each length its own SQL (one placeholder per id), lists longer than `keep` built each time
        assert names(["q1"]) == ["q1"]
        assert names(["q3", "q1"]) == ["q1", "q3"]
        assert names(["q0", "q2", "q4"]) == ["q0", "q2", "q4"]
        assert names(["q4", "q3", "q2", "q1"], priority=3) == ["q3", "q4"]
        # the same lengths again, with other ids: nothing of an earlier run is kept
        assert names(["q2"]) == ["q2"]
        assert names(["q0", "q4"], priority=1) == ["q4"]
        assert names(None, priority=3) == ["q3", "q4"]
        assert names([]) == []
