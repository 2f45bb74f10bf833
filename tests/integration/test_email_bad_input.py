"""Bad input to the SMTP gateway, over real sockets: each gets a clear SMTP reply or is stored
as well as it can be read; nothing is half stored, and the gateway goes on serving."""

from __future__ import annotations

import smtplib
import ssl

import pytest

from harness import WAIT, AgentClient, running
from mailkit import SUPPORT, CaptureRelay, letter, mail_env, self_signed, send, smtp_port


@pytest.fixture
def gateway(tmp_path, db_url):  # noqa: ANN001, ANN201
    relay = CaptureRelay().start()
    try:
        with running(tmp_path, db_url, env=mail_env(relay), agents=("anna",)) as srv:
            srv.add_agent("sam", extra=("--role", "supervisor"))
            srv.smtp = smtp_port(srv)
            yield srv
    finally:
        relay.stop()


def raw_data(port: int, data: bytes) -> tuple[int, bytes]:
    """MAIL, RCPT and DATA by hand, without announcing the size: the server reads it all."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        client.ehlo()
        assert client.mail("olga@example.ru")[0] == 250
        assert client.rcpt(SUPPORT)[0] == 250
        return client.data(data)


def still_serving(server, n: int) -> None:  # noqa: ANN001
    assert server.proc.poll() is None, "the server process ended"
    answer = send(server.smtp, letter(msgid=f"<check-{n}@example.ru>", body=f"check {n}"))
    assert answer == {}


def stored_files(server) -> list:  # noqa: ANN001
    return [p for p in (server.workdir / "attachments").rglob("*") if p.is_file()]


def test_oversized_mail_is_refused_with_552(gateway):
    big = b"Subject: big\r\nMessage-ID: <big@example.ru>\r\n\r\n" + (b"x" * 998 + b"\r\n") * 52_000  # 50 MB
    code, text = raw_data(gateway.smtp, big)
    assert code == 552, text
    still_serving(gateway, 1)
    # a client that announces the size is refused before it sends anything
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        send(gateway.smtp, big)
    assert refused.value.smtp_code == 552
    still_serving(gateway, 2)


def test_a_thousand_attachments_are_refused_and_nothing_is_kept(gateway):
    msg = letter(msgid="<many@example.ru>")
    for i in range(1000):
        msg.add_attachment(f"file {i}".encode(), maintype="text", subtype="plain", filename=f"f{i}.txt")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(gateway.smtp, msg)
    assert refused.value.smtp_code == 552 and b"5.3.4" in refused.value.smtp_error
    assert stored_files(gateway) == []
    still_serving(gateway, 1)


BROKEN: list[tuple[str, bytes, str]] = [
    ("no headers at all", b"hello without headers\r\n", "hello without headers"),
    (
        "boundary that never comes",
        b'From: a@example.ru\r\nMessage-ID: <b1@x>\r\nContent-Type: multipart/mixed; boundary="zz"\r\n\r\n'
        b"text before any boundary\r\n",
        "text before any boundary",
    ),
    (
        "8-bit junk in headers",
        b"From: \xc8\xe2\xe0\xed <ivan@example.ru>\r\nSubject: \xcf\xf0\xe8\xe2\xe5\xf2\r\n"
        b"Message-ID: <b2@x>\r\n\r\nbody\r\n",
        "body",
    ),
    (
        "unknown charset and bad base64",
        b"From: a@example.ru\r\nMessage-ID: <b3@x>\r\nContent-Type: text/plain; charset=x-martian\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n",
        None,
    ),
    (
        "NUL bytes and a lone CR",
        b"From: a@example.ru\r\nMessage-ID: <b4@x>\r\n\r\nnul\x00here\rthere\r\n",
        "nulhere\nthere",
    ),
    ("empty message", b"\r\n", "(empty message)"),
    (
        "garbage addresses",
        b"From: <<<@@@>>>\r\nTo: ;;;\r\nReply-To: \r\nMessage-ID: <b5@x>\r\n\r\nwho am i\r\n",
        "who am i",
    ),
]


def test_broken_mail_is_stored_as_well_as_it_can_be_read(gateway):
    for n, (what, raw, _body) in enumerate(BROKEN):
        code, text = raw_data(gateway.smtp, raw)
        assert code == 250, f"{what}: {code} {text}"
        still_serving(gateway, n)
    sam = AgentClient(gateway.url, "sam")
    bodies = []
    interaction_id = 1
    while True:
        answer = sam.call("open", {"interaction_id": interaction_id})
        if not answer["ok"]:
            break
        bodies += [m["body"] for m in answer["messages"]]
        interaction_id += 1
    sam.close()
    for what, _raw, body in BROKEN:
        if body is not None:
            assert body in bodies, f"{what}: {body!r} not among {bodies!r}"
    assert len(bodies) == 2 * len(BROKEN)  # each broken one and each check, once


def test_a_resent_message_id_is_stored_once(gateway):
    for _ in range(3):
        send(gateway.smtp, letter(msgid="<same@example.ru>"))
    anna = AgentClient(gateway.url, "anna")
    anna.available()
    offer = anna.events.wait("offer")
    anna.ok("accept", {"interaction_id": offer["id"]})
    assert len(anna.ok("open", {"interaction_id": offer["id"]})["messages"]) == 1
    with pytest.raises(AssertionError):
        anna.events.wait("offer", timeout=1)
    anna.close()


def test_starttls_when_a_certificate_is_configured(tmp_path, db_url):
    cert, key = self_signed(tmp_path)
    relay = CaptureRelay().start()
    env = mail_env(relay, CALLYARD_CHANNELS__EMAIL__TLS_CERT=cert, CALLYARD_CHANNELS__EMAIL__TLS_KEY=key)
    try:
        with running(tmp_path, db_url, env=env, agents=("anna",)) as srv:
            port = smtp_port(srv)
            context = ssl.create_default_context(cafile=cert)
            with smtplib.SMTP("127.0.0.1", port, timeout=WAIT) as client:
                client.ehlo()
                assert client.has_extn("starttls")
                client.starttls(context=context)
                client.ehlo()
                assert client.send_message(letter(msgid="<tls@example.ru>"), to_addrs=[SUPPORT]) == {}
            anna = AgentClient(srv.url, "anna")
            anna.available()
            assert anna.events.wait("offer")["channel"] == "email"
            anna.close()
    finally:
        relay.stop()
