"""The email channel end to end: real smtplib clients against the real SMTP gateway started
by `callyard run`, a real aiosmtpd capture server as the relay, on SQLite and PostgreSQL."""

from __future__ import annotations

import smtplib
import ssl
import time

import pytest

from harness import WAIT, AgentClient, running
from mailkit import SUPPORT, CaptureRelay, letter, mail_env, self_signed, send, smtp_port


@pytest.fixture
def relay():  # noqa: ANN201
    capture = CaptureRelay().start()
    yield capture
    capture.stop()


@pytest.fixture
def mail(tmp_path, db_url, relay):  # noqa: ANN001, ANN201
    with running(tmp_path, db_url, env=mail_env(relay), agents=("anna",)) as srv:
        srv.smtp = smtp_port(srv)
        yield srv


def test_a_mail_is_stored_once_routed_answered_and_threaded(mail, relay):
    anna = AgentClient(mail.url, "anna")
    anna.available()
    send(mail.smtp, letter())
    offer = anna.events.wait("offer")
    assert offer["channel"] == "email" and offer["contact"]["name"] == "Olga Petrova"
    assert offer["subject"] == "Where is my order?"
    # the same message again (a sender's retry) is not stored twice
    send(mail.smtp, letter())
    anna.ok("accept", {"interaction_id": offer["id"]})
    opened = anna.ok("open", {"interaction_id": offer["id"]})
    assert [m["body"] for m in opened["messages"]] == ["Hello, order 42 has not arrived."]
    assert opened["messages"][0]["subject"] == "Where is my order?"

    anna.ok("reply", {"interaction_id": offer["id"], "body": "It ships today."})
    (sent,) = relay.wait(1)
    assert sent["From"] == SUPPORT
    assert sent["To"].addresses[0].addr_spec == "olga@example.ru"
    assert sent["Subject"] == f"Re: Where is my order? [#{offer['id']}]"
    assert sent["In-Reply-To"] == "<first@example.ru>"
    assert sent["References"] == "<first@example.ru>"
    assert sent["Message-ID"].endswith("@shop.test>")
    # the reply, then her message quoted below it (as mail clients do)
    reply_text, quote = sent.get_content().replace("\r\n", "\n").split("\n\n", 1)
    assert reply_text == "It ships today."
    assert quote.endswith(" UTC, Olga Petrova wrote:\n> Hello, order 42 has not arrived.\n")

    # her answer to our reply joins the conversation through In-Reply-To
    send(
        mail.smtp,
        letter(
            subject="Re: Where is my order?",
            body="Thanks!",
            msgid="<second@example.ru>",
            In_Reply_To=sent["Message-ID"],
            References=f"<first@example.ru> {sent['Message-ID']}",
        ),
    )
    message = anna.events.wait("message", lambda m: m["direction"] == "in")
    assert message["interaction_id"] == offer["id"] and message["body"].startswith("Thanks!")
    delivered = anna.ok("open", {"interaction_id": offer["id"]})["messages"]
    assert delivered[1]["delivery"]["state"] == "sent"
    anna.close()


def test_the_subject_token_joins_the_conversation_only_for_its_customer(mail):
    anna = AgentClient(mail.url, "anna")
    anna.available()
    send(mail.smtp, letter())
    offer = anna.events.wait("offer")
    anna.ok("accept", {"interaction_id": offer["id"]})
    # no In-Reply-To (a new mail typed by hand), but the number in the subject
    send(
        mail.smtp,
        letter(subject=f"About [#{offer['id']}]", body="One more thing", msgid="<third@example.ru>"),
    )
    more = anna.events.wait("message", lambda m: m["direction"] == "in")
    assert more["interaction_id"] == offer["id"]
    # someone else quoting the number gets a conversation of their own
    stranger = letter(subject=f"Re: [#{offer['id']}]", sender="eve@evil.test", msgid="<eve@evil.test>")
    send(mail.smtp, stranger, sender="eve@evil.test")
    anna.ok("presence", {"presence": "available"})
    other = anna.events.wait("offer")
    assert other["id"] != offer["id"]
    anna.close()


def test_automatic_mail_is_stored_but_never_routed_nor_answered(tmp_path, db_url, relay):
    env = mail_env(relay, CALLYARD_CHANNELS__EMAIL__AUTO_ACK="true")
    with running(tmp_path, db_url, env=env, agents=("anna",)) as srv:
        port = smtp_port(srv)
        anna = AgentClient(srv.url, "anna")
        anna.available()
        send(port, letter())
        offer = anna.events.wait("offer")
        (ack,) = relay.wait(1)
        assert f"#{offer['id']}" in ack.get_content()
        assert ack["Auto-Submitted"] == "auto-replied" and ack["In-Reply-To"] == "<first@example.ru>"
        # a vacation reply and a bounce, each to our acknowledgement
        vacation = letter(
            subject="Out of office",
            msgid="<ooo@example.ru>",
            Auto_Submitted="auto-replied",
            In_Reply_To="<x@y>",
        )
        send(port, vacation)
        bounce = (
            b"From: MAILER-DAEMON@mx.example.ru\r\nTo: support@shop.test\r\nSubject: Undelivered Mail\r\n"
            b"Message-ID: <dsn@mx.example.ru>\r\n"
            b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
            b"--b\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n--b--\r\n"
        )
        send(port, bounce, sender="")
        # an ordinary-looking mail from the null sender (MAIL FROM:<>) is automatic too
        send(port, letter(subject="Hello", msgid="<null@example.ru>", body="from nobody"), sender="")
        # both are stored, in interactions of their own that were closed at once
        srv.add_agent("sam", extra=("--role", "supervisor"))
        sam = AgentClient(srv.url, "sam")
        seen = {}
        for interaction_id in (offer["id"] + 1, offer["id"] + 2, offer["id"] + 3):
            opened = sam.ok("open", {"interaction_id": interaction_id})
            (message,) = opened["messages"]
            seen[message["body"]] = (opened["interaction"]["state"], message["auto"])
        assert seen == {
            "Hello, order 42 has not arrived.": ("closed", "auto-reply"),
            "Not delivered.": ("closed", "bounce"),
            "from nobody": ("closed", "auto-reply"),
        }
        # nobody is offered them, and nothing answers them (a few outbox polls later)
        time.sleep(1.0)
        assert len(relay.messages) == 1, [m["Subject"] for m in relay.messages]
        assert "offer" not in anna.events.names()
        anna.close()
        sam.close()


def test_unknown_recipients_are_refused_at_rcpt(mail):
    with smtplib.SMTP("127.0.0.1", mail.smtp, timeout=WAIT) as client:
        client.ehlo()
        client.mail("olga@example.ru")
        assert client.rcpt("nobody@shop.test")[0] == 550
        assert client.rcpt("support@elsewhere.test")[0] == 550
        assert client.rcpt("SUPPORT@shop.test")[0] == 250  # addresses compare without case


def test_relay_failures_are_retried_then_shown(tmp_path, db_url, relay):
    env = mail_env(relay, CALLYARD_OUTBOX__MAX_ATTEMPTS="3")
    with running(tmp_path, db_url, env=env, agents=("anna",)) as srv:
        port = smtp_port(srv)
        anna = AgentClient(srv.url, "anna")
        anna.available()
        send(port, letter())
        offer = anna.events.wait("offer")
        anna.ok("accept", {"interaction_id": offer["id"]})
        relay.answer = "451 4.4.1 try again later"
        anna.ok("reply", {"interaction_id": offer["id"], "body": "first"})
        failed = anna.events.wait("delivery_failed", timeout=30)
        assert "451" in failed["error"]
        messages = anna.ok("open", {"interaction_id": offer["id"]})["messages"]
        assert messages[-1]["delivery"] == {"state": "failed", "attempts": 3, "error": failed["error"]}
        relay.answer = "550 5.1.1 no such user"
        anna.ok("reply", {"interaction_id": offer["id"], "body": "second"})
        failed = anna.events.wait("delivery_failed", timeout=30)
        assert "550" in failed["error"]
        messages = anna.ok("open", {"interaction_id": offer["id"]})["messages"]
        assert messages[-1]["delivery"]["attempts"] == 1  # a 5xx is final at once
        relay.answer = None
        anna.ok("reply", {"interaction_id": offer["id"], "body": "third"})
        (sent,) = relay.wait(1)
        assert sent.get_content().split("\n")[0].strip() == "third"
        anna.close()


def test_a_relay_that_is_down_fails_visibly(tmp_path, db_url):
    dead = CaptureRelay().start()
    env = {**mail_env(dead), "CALLYARD_OUTBOX__MAX_ATTEMPTS": "2"}
    dead.stop()  # its port is closed now
    with running(tmp_path, db_url, env=env, agents=("anna",)) as srv:
        port = smtp_port(srv)
        anna = AgentClient(srv.url, "anna")
        anna.available()
        send(port, letter())
        offer = anna.events.wait("offer")
        anna.ok("accept", {"interaction_id": offer["id"]})
        anna.ok("reply", {"interaction_id": offer["id"], "body": "hello?"})
        failed = anna.events.wait("delivery_failed", timeout=30)
        assert "unreachable" in failed["error"]
        anna.close()


def test_email_is_routed_within_the_agents_email_capacity(tmp_path, db_url, relay):
    with running(tmp_path, db_url, env=mail_env(relay), agents=()) as srv:
        srv.add_agent("anna", extra=("--capacity", "email=1"))
        port = smtp_port(srv)
        anna = AgentClient(srv.url, "anna")
        anna.available()
        send(port, letter(msgid="<one@example.ru>", sender="one@example.ru"), sender="one@example.ru")
        send(port, letter(msgid="<two@example.ru>", sender="two@example.ru"), sender="two@example.ru")
        first = anna.events.wait("offer")
        anna.ok("accept", {"interaction_id": first["id"]})
        # one email at a time: the second waits until the first is done
        with pytest.raises(AssertionError):
            anna.events.wait("offer", timeout=1.5)
        anna.ok("close", {"interaction_id": first["id"]})
        anna.ok("finish", {"interaction_id": first["id"]})
        second = anna.events.wait("offer")
        assert second["id"] != first["id"] and second["channel"] == "email"
        anna.close()


def test_replies_go_through_a_relay_with_starttls_and_login(tmp_path, db_url):
    cert, key = self_signed(tmp_path)
    secure = CaptureRelay()
    secure.tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    secure.tls_context.load_cert_chain(cert, key)
    secure.login = ("callyard", "relay-pass")
    secure.start()
    env = mail_env(
        secure,
        CALLYARD_CHANNELS__EMAIL__RELAY_STARTTLS="true",
        CALLYARD_CHANNELS__EMAIL__RELAY_CA_FILE=cert,
        CALLYARD_CHANNELS__EMAIL__RELAY_USERNAME="callyard",
        CALLYARD_CHANNELS__EMAIL__RELAY_PASSWORD="relay-pass",
        CALLYARD_CHANNELS__EMAIL__AUTO_ACK="true",
    )
    try:
        with running(tmp_path, db_url, env=env, agents=("anna",)) as srv:
            send(smtp_port(srv), letter())
            (ack,) = secure.wait(1)
            assert ack["To"].addresses[0].addr_spec == "olga@example.ru"
            assert secure.logins == ["callyard"]
    finally:
        secure.stop()
