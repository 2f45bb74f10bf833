"""The composer's extras: the pure parts (subject, quote, inline images, the reply email with
its files) and the services (uploads attached to a reply, removed, refused) on SQLite and
PostgreSQL (the ``services`` fixture)."""

from __future__ import annotations

import datetime as dt
import email
from email import policy

import pytest
from test_services import (
    active_with,
    add_agent,
    ingest,
)

from callyard.channels.email.outbound import OutboundFile, build_reply
from callyard.config import EmailConfig
from callyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from callyard.models import Attachment, ComposerUpload, Message, OutboxItem
from callyard.services.compose import FileTooLarge, clean_subject, quote_of, re_subject, upload_ids
from callyard.services.mail_html import InlineFile, with_inline_images
from callyard.services.outbox import job_of
from callyard.services.views import message_dict

pytestmark = pytest.mark.usefixtures("cheap_passwords")

# -- pure: subject, quote --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Order 42", "Re: Order 42"),
        ("Re: Order 42", "Re: Order 42"),
        ("RE: Order 42", "RE: Order 42"),
        ("  Заказ \n 42 ", "Re: Заказ 42"),
        ("Ответ: Заказ", "Ответ: Заказ"),
        ("", "Re: Your message"),
    ],
)
def test_the_reply_subject_is_kept_and_never_doubled(subject: str, expected: str) -> None:
    assert re_subject(subject) == expected


def test_the_quote_names_the_date_and_the_writer_and_marks_every_line() -> None:
    quote = quote_of("Ольга", dt.datetime(2026, 3, 2, 9, 5), "Добрый день.\n\n> earlier\nСпасибо")
    assert quote.split("\n") == [
        "On 02 Mar 2026 09:05 UTC, Ольга wrote:",
        "> Добрый день.",
        ">",
        ">> earlier",
        "> Спасибо",
    ]
    assert quote_of("", "2026-03-02T09:05:00", "x").startswith("On 02 Mar 2026 09:05 UTC, you wrote:")
    assert quote_of("Bob", "not a date", "x") == "Bob wrote:\n> x"


def test_subject_and_upload_ids_are_checked() -> None:
    assert clean_subject("  Re:   a  ") == "Re: a"
    with pytest.raises(InvalidInput):
        clean_subject(5)
    with pytest.raises(InvalidInput):
        clean_subject("x" * 256)
    assert upload_ids(None) == [] and upload_ids([3, 1, 3]) == [3, 1]
    for bad in ("1", [True], [0], [-1], [1.5], ["2"], list(range(1, 12))):
        with pytest.raises(InvalidInput):
            upload_ids(bad)


# -- pure: inline images -----------------------------------------------------------------------


def test_cid_images_point_at_their_attachments_and_nothing_else_loads() -> None:
    html = (
        '<p>Hi<img src="cid:Logo@Shop" alt="logo"><img src="cid:%3Cchart@x%3E">'
        '<img src="http://tracker.test/p.gif"><img src="https://cdn.test/a.png">'
        '<img src="/attachments/99/inline"><img src="data:image/png;base64,AAAA">'
        '<img src="cid:unknown@x"><img src="cid:doc@x"></p><a href="https://shop.test">shop</a>'
    )
    files = [
        InlineFile(5, "<logo@shop>", "image/png"),
        InlineFile(6, "<chart@x>", "image/JPEG"),
        InlineFile(7, "<doc@x>", "image/svg+xml"),  # SVG can carry script: never inline
    ]
    out, shown = with_inline_images(html, files)
    assert shown == 2
    assert '<img src="/attachments/5/inline" alt="logo">' in out
    assert '<img src="/attachments/6/inline">' in out
    assert out.count("src=") == 2  # the rest lost their src
    assert "tracker.test" not in out and "cdn.test" not in out and "/attachments/99" not in out
    assert 'href="https://shop.test"' in out


def test_markup_in_the_html_is_still_sanitised_after_the_rewrite() -> None:
    out, _ = with_inline_images(
        '<img src="cid:a@x" onerror="alert(1)"><script>alert(2)</script><svg onload=x>',
        [InlineFile(1, "<a@x>", "image/png")],
    )
    assert "onerror" not in out and "script" not in out and "svg" not in out


# -- pure: the reply email -----------------------------------------------------------------------

CONFIG = EmailConfig(enabled=True, addresses=["support@shop.test"])


def email_job(**changes) -> dict:  # noqa: ANN003
    job = {
        "id": 7,
        "channel": "email",
        "attempts": 0,
        "payload": {},
        "message": {"id": 11, "body": "Here is the invoice.", "meta": {}, "agent_name": "Anna"},
        "interaction": {"id": 3, "thread_key": "<a@x>", "subject": "Invoice for March"},
        "contact": {"name": "Olga", "identities": [{"kind": "email", "value": "olga@example.ru"}]},
        "thread": [
            {
                "direction": "in",
                "external_id": "<a@x>",
                "meta": {"from": "olga@example.ru", "recipient": "support@shop.test"},
            }
        ],
        "attachments": [],
        "quote": {"name": "Olga", "created_at": "2026-03-02T09:05:00", "body": "Where is my invoice?"},
    }
    job.update(changes)
    return job


def test_the_reply_quotes_the_last_message_keeps_the_subject_and_carries_the_files() -> None:
    files = [
        OutboundFile("счёт.pdf", "application/pdf", b"%PDF-1.4 invoice"),
        OutboundFile("notes", "", b"plain bytes"),
    ]
    reply = build_reply(email_job(), CONFIG, files)
    parsed = email.message_from_bytes(reply.as_bytes(), policy=policy.default)
    assert parsed["Subject"] == "Re: Invoice for March [#3]"
    assert parsed["In-Reply-To"] == "<a@x>" and parsed["References"] == "<a@x>"
    text = parsed.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text == ("Here is the invoice.\n\nOn 02 Mar 2026 09:05 UTC, Olga wrote:\n> Where is my invoice?\n")
    attached = [(p.get_filename(), p.get_content_type(), p.get_content()) for p in parsed.iter_attachments()]
    assert attached == [
        ("счёт.pdf", "application/pdf", b"%PDF-1.4 invoice"),
        ("notes", "application/octet-stream", b"plain bytes"),
    ]


def test_an_edited_subject_wins_and_an_acknowledgement_quotes_nothing() -> None:
    edited = email_job(message={"id": 11, "body": "Hi", "meta": {"subject": "Re: New topic"}})
    assert build_reply(edited, CONFIG)["Subject"] == "Re: New topic [#3]"
    ack = email_job(message={"id": 11, "body": "We got it", "meta": {"auto": "acknowledgement"}})
    assert build_reply(ack, CONFIG).get_content() == "We got it\n"
    no_quote = email_job(quote=None)
    assert build_reply(no_quote, CONFIG).get_content() == "Here is the invoice.\n"


# -- services ------------------------------------------------------------------------------------


def email_active(services, agent) -> int:  # noqa: ANN001
    result = ingest(
        services,
        channel="email",
        identity=("email", "olga@example.ru"),
        thread="<q1@example.ru>",
        external_id="<q1@example.ru>",
        body="Where is my invoice?",
        contact_name="Olga",
        subject="Invoice for March",
        meta={"from": "olga@example.ru", "subject": "Invoice for March"},
    )
    services.router.route()
    services.interactions.accept(agent.id, result.interaction_id)
    return result.interaction_id


def test_uploaded_files_go_with_the_reply_into_the_outbox_job(services) -> None:  # noqa: ANN001
    anna = add_agent(services, "anna", capacity={"email": 1})
    interaction_id = email_active(services, anna)
    compose = services.compose
    pdf = compose.upload(anna.id, interaction_id, "../../etc/счёт.pdf", "application/pdf", b"%PDF")
    note = compose.upload(anna.id, interaction_id, "<b>x</b>.txt", "text/plain; charset=utf-8", b"hi")
    assert pdf.filename == "счёт.pdf" and note.content_type == "text/plain"
    assert [u["id"] for u in compose.pending(anna.id, interaction_id)] == [pdf.id, note.id]
    stored = services.attachments.path(pdf.path)
    assert stored.read_bytes() == b"%PDF" and stored.is_relative_to(services.attachments.root.resolve())

    draft = compose.draft(anna.id, interaction_id)
    assert draft["subject"] == "Re: Invoice for March"
    assert draft["quote"].endswith("Olga wrote:\n> Where is my invoice?")

    message = services.interactions.reply(
        anna.id, interaction_id, "Attached.", uploads=[pdf.id, note.id], meta={"subject": "Re: Invoice"}
    )
    files = list(Attachment.select().where(Attachment.message == message.id).order_by(Attachment.id))
    assert [(f.filename, f.size, f.path) for f in files] == [
        ("счёт.pdf", 4, pdf.path),
        (note.filename, 2, note.path),
    ]
    assert ComposerUpload.select().count() == 0
    shown = message_dict(Message.get_by_id(message.id))
    assert [a["filename"] for a in shown["attachments"]] == ["счёт.pdf", note.filename]
    assert shown["subject"] == "Re: Invoice"

    job = job_of(OutboxItem.get(OutboxItem.message == message.id))
    assert [(a["filename"], a["content_type"]) for a in job["attachments"]] == [
        ("счёт.pdf", "application/pdf"),
        (note.filename, "text/plain"),
    ]
    assert job["quote"]["name"] == "Olga" and job["quote"]["body"] == "Where is my invoice?"
    assert job["message"]["meta"]["subject"] == "Re: Invoice"


def test_files_go_out_in_the_order_the_agent_attached_them(services) -> None:  # noqa: ANN001
    # Seen in a parallel e2e run: two uploads finished in the other order and the reply listed
    # its files by upload id, not as the agent had put them.
    anna = add_agent(services, "anna")
    interaction_id = active_with(services, anna)
    first = services.compose.upload(anna.id, interaction_id, "a.txt", "text/plain", b"a")
    second = services.compose.upload(anna.id, interaction_id, "b.txt", "text/plain", b"b")
    message = services.interactions.reply(anna.id, interaction_id, "", uploads=[second.id, first.id])
    shown = message_dict(Message.get_by_id(message.id))
    assert [a["filename"] for a in shown["attachments"]] == ["b.txt", "a.txt"]


def test_files_alone_may_be_sent_and_a_removed_file_cannot(services) -> None:  # noqa: ANN001
    anna = add_agent(services, "anna")
    interaction_id = active_with(services, anna)
    one = services.compose.upload(anna.id, interaction_id, "a.png", "image/png", b"\x89PNG")
    message = services.interactions.reply(anna.id, interaction_id, "", uploads=[one.id])
    assert message.attachments.count() == 1
    with pytest.raises(InvalidInput):  # no text and no files is still empty
        services.interactions.reply(anna.id, interaction_id, "  ")
    two = services.compose.upload(anna.id, interaction_id, "b.png", "image/png", b"\x89PNG")
    path = services.attachments.root / two.path
    services.compose.remove(anna.id, two.id)
    assert not path.exists()
    before = Message.select().count()
    with pytest.raises(Conflict) as gone:
        services.interactions.reply(anna.id, interaction_id, "with b", uploads=[two.id])
    assert gone.value.error_id == "upload-gone"
    assert Message.select().count() == before  # nothing half-sent


def test_uploads_are_refused_when_too_large_not_mine_or_not_active(services) -> None:  # noqa: ANN001
    anna = add_agent(services, "anna")
    bob = add_agent(services, "bob")
    interaction_id = active_with(services, anna)
    compose = services.compose
    with pytest.raises(FileTooLarge) as large:
        compose.upload(anna.id, interaction_id, "big.bin", "", b"x" * (compose.max_bytes + 1))
    assert large.value.status == 413 and str(compose.max_bytes) in large.value.message
    with pytest.raises(InvalidInput):
        compose.upload(anna.id, interaction_id, "empty.txt", "text/plain", b"")
    with pytest.raises(Forbidden):
        compose.upload(bob.id, interaction_id, "x.txt", "text/plain", b"x")
    mine = compose.upload(anna.id, interaction_id, "x.txt", "text/plain", b"x")
    with pytest.raises(Forbidden):
        compose.remove(bob.id, mine.id)
    with pytest.raises(Conflict):  # bob cannot send anna's file, even naming it
        services.interactions.reply(anna.id, interaction_id, "x", uploads=[mine.id + 1000])
    with pytest.raises(NotFound):
        compose.remove(anna.id, mine.id + 1000)
    services.interactions.close(anna.id, interaction_id)
    with pytest.raises(Conflict) as closed:
        compose.upload(anna.id, interaction_id, "late.txt", "text/plain", b"x")
    assert closed.value.error_id == "not-active"
    assert list(services.attachments.root.rglob("*.txt")) == [services.attachments.root / mine.path]


def test_uploads_that_can_no_longer_be_sent_are_purged_with_their_files(services, clock) -> None:  # noqa: ANN001
    anna = add_agent(services, "anna")
    ended = active_with(services, anna, thread="v1")
    going = active_with(services, anna, thread="v2")
    compose = services.compose
    old = compose.upload(anna.id, ended, "old.txt", "text/plain", b"1")
    kept = compose.upload(anna.id, going, "kept.txt", "text/plain", b"2")
    services.interactions.close(anna.id, ended)
    assert compose.purge() == 0  # a grace period: a tab may still be sending
    clock.advance(11 * 60)
    assert compose.purge() == 1
    assert [u.id for u in ComposerUpload.select()] == [kept.id]
    assert not (services.attachments.root / old.path).exists()
    assert (services.attachments.root / kept.path).exists()
    clock.advance(7 * 24 * 3600)
    assert compose.purge() == 1  # left unsent for days
    assert ComposerUpload.select().count() == 0
