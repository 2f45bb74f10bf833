"""The composer over real parts: files uploaded over HTTP (session and CSRF checked, size cap),
sent with the reply through each channel: email as MIME attachments through the real gateway
to a real capture relay (with the quote, the kept subject, threading headers), Telegram with
sendDocument against the Bot API stand-in, chat as a download only the visitor's token opens.
An email's inline (cid:) image is served to the agent who may see it, nobody else.
On SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
import requests

from callyard.models import Attachment, Message, OutboxItem
from callyard.store import Store

from harness import WAIT, AgentClient, Visitor, running
from mailkit import CaptureRelay, mail_env, png, related_mail, send, smtp_port
from telegram_api import BotApi


def csrf_of(agent: AgentClient) -> str:
    page = agent.http.get(agent.url + "/inbox", timeout=WAIT)
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    assert found, "no CSRF token on the inbox page"
    return found.group(1)


def upload(
    agent: AgentClient, interaction_id: int, name: str, data: bytes, kind: str = "application/octet-stream"
) -> requests.Response:
    return agent.http.post(
        agent.url + "/inbox/uploads",
        data={"interaction_id": str(interaction_id)},
        files={"file": (name, data, kind)},
        headers={"X-CSRFToken": csrf_of(agent)},
        timeout=WAIT,
    )


@pytest.fixture
def relay():  # noqa: ANN201
    capture = CaptureRelay().start()
    yield capture
    capture.stop()


def test_email_reply_with_files_quote_and_subject_and_inline_images(tmp_path, db_url, relay) -> None:  # noqa: ANN001
    env = mail_env(relay, CALLYARD_INBOX__MAX_UPLOAD_BYTES="5000")
    with running(tmp_path, db_url, env=env, agents=("anna", "bob")) as mail:
        mail.smtp = smtp_port(mail)
        anna, bob = AgentClient(mail.url, "anna"), AgentClient(mail.url, "bob")
        anna.available()
        send(mail.smtp, related_mail("http://127.0.0.1:9/pixel.gif"))
        offer = anna.events.wait("offer")
        anna.ok("accept", {"interaction_id": offer["id"]})
        (message,) = anna.ok("open", {"interaction_id": offer["id"]})["messages"]

        # the inline image: its cid: points at the stored attachment; the remote one is gone
        (photo,) = message["attachments"]
        assert photo["inline"] and photo["content_type"] == "image/png"
        assert message["html_images"] == 1
        assert f'src="/attachments/{photo["id"]}/inline"' in message["html"]
        assert "127.0.0.1:9" not in message["html"]
        image = anna.http.get(f"{mail.url}/attachments/{photo['id']}/inline", timeout=WAIT)
        assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
        assert image.content == png()
        # bob works the same queue: he may see the conversation read-only, images included
        assert bob.http.get(f"{mail.url}/attachments/{photo['id']}/inline", timeout=WAIT).content == png()
        logged_out = requests.get(
            f"{mail.url}/attachments/{photo['id']}/inline", timeout=WAIT, allow_redirects=False
        )
        assert logged_out.status_code in (302, 401) and logged_out.content != png()

        # the draft: the subject kept, the quote of her message
        draft = anna.ok("draft", {"interaction_id": offer["id"]})
        assert draft["subject"] == "Re: Broken spade" and draft["max_upload_bytes"] == 5000
        assert draft["quote"].splitlines()[-1] == "> See the photo."

        # uploads: CSRF required, size cap with a clear error, only for my interaction
        no_csrf = anna.http.post(
            mail.url + "/inbox/uploads",
            data={"interaction_id": str(offer["id"])},
            files={"file": ("a.txt", b"x")},
            timeout=WAIT,
        )
        assert no_csrf.status_code == 400
        too_big = upload(anna, offer["id"], "big.bin", b"x" * 6000)
        assert too_big.status_code == 413
        assert too_big.json()["error"]["error_id"] == "file-too-large"
        assert "5000 bytes" in too_big.json()["error"]["message"]
        assert upload(bob, offer["id"], "b.txt", b"bob").status_code == 403
        pdf = upload(anna, offer["id"], "счёт 03.pdf", b"%PDF-1.4 invoice", "application/pdf").json()
        extra = upload(anna, offer["id"], "../../etc/passwd", b"root:x", "text/plain").json()
        assert pdf["ok"] and pdf["upload"]["filename"] == "счёт 03.pdf"
        assert extra["upload"]["filename"] == "passwd"
        removed = anna.http.delete(
            f"{mail.url}/inbox/uploads/{extra['upload']['id']}",
            headers={"X-CSRFToken": csrf_of(anna)},
            timeout=WAIT,
        )
        assert removed.status_code == 200
        assert [u["id"] for u in anna.ok("draft", {"interaction_id": offer["id"]})["uploads"]] == [
            pdf["upload"]["id"]
        ]
        gone = anna.call(
            "reply",
            {"interaction_id": offer["id"], "body": "x", "attachments": [extra["upload"]["id"]]},
        )
        assert not gone["ok"] and gone["error"]["error_id"] == "upload-gone"

        anna.ok(
            "reply",
            {
                "interaction_id": offer["id"],
                "body": "Here is your invoice.",
                "subject": "Re: Broken spade",
                "attachments": [pdf["upload"]["id"]],
            },
        )
        (sent,) = relay.wait(1)
        assert sent["Subject"] == f"Re: Broken spade [#{offer['id']}]"
        assert sent["In-Reply-To"] == "<photo@example.ru>" and sent["References"] == "<photo@example.ru>"
        text = sent.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert re.fullmatch(
            r"Here is your invoice\.\n\nOn \d\d \w{3} \d{4} \d\d:\d\d UTC, Olga Petrova wrote:\n"
            r"> See the photo\.\n",
            text,
        ), text
        files = [(p.get_filename(), p.get_content_type(), p.get_content()) for p in sent.iter_attachments()]
        assert files == [("счёт 03.pdf", "application/pdf", b"%PDF-1.4 invoice")]

        # the conversation lists the reply's file
        shown = anna.ok("open", {"interaction_id": offer["id"]})["messages"][-1]
        assert [a["filename"] for a in shown["attachments"]] == ["счёт 03.pdf"]
        assert shown["subject"] == "Re: Broken spade"
        assert anna.ok("draft", {"interaction_id": offer["id"]})["uploads"] == []
        anna.close()
        bob.close()


def test_a_chat_reply_with_a_file_is_downloaded_with_the_visitor_token_only(server) -> None:  # noqa: ANN001
    anna = AgentClient(server.url, "anna")
    anna.available()
    visitor, stranger = Visitor(server.url), Visitor(server.url)
    visitor.send("Do you have the manual?")
    offer = anna.events.wait("offer")
    anna.ok("accept", {"interaction_id": offer["id"]})
    manual = upload(anna, offer["id"], "manual.pdf", b"%PDF manual", "application/pdf").json()["upload"]
    anna.ok("reply", {"interaction_id": offer["id"], "body": "", "attachments": [manual["id"]]})
    pushed = visitor.events.wait("message")
    assert pushed["body"] == "" and pushed["attachments"] == [
        {"id": pushed["attachments"][0]["id"], "filename": "manual.pdf", "size": 11}
    ]
    url = f"{server.url}/chat/files/{pushed['attachments'][0]['id']}"
    mine = requests.post(url, data={"token": visitor.token}, headers={"Origin": server.url}, timeout=WAIT)
    assert mine.status_code == 200 and mine.content == b"%PDF manual"
    assert mine.headers["Access-Control-Allow-Origin"] == server.url
    assert "manual.pdf" in mine.headers["Content-Disposition"]
    assert requests.post(url, data={"token": stranger.token}, timeout=WAIT).status_code == 404
    assert requests.post(url, data={"token": "forged"}, timeout=WAIT).status_code == 401
    assert requests.post(url, timeout=WAIT).status_code == 401
    # a reload brings the file back with the history
    again = Visitor(server.url, token=visitor.token)
    assert again.history[-1]["attachments"][0]["filename"] == "manual.pdf"
    for client in (again, visitor, stranger, anna):
        client.close()


def test_a_telegram_reply_with_a_file_is_sent_as_a_document(tmp_path, db_url) -> None:  # noqa: ANN001
    from test_telegram import SECRET, telegram_env

    with BotApi() as api, running(tmp_path, db_url, env=telegram_env(api)) as core:
        anna = AgentClient(core.url, "anna")
        anna.available()
        api.person_sends(77, "Send me the form please", first_name="Иван")
        offer = anna.events.wait("offer")
        anna.ok("accept", {"interaction_id": offer["id"]})
        form = upload(anna, offer["id"], "заявление.docx", b"PK\x03\x04 form").json()["upload"]
        anna.ok("reply", {"interaction_id": offer["id"], "body": "Here it is.", "attachments": [form["id"]]})
        sent = api.wait_for(lambda: [s for s in api.sent_to(77) if s.method == "sendDocument"])
        text = [s.params["text"] for s in api.sent_to(77) if s.method == "sendMessage"]
        assert "Here it is." in text
        assert sent[0].files["document"] == ("заявление.docx", b"PK\x03\x04 form")
        # files alone: only the document, no empty text
        photo = upload(anna, offer["id"], "photo.png", png(), "image/png").json()["upload"]
        anna.ok("reply", {"interaction_id": offer["id"], "body": "", "attachments": [photo["id"]]})
        documents = api.wait_for(
            lambda: [s for s in api.sent_to(77) if s.method == "sendDocument"][1:] or None
        )
        assert documents[0].files["document"] == ("photo.png", png())
        assert [s.params["text"] for s in api.sent_to(77) if s.method == "sendMessage"] == text

        # the internal API hands a gateway only a file of the item it names, with the secret
        store = Store(db_url)
        with store.connection():
            (attachment,) = (
                Attachment.select()
                .join(Message)
                .where(Message.interaction == offer["id"], Attachment.filename == "заявление.docx")
            )
            item = OutboxItem.get(OutboxItem.message == attachment.message_id)
        store.close()
        base = f"{core.url}/internal/v1/outbox"
        secret = {"Authorization": f"Bearer {SECRET}"}
        good = requests.get(f"{base}/{item.id}/attachments/{attachment.id}", headers=secret, timeout=WAIT)
        assert good.status_code == 200 and good.content == b"PK\x03\x04 form"
        wrong = requests.get(
            f"{base}/{item.id - 1}/attachments/{attachment.id}", headers=secret, timeout=WAIT
        )
        assert wrong.status_code == 404 and wrong.json()["error"]["error_id"] == "attachment-not-found"
        no_secret = requests.get(f"{base}/{item.id}/attachments/{attachment.id}", timeout=WAIT)
        assert no_secret.status_code == 401
        anna.close()
