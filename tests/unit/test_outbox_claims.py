"""services.outbox claims for gateway processes and the ingest extras they use, on SQLite and
PostgreSQL: leases that come back, confirmations, failures with backoff, threading by
references, attachments written with their rows, non-routable messages, acknowledgements."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from callyard import events as ev
from callyard.errors import Conflict, NotFound
from callyard.models import CLOSED, QUEUED, Attachment, Interaction, Message, OutboxItem
from callyard.services.attachments import NewAttachment, safe_filename
from callyard.services.outbox import job_of


def email_in(services, *, sender="olga@example.ru", msgid="<m1@example.ru>", thread=None, **kw):  # noqa: ANN001, ANN201
    return services.interactions.ingest(
        channel="email",
        identity=("email", sender),
        body=kw.pop("body", "Hello"),
        queue="support",
        thread_key=thread or msgid,
        external_id=msgid,
        **kw,
    )


def reply_item(services, interaction_id: int) -> OutboxItem:
    """An outbound email message with its outbox item, as an agent's reply makes them."""
    with services.store.atomic():
        message = Message.create(
            interaction=interaction_id,
            channel="email",
            direction="out",
            body="Answer",
            created_at=services.clock(),
        )
        return services.outbox.enqueue("email", message.id, {})


def test_claim_leases_items_of_one_channel_until_the_lease_runs_out(services, clock):
    first = email_in(services)
    item = reply_item(services, first.interaction_id)
    services.outbox.enqueue("chat", None, {})
    (claimed,) = services.outbox.claim("email", "gw-1", limit=10, lease_seconds=60)
    assert claimed.id == item.id
    stored = OutboxItem.get_by_id(item.id)
    assert (stored.claimed_by, stored.lease_until) == ("gw-1", clock.now + dt.timedelta(seconds=60))
    # held by gw-1: nobody else gets it while the lease lasts
    assert services.outbox.claim("email", "gw-2", limit=10, lease_seconds=60) == []
    clock.advance(59)
    assert services.outbox.claim("email", "gw-2", limit=10, lease_seconds=60) == []
    # gw-1 died without a word: the lease runs out and the item comes back
    clock.advance(1)
    (again,) = services.outbox.claim("email", "gw-2", limit=10, lease_seconds=60)
    assert again.id == item.id and OutboxItem.get_by_id(item.id).claimed_by == "gw-2"
    # the core's own dispatcher leaves gateway channels alone
    assert [i.channel for i in services.outbox.due(clock.now, exclude={"email"})] == ["chat"]


def test_claim_respects_limit_and_order(services):
    first = email_in(services)
    items = [reply_item(services, first.interaction_id) for _ in range(5)]
    got = services.outbox.claim("email", "gw", limit=3, lease_seconds=30)
    assert [i.id for i in got] == [i.id for i in items[:3]]
    rest = services.outbox.claim("email", "gw", limit=10, lease_seconds=30)
    assert [i.id for i in rest] == [i.id for i in items[3:]]


def test_delivered_marks_sent_and_keeps_the_external_id_for_threading(services, clock):
    first = email_in(services)
    item = reply_item(services, first.interaction_id)
    services.outbox.claim("email", "gw", limit=1, lease_seconds=30)
    clock.advance(2)
    done = services.outbox.delivered(item.id, "email", "<reply-1@callyard>")
    assert (done.state, done.attempts, done.sent_at, done.claimed_by, done.lease_until) == (
        "sent",
        1,
        clock.now,
        "",
        None,
    )
    assert Message.get_by_id(item.message_id).external_id == "<reply-1@callyard>"
    # a second confirmation (a retried HTTP call) changes nothing
    assert services.outbox.delivered(item.id, "email", "<other@x>").attempts == 1
    # the customer's answer to our reply joins the same conversation through References
    answer = email_in(services, msgid="<m2@example.ru>", thread_refs=["<unknown@x>", "<reply-1@callyard>"])
    assert answer.interaction_id == first.interaction_id
    with pytest.raises(NotFound):
        services.outbox.delivered(item.id, "telegram")


def test_failed_retries_with_backoff_then_gives_up_visibly(services, clock, config):
    seen: list[ev.Event] = []
    services.bus.subscribe(seen.append, ev.MessageDeliveryFailed)
    first = email_in(services)
    item = reply_item(services, first.interaction_id)
    for attempt in range(1, config.outbox.max_attempts):
        (claimed,) = services.outbox.claim("email", "gw", limit=1, lease_seconds=600)
        after = services.outbox.failed(claimed.id, "email", "451 try later")
        assert (after.state, after.attempts, after.last_error) == ("pending", attempt, "451 try later")
        delay = config.outbox.retry_base_seconds * 2 ** (attempt - 1)
        assert after.next_attempt_at == clock.now + dt.timedelta(seconds=delay)
        # a failure ends the lease, but the backoff holds the item back
        assert services.outbox.claim("email", "gw", limit=1, lease_seconds=600) == []
        clock.advance(delay)
    assert seen == []
    services.outbox.claim("email", "gw", limit=1, lease_seconds=600)
    final = services.outbox.failed(item.id, "email", "451 try later")
    assert final.state == "failed"
    assert seen == [ev.MessageDeliveryFailed(item.message_id, first.interaction_id, "451 try later")]
    with pytest.raises(Conflict):
        services.outbox.failed(item.id, "email", "again")


def test_a_permanent_failure_gives_up_at_once(services):
    first = email_in(services)
    item = reply_item(services, first.interaction_id)
    services.outbox.claim("email", "gw", limit=1, lease_seconds=30)
    final = services.outbox.failed(item.id, "email", "550 no such user", permanent=True)
    assert (final.state, final.attempts) == ("failed", 1)
    assert services.views.messages(first.interaction_id)[-1]["delivery"]["state"] == "failed"


def test_job_carries_the_conversation_a_gateway_needs(services):
    first = email_in(services, subject="Заказ 42", contact_name="Ольга")
    item = reply_item(services, first.interaction_id)
    job = job_of(item)
    assert job["message"]["body"] == "Answer"
    assert job["interaction"] == {
        "id": first.interaction_id,
        "thread_key": "<m1@example.ru>",
        "subject": "Заказ 42",
    }
    assert job["contact"] == {"name": "Ольга", "identities": [{"kind": "email", "value": "olga@example.ru"}]}
    assert [m["external_id"] for m in job["thread"]] == ["<m1@example.ru>"]


def test_thread_hint_joins_only_the_same_customers_conversation(services):
    first = email_in(services)
    mine = email_in(services, msgid="<m2@x>", thread_hint=first.interaction_id)
    assert mine.interaction_id == first.interaction_id
    stranger = email_in(services, sender="eve@evil.test", msgid="<m3@x>", thread_hint=first.interaction_id)
    assert stranger.interaction_id != first.interaction_id


def test_attachments_are_written_with_their_rows_and_not_for_a_duplicate(services):
    files = [
        NewAttachment("../../etc/passwd", "text/plain", b"root"),
        NewAttachment("счёт.pdf", "application/pdf", b"%PDF-1.4", content_id="<c1>", inline=False),
    ]
    first = email_in(services, attachments=files)
    rows = list(Attachment.select().order_by(Attachment.id))
    assert [(r.filename, r.size, r.message_id) for r in rows] == [
        ("passwd", 4, first.message_id),
        ("счёт.pdf", 8, first.message_id),
    ]
    root = services.attachments.root
    assert services.attachments.path(rows[1].path).read_bytes() == b"%PDF-1.4"
    assert all(services.attachments.path(r.path).is_relative_to(root) for r in rows)
    on_disk = sorted(p for p in root.rglob("*") if p.is_file())
    again = email_in(services, attachments=files)
    assert again.duplicate and Attachment.select().count() == 2
    assert sorted(p for p in root.rglob("*") if p.is_file()) == on_disk


def test_a_message_with_files_is_not_looked_for_before_it_is_stored(services, caplog):
    """A resend is found by its refused INSERT (above): no SELECT of messages for every one."""
    files = [NewAttachment("a.pdf", "application/pdf", b"%PDF-1.4")]
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        email_in(services, msgid="<files@x>", attachments=files)
    sent = [str(r.msg[0]) for r in caplog.records if r.name == "peewee" and isinstance(r.msg, tuple)]
    # On PostgreSQL the INSERT of a new conversation's first message is part of one statement
    # with its interaction's (services/ingest_sql).
    assert any(sql.startswith(("INSERT", "WITH")) and 'INSERT INTO "message"' in sql for sql in sent), sent
    assert not [sql for sql in sent if sql.startswith("SELECT") and 'FROM "message"' in sql], sent


def test_a_failed_commit_leaves_no_attachment_file(services, monkeypatch):
    def broken(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("database gone")

    monkeypatch.setattr(services.interactions, "_ingest", broken)
    with pytest.raises(RuntimeError):
        email_in(services, attachments=[NewAttachment("a.txt", "text/plain", b"x")])
    assert not [p for p in services.attachments.root.rglob("*") if p.is_file()]


def test_an_automatic_message_is_stored_but_never_queued(services):
    auto = email_in(services, msgid="<ooo@x>", routable=False, meta={"auto": "auto-reply"})
    interaction = Interaction.get_by_id(auto.interaction_id)
    assert interaction.state == CLOSED and interaction.queued_at is None
    assert Message.get_by_id(auto.message_id).meta == {"auto": "auto-reply"}
    # the customer's real message next opens a routable conversation
    real = email_in(services, msgid="<real@x>", thread="<ooo@x>")
    assert Interaction.get_by_id(real.interaction_id).state == QUEUED


def test_acknowledgement_goes_out_once_per_new_conversation(services):
    text = "Your number is #{number}."
    first = email_in(services, acknowledge=text)
    second = email_in(services, msgid="<m2@x>", thread_refs=["<m1@example.ru>"], acknowledge=text)
    assert first.new_interaction and not second.new_interaction
    (ack,) = Message.select().where(Message.direction == "out")
    assert ack.body == f"Your number is #{first.interaction_id}."
    assert ack.meta == {"auto": "acknowledgement"}
    assert OutboxItem.select().where(OutboxItem.message == ack.id).count() == 1
    email_in(services, msgid="<auto@x>", routable=False, acknowledge=text, thread="t-auto")
    assert Message.select().where(Message.direction == "out").count() == 1


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\evil.exe", "evil.exe"),
        (".htaccess", "htaccess"),
        ("a\x00b\r\n.txt", "ab.txt"),
        ("", "attachment"),
        ("Договор №5.docx", "Договор _5.docx"),
        ("x" * 300 + ".pdf", "x" * 116 + ".pdf"),
    ],
)
def test_safe_filename(raw: str, safe: str):
    assert safe_filename(raw) == safe
