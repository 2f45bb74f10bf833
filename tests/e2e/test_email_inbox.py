"""An email in the agent inbox, in a real Chromium: its subject and its attachments are shown,
an attachment downloads, and the HTML of the mail never runs."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import expect

from harness import WAIT, Server, running
from mailkit import CaptureRelay, smtp_port
from test_roundtrip import agent_goes_available

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


@pytest.fixture
def server(tmp_path, db_url) -> Iterator[Server]:  # noqa: ANN001
    """Overrides the e2e server: one with the email channel on, replies to a capture relay."""
    relay = CaptureRelay().start()
    env = {
        "CALLYARD_CHANNELS__EMAIL__ENABLED": "true",
        "CALLYARD_CHANNELS__EMAIL__PORT": "0",
        "CALLYARD_CHANNELS__EMAIL__ADDRESSES": "support@shop.test",
        "CALLYARD_CHANNELS__EMAIL__RELAY_HOST": "127.0.0.1",
        "CALLYARD_CHANNELS__EMAIL__RELAY_PORT": str(relay.port),
        "CALLYARD_GATEWAY__POLL_SECONDS": "0.2",
    }
    try:
        with running(tmp_path, db_url, env=env, agents=("anna",)) as srv:
            srv.smtp = smtp_port(srv)
            yield srv
    finally:
        relay.stop()


def test_subject_and_attachments_in_the_conversation(server, pages) -> None:  # noqa: ANN001
    mail = EmailMessage()
    mail["From"] = "Ольга <olga@example.ru>"
    mail["To"] = "support@shop.test"
    mail["Subject"] = "Счёт за март"
    mail["Message-ID"] = "<invoice@example.ru>"
    mail.set_content("Добрый день, счёт во вложении.")
    mail.add_alternative(
        "<p>Добрый день<script>window.__pwned=1</script><img src=x onerror=window.__pwned=1></p>",
        subtype="html",
    )
    mail.add_attachment(b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="счёт-03.pdf")
    with smtplib.SMTP("127.0.0.1", server.smtp, timeout=WAIT) as client:
        client.send_message(mail)

    agent = pages("agent")
    agent_goes_available(agent)
    offer = agent.locator("#offers li.offer")
    expect(offer).to_contain_text("email")
    offer.locator("button.accept").click()
    conversation = agent.locator("#conversation")
    expect(conversation.locator(".conv-subject")).to_have_text("Счёт за март")
    message = conversation.locator("ol.messages li.msg-in")
    expect(message.locator(".msg-subject")).to_have_text("Счёт за март")
    expect(message.locator(".msg-body")).to_have_text("Добрый день, счёт во вложении.")
    link = message.locator(".msg-files a")
    expect(link).to_have_text("счёт-03.pdf")
    with agent.expect_download() as download:
        link.click()
    saved = download.value
    assert saved.suggested_filename == "счёт-03.pdf"
    assert Path(saved.path()).read_bytes() == b"%PDF-1.4 invoice"
    # Found again through search, the read-only look lists the file too.
    agent.locator("#open-search").click()
    agent.locator("#overlay .search-form button[type=submit]").click()
    agent.locator("#overlay .search-result").first.click()
    expect(agent.locator("#overlay .peek-messages .msg-files a")).to_have_text("счёт-03.pdf")
    assert agent.evaluate("window.__pwned") is None
