"""Prepared queries on SQLite and PostgreSQL: the SQL built once gives what the query builder
gives, with each run's own values, converted as their fields store them."""

from __future__ import annotations

import datetime as dt

import peewee as pw
import pytest

from callyard.models import CallRecord, Contact, Identity, Interaction, Message, Queue
from callyard.prepared import Creates, Prepared, PreparedIn, Shapes, field_slots, slot

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


SET_CONTACT = Shapes(
    lambda names: Interaction.update(**field_slots(Interaction, names, prefix="set_")).where(
        Interaction.id == slot("id"), Interaction.state == slot("state")
    )
)


def test_an_update_of_many_shapes_sets_each_shape_s_columns_converted_as_stored(services, clock):  # noqa: ANN001
    with services.store.connection():
        with services.store.atomic():
            first = services.interactions.ingest(
                channel="chat", identity=("chat_visitor", "v1"), body="hi", queue="support", thread_key="v1"
            )
            second = services.interactions.ingest(
                channel="chat", identity=("chat_visitor", "v2"), body="hi", queue="support", thread_key="v2"
            )
        state = Interaction.get_by_id(first.interaction_id).state
        later = clock() + dt.timedelta(hours=1)
        with services.store.atomic():
            one = SET_CONTACT(("ended_at", "subject")).execute(
                id=first.interaction_id, state=state, set_ended_at=later, set_subject="one"
            )
            two = SET_CONTACT(("agent", "skills")).execute(
                id=second.interaction_id, state=state, set_agent=None, set_skills={"fr": 3}
            )
            # the guard holds: a state it is not in changes nothing
            none = SET_CONTACT(("subject",)).execute(
                id=second.interaction_id, state="closed", set_subject="x"
            )
        assert (one.rowcount, two.rowcount, none.rowcount) == (1, 1, 0)
        a, b = Interaction.get_by_id(first.interaction_id), Interaction.get_by_id(second.interaction_id)
        assert (a.ended_at, a.subject, a.skills) == (later, "one", {})
        assert (b.ended_at, b.subject, b.skills, b.agent_id) == (None, "", {"fr": 3}, None)
        # one Prepared per shape, the same one each time the shape comes back
        assert SET_CONTACT(("subject",)) is SET_CONTACT(("subject",))
        assert SET_CONTACT(("subject",)) is not SET_CONTACT(("ended_at", "subject"))


CREATE_CALL = Creates(CallRecord)


def test_a_prepared_create_stores_the_row_model_create_would_and_returns_it(services, clock):  # noqa: ANN001
    with services.store.connection():
        with services.store.atomic():
            ids = [
                services.interactions.ingest(
                    channel="chat", identity=("chat_visitor", v), body="hi", queue="support", thread_key=v
                ).interaction_id
                for v in ("v1", "v2", "v3")
            ]
            made = CREATE_CALL(interaction=ids[0], uuid="u-1", entered_at=clock(), node=None)
            built = CallRecord.create(interaction=ids[1], uuid="u-2", entered_at=clock(), node=None)
            # a model instance for the key, and another shape (no node)
            other = CREATE_CALL(interaction=Interaction.get_by_id(ids[2]), uuid="u-3", entered_at=clock())
        assert made.id is not None and other.id not in (None, made.id) and not made.is_dirty()
        stored = CallRecord.get_by_id(made.id)
        columns = [
            f.name for f in CallRecord._meta.sorted_fields if f.name not in ("id", "uuid", "interaction")
        ]
        assert [getattr(stored, c) for c in columns] == [
            getattr(CallRecord.get_by_id(built.id), c) for c in columns
        ]
        assert [getattr(made, c) for c in columns] == [getattr(stored, c) for c in columns]
        assert (stored.uuid, stored.interaction_id) == ("u-1", ids[0])
        assert (CallRecord.get_by_id(other.id).uuid, CallRecord.get_by_id(other.id).interaction_id) == (
            "u-3",
            ids[2],
        )


def test_a_prepared_create_refuses_to_fix_a_default_made_at_each_insert(services, clock):  # noqa: ANN001
    field = CallRecord._meta.fields["reason"]
    field.default = lambda: "made now"
    try:
        with services.store.connection(), services.store.atomic():
            ingested = services.interactions.ingest(
                channel="chat", identity=("chat_visitor", "v1"), body="hi", queue="support", thread_key="v1"
            )
            with pytest.raises(TypeError, match="give reason"):
                Creates(CallRecord)(interaction=ingested.interaction_id, uuid="u-1", entered_at=clock())
    finally:
        field.default = ""


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
