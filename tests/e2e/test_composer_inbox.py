"""The composer in a real Chromium: files attached (and removed) before sending, the email
subject kept and editable with the quote folded below, an email's inline image shown while a
remote one is never fetched, a chat file downloaded in the widget, and file names with markup
shown as text."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from harness import Server, running
from mailkit import CaptureRelay, mail_env, png, related_mail, send, smtp_port
from test_roundtrip import WIDGET, agent_goes_available, customer_sends, open_widget

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]

MAX_UPLOAD = 4000
XSS_NAME = '<img src=x onerror="window.__pwned=1">.txt'
SAFE_NAME = "img src_x onerror_window.__pwned_1_.txt"  # as safe_filename stores it


class Tracker:
    """A web server standing in for a sender's tracking pixel: it records every request."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        seen = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                seen.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()
                self.wfile.write(png())

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/pixel.png"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def relay() -> Iterator[CaptureRelay]:
    capture = CaptureRelay().start()
    yield capture
    capture.stop()


@pytest.fixture
def server(tmp_path, db_url, relay) -> Iterator[Server]:  # noqa: ANN001
    """Overrides the e2e server: email on (replies to the capture relay), a small upload cap."""
    env = mail_env(relay, CALLYARD_INBOX__MAX_UPLOAD_BYTES=str(MAX_UPLOAD))
    with running(tmp_path, db_url, env=env, agents=("anna",)) as srv:
        srv.smtp = smtp_port(srv)
        yield srv


def accept_offer(agent: Page, channel: str) -> None:
    offer = agent.locator("#offers li.offer")
    expect(offer).to_contain_text(channel)
    offer.locator("button.accept").click()
    expect(agent.locator("#conversation .conv-meta")).to_contain_text("active")


def test_email_composer_files_subject_quote_and_inline_images(server, relay, pages) -> None:  # noqa: ANN001
    tracker = Tracker()
    try:
        send(server.smtp, related_mail(tracker.url))
        agent = pages("agent")
        agent_goes_available(agent)
        accept_offer(agent, "email")

        # the inline image loads (from this site, as the agent); the tracking pixel is not fetched
        image = agent.locator("#conversation ol.messages li.msg-in .msg-html img[alt=photo]")
        expect(image).to_have_attribute("src", re.compile(r"^/attachments/\d+/inline$"))
        agent.wait_for_function(
            "() => { const i = document.querySelector('.msg-html img[alt=photo]');"
            " return i && i.complete && i.naturalWidth > 0; }"
        )
        assert agent.evaluate("document.querySelector('.msg-html img[alt=photo]').naturalWidth") == 2
        assert agent.locator(".msg-html img").count() == 2
        assert agent.locator(".msg-html img:not([src])").count() == 1  # the remote one, without src
        assert tracker.requests == []

        # the email composer: the subject kept, the quote folded below
        composer = agent.locator("#conversation .composer")
        subject = composer.locator(".compose-subject")
        expect(subject).to_be_visible()
        expect(subject).to_have_value("Re: Broken spade")
        quote = composer.locator(".quote-preview")
        expect(quote.locator(".quote-text")).to_be_hidden()  # folded
        quote.locator("summary").click()
        expect(quote.locator(".quote-text")).to_contain_text("Olga Petrova wrote:\n> See the photo.")

        # attach three files, one named with markup; remove one before sending
        picker = composer.locator(".attach-input")
        picker.set_input_files(
            [
                {"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 invoice"},
                {"name": XSS_NAME, "mimeType": "text/plain", "buffer": b"markup"},
                {"name": "extra.txt", "mimeType": "text/plain", "buffer": b"remove me"},
            ]
        )
        files = composer.locator(".pending-files li.pending-file:not(.uploading)")
        expect(files).to_have_count(3)
        expect(files.locator(".file-name")).to_have_text(["invoice.pdf", SAFE_NAME, "extra.txt"])
        files.nth(2).locator(".file-remove").click()
        expect(files).to_have_count(2)
        # too large: refused before uploading, the (markup) name shown as text
        picker.set_input_files(
            {
                "name": "<b>big</b>.bin",
                "mimeType": "application/octet-stream",
                "buffer": b"x" * (MAX_UPLOAD + 1),
            }
        )
        failed = composer.locator(".pending-files li.failed")
        expect(failed.locator(".file-name")).to_have_text("<b>big</b>.bin")
        expect(failed.locator(".file-error")).to_contain_text("too large")
        assert composer.locator(".pending-files b, .pending-files img").count() == 0

        subject.fill("Re: Broken spade (invoice)")
        composer.locator("textarea").fill("Here is the invoice.")
        composer.locator(".composer-row button[type=submit]").click()
        sent_reply = agent.locator("#conversation ol.messages li.msg-out")
        expect(sent_reply.locator(".msg-files a")).to_have_text(["invoice.pdf", SAFE_NAME])
        expect(sent_reply.locator(".msg-subject")).to_have_text("Re: Broken spade (invoice)")
        expect(composer.locator(".pending-files li")).to_have_count(0)

        (mail,) = relay.wait(1)
        assert mail["Subject"].startswith("Re: Broken spade (invoice) [#")
        assert mail["In-Reply-To"] == "<photo@example.ru>"
        text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert text.startswith("Here is the invoice.\n\nOn ") and text.endswith("> See the photo.\n")
        assert [(p.get_filename(), p.get_payload(decode=True)) for p in mail.iter_attachments()] == [
            ("invoice.pdf", b"%PDF-1.4 invoice"),
            (SAFE_NAME, b"markup"),
        ]
        assert agent.evaluate("typeof window.__pwned") == "undefined"
        assert tracker.requests == []
    finally:
        tracker.stop()


def test_a_file_sent_in_chat_downloads_in_the_widget(server, pages) -> None:  # noqa: ANN001
    customer = pages("customer")
    agent = pages("agent")
    open_widget(customer)
    customer_sends(customer, "Do you have the manual?")
    agent_goes_available(agent)
    accept_offer(agent, "chat")
    composer = agent.locator("#conversation .composer")
    expect(composer.locator(".compose-email")).to_be_hidden()  # no subject for chat
    composer.locator(".attach-input").set_input_files(
        {"name": "manual.pdf", "mimeType": "application/pdf", "buffer": b"%PDF manual"}
    )
    expect(composer.locator(".pending-files li.pending-file:not(.uploading)")).to_have_count(1)
    composer.locator(".composer-row button[type=submit]").click()  # files alone, no text
    expect(agent.locator("#conversation ol.messages li.msg-out .msg-files a")).to_have_text("manual.pdf")

    link = customer.locator(f"{WIDGET} ol.messages li.out a.file")
    expect(link).to_have_text("📎 manual.pdf")
    with customer.expect_download() as download:
        link.click()
    saved = download.value
    assert saved.suggested_filename == "manual.pdf"
    assert Path(saved.path()).read_bytes() == b"%PDF manual"
