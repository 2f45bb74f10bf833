"""channels.email.outbound.build_reply: an outbox job → the reply email. Pure."""

from __future__ import annotations

import pytest

from callyard.channels.email.outbound import build_reply, reply_subject
from callyard.config import EmailConfig
from callyard.gateway import DeliveryFailed

CONFIG = EmailConfig(enabled=True, addresses=["support@shop.test"], from_address="help@shop.test")


def job(thread: list[dict] | None = None, **message) -> dict:  # noqa: ANN003
    return {
        "id": 7,
        "channel": "email",
        "attempts": 0,
        "payload": {},
        "message": {"id": 11, "body": "Ответ агента", "meta": {}, "agent_name": "Anna", **message},
        "interaction": {"id": 3, "thread_key": "<a@x>", "subject": "Заказ 42"},
        "contact": {"name": "Ольга", "identities": [{"kind": "email", "value": "olga@example.ru"}]},
        "thread": thread
        if thread is not None
        else [
            {
                "direction": "in",
                "external_id": "<a@x>",
                "meta": {"from": "olga@example.ru", "recipient": "sales@shop.test"},
            },
            {"direction": "out", "external_id": "<callyard.5.9@shop.test>", "meta": {}},
            {
                "direction": "in",
                "external_id": "<b@x>",
                "meta": {
                    "from": "olga@example.ru",
                    "reply_to": "o.p@example.ru",
                    "recipient": "sales@shop.test",
                },
            },
        ],
    }


def test_a_reply_threads_and_comes_from_the_address_written_to():
    reply = build_reply(job(), CONFIG)
    assert reply["From"] == "sales@shop.test"
    assert reply["To"].addresses[0].addr_spec == "o.p@example.ru"  # the latest message's Reply-To
    assert reply["To"].addresses[0].display_name == "Ольга"
    assert reply["Subject"] == "Re: Заказ 42 [#3]"
    assert reply["In-Reply-To"] == "<b@x>"
    assert reply["References"] == "<a@x> <callyard.5.9@shop.test> <b@x>"
    assert reply["Message-ID"] == "<callyard.7.11@shop.test>"  # the same on every retry
    assert "Auto-Submitted" not in reply
    assert reply.get_content() == "Ответ агента\n"
    as_sent = reply.as_bytes()
    assert b"\r\n" in as_sent and max(len(line) for line in as_sent.split(b"\r\n")) <= 998


def test_an_acknowledgement_is_marked_automatic_and_falls_back_to_the_configured_sender():
    reply = build_reply(job(thread=[], meta={"auto": "acknowledgement"}), CONFIG)
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["From"] == "help@shop.test"
    assert reply["To"].addresses[0].addr_spec == "olga@example.ru"
    assert "In-Reply-To" not in reply and "References" not in reply


def test_long_threads_keep_the_root_and_the_latest_references():
    thread = [
        {"direction": "in", "external_id": f"<m{i}@x>", "meta": {"from": "a@x.example"}} for i in range(40)
    ]
    refs = build_reply(job(thread=thread), CONFIG)["References"].split()
    assert len(refs) == 20 and refs[0] == "<m0@x>" and refs[-1] == "<m39@x>"


def test_without_an_address_the_failure_is_permanent():
    no_address = job(thread=[])
    no_address["contact"]["identities"] = [{"kind": "telegram", "value": "1"}]
    with pytest.raises(DeliveryFailed) as failed:
        build_reply(no_address, CONFIG)
    assert failed.value.permanent
    with pytest.raises(DeliveryFailed):
        build_reply(job(thread=[]), EmailConfig(enabled=True))


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Hello", "Re: Hello [#5]"),
        ("Re: Hello", "Re: Hello [#5]"),
        ("RE: Hello [#5]", "RE: Hello [#5]"),
        ("", "Re: Your message [#5]"),
        ("  many   spaces\r\n folded ", "Re: many spaces folded [#5]"),
    ],
)
def test_reply_subject(subject: str, expected: str):
    assert reply_subject(subject, 5) == expected
