"""The Telegram channel end to end: a real `callyard run` starts the real gateway process,
which talks to a local server speaking the Bot API's HTTP shape (tests/telegram_api.py);
agents use the real Socket.IO inbox. On SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from callyard.models import Attachment, Interaction, Message
from callyard.store import Store

from harness import WAIT, AgentClient, running
from ports import free_port
from telegram_api import TOKEN, BotApi

SECRET = "gateway-secret-for-telegram-tests"


def telegram_env(api: BotApi, **extra: str) -> dict[str, str]:
    return {
        "CALLYARD_CHANNELS__TELEGRAM__TOKEN": TOKEN,
        "CALLYARD_CHANNELS__TELEGRAM__API_URL": api.url,
        "CALLYARD_CHANNELS__TELEGRAM__POLL_TIMEOUT": "1",
        "CALLYARD_CHANNELS__TELEGRAM__GREETING": "Здравствуйте! Чем можем помочь?",
        "CALLYARD_GATEWAY__SECRET": SECRET,
        "CALLYARD_GATEWAY__POLL_SECONDS": "0.2",
        **extra,
    }


@pytest.fixture
def api():  # noqa: ANN201
    with BotApi() as fake:
        yield fake


@pytest.fixture
def store(db_url):  # noqa: ANN001, ANN201
    store = Store(db_url)
    yield store
    store.close()


def wait_until(check, timeout: float = WAIT):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with_value = check()
        if with_value:
            return with_value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {check}")


def messages_of(store: Store, chat_id: int) -> list[Message]:
    with store.connection():
        return list(
            Message.select()
            .join(Interaction)
            .where(Interaction.channel == "telegram", Interaction.thread_key == str(chat_id))
            .order_by(Message.id)
        )


def test_start_greets_then_a_question_reaches_an_agent_and_the_reply_reaches_telegram(
    tmp_path, db_url, api, store
):
    with running(tmp_path, db_url, env=telegram_env(api)) as core:
        anna = AgentClient(core.url, "anna")
        anna.available()
        start = api.person_sends(42, "/start", first_name="Иван")
        greeting = api.wait_for(lambda: api.sent_to(42))
        assert greeting[0].params["text"] == "Здравствуйте! Чем можем помочь?"
        question = api.person_sends(42, "Где мой заказ №123?", first_name="Иван")

        offer = anna.events.wait("offer")
        assert offer["channel"] == "telegram"
        anna.ok("accept", {"interaction_id": offer["id"]})
        api.wait_for(lambda: api.confirmed > question > start)
        # Telegram was told only after both were stored: the offset moved past them.
        opened = anna.ok("open", {"interaction_id": offer["id"]})
        inbound = [m["body"] for m in opened["messages"] if m["direction"] == "in"]
        assert inbound == ["/start", "Где мой заказ №123?"], "".join(core.output)

        anna.ok("reply", {"interaction_id": offer["id"], "body": "Заказ №123 уже в пути."})
        replies = api.wait_for(lambda: [s for s in api.sent_to(42) if "в пути" in s.params["text"]])
        assert len(replies) == 1

        def reply_state() -> str:
            opened = anna.ok("open", {"interaction_id": offer["id"]})
            return opened["messages"][-1]["delivery"]["state"]

        wait_until(lambda: reply_state() == "sent")
        anna.close()
    with store.connection():
        interaction = Interaction.get_by_id(offer["id"])
        assert interaction.contact.name == "Иван"
        assert [(i.kind, i.value) for i in interaction.contact.identities] == [("telegram", "42")]


def test_an_update_is_confirmed_only_once_stored_and_stored_once(tmp_path, db_url, api, store):
    """The gateway cannot reach the core: Telegram keeps the update. Once it can, the update is
    stored and confirmed; Telegram sending it again stores nothing new."""
    # A core without a token of its own: the gateway is started by hand, as on another machine.
    with running(tmp_path, db_url, env={"CALLYARD_GATEWAY__SECRET": SECRET}, agents=()) as core:
        update = api.person_sends(7, "Алло?")
        gateway = start_gateway(core.env, api, secret="wrong-secret-wrong-secret")
        try:
            wait_until(lambda: api.calls.count("getUpdates") >= 3)
            assert api.confirmed <= update
            assert messages_of(store, 7) == []
        finally:
            gateway.kill()
            gateway.wait(timeout=WAIT)
        gateway = start_gateway(core.env, api, secret=SECRET, core_url=core.url)
        try:
            wait_until(lambda: api.confirmed > update)
            assert [m.body for m in messages_of(store, 7)] == ["Алло?"]
            # Telegram delivers the very same message again (as after a lost confirmation).
            (first,) = messages_of(store, 7)
            again = api.add_update(
                {
                    "message": {
                        "message_id": int(first.external_id.split(":")[1]),
                        "date": 0,
                        "chat": {"id": 7, "type": "private"},
                        "from": {"id": 7, "is_bot": False, "first_name": "Ivan"},
                        "text": "Алло?",
                    }
                }
            )
            wait_until(lambda: api.confirmed > again)
            assert [m.body for m in messages_of(store, 7)] == ["Алло?"]
        finally:
            gateway.terminate()
            gateway.wait(timeout=WAIT)


def start_gateway(
    env: dict[str, str], api: BotApi, *, secret: str, core_url: str = "", extra: dict[str, str] | None = None
) -> subprocess.Popen:
    gateway_env = {**env, **telegram_env(api, **(extra or {})), "CALLYARD_GATEWAY__SECRET": secret}
    if core_url:
        gateway_env["CALLYARD_GATEWAY__CORE_URL"] = core_url
    else:
        gateway_env["CALLYARD_GATEWAY__CORE_URL"] = f"http://127.0.0.1:{free_port()}"
    return subprocess.Popen(
        [sys.executable, "-m", "callyard", "gateway", "telegram"],
        env=gateway_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def accepted_conversation(core, api: BotApi, chat_id: int, text: str) -> tuple[AgentClient, int]:  # noqa: ANN001
    anna = AgentClient(core.url, "anna")
    anna.available()
    api.person_sends(chat_id, text)
    offer = anna.events.wait("offer")
    anna.ok("accept", {"interaction_id": offer["id"]})
    return anna, offer["id"]


def last_delivery(anna: AgentClient, interaction_id: int) -> dict:
    return anna.ok("open", {"interaction_id": interaction_id})["messages"][-1]["delivery"]


def test_a_customer_who_blocked_the_bot_is_shown_on_the_reply_at_once(tmp_path, db_url, api):
    with running(tmp_path, db_url, env=telegram_env(api)) as core:
        anna, interaction = accepted_conversation(core, api, 5, "hello")
        api.fail_next(
            "sendMessage",
            403,
            {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
        )
        anna.ok("reply", {"interaction_id": interaction, "body": "Are you still there?"})
        failed = anna.events.wait("delivery_failed")
        assert "blocked" in failed["error"]
        delivery = last_delivery(anna, interaction)
        assert delivery["state"] == "failed" and delivery["attempts"] == 1  # not retried in vain
        anna.close()


def test_flood_control_and_a_broken_answer_are_waited_out_and_the_reply_sent_once(tmp_path, db_url, api):
    with running(tmp_path, db_url, env=telegram_env(api)) as core:
        anna, interaction = accepted_conversation(core, api, 6, "hello")
        api.fail_next(
            "sendMessage",
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1},
            },
        )
        api.fail_next("sendMessage", 502, b"<html><body>502 Bad Gateway</body></html>")
        anna.ok("reply", {"interaction_id": interaction, "body": "One moment, please."})
        sent = api.wait_for(lambda: api.sent_to(6), timeout=30)
        wait_until(lambda: last_delivery(anna, interaction)["state"] == "sent", timeout=30)
        assert [s.params["text"] for s in sent] == ["One moment, please."]
        assert api.calls.count("sendMessage") == 3
        anna.close()


def test_files_in_and_a_shared_phone_joins_the_contact(tmp_path, db_url, api, store):
    with running(tmp_path, db_url, env=telegram_env(api)) as core:
        api.add_file("DOC1", b"%PDF-1.7 invoice")
        api.add_file("BIG", b"x" * 2048)
        api.person_sends(
            9,
            None,
            document={
                "file_id": "DOC1",
                "file_unique_id": "d1",
                "file_name": "../../счёт.pdf",
                "mime_type": "application/pdf",
            },
            caption="Вот счёт",
        )
        api.person_sends(9, None, photo=[{"file_id": "BIG", "file_unique_id": "b", "file_size": 2048}])
        api.person_sends(
            9, None, contact={"phone_number": "+7 916 000-11-22", "first_name": "Ivan", "user_id": 9}
        )
        try:
            wait_until(lambda: len(messages_of(store, 9)) == 3)
        except AssertionError:
            print("".join(core.output))
            raise
        anna, interaction = AgentClient(core.url, "anna"), messages_of(store, 9)[0].interaction_id
        first, second, third = messages_of(store, 9)
        assert first.body.startswith("Вот счёт")
        with store.connection():
            (kept,) = Attachment.select().where(Attachment.message == first.id)
            assert kept.filename == "счёт.pdf" and kept.content_type == "application/pdf"
            assert Attachment.select().where(Attachment.message == second.id).count() == 1
            identities = Interaction.get_by_id(interaction).contact.identities
            assert sorted((i.kind, i.value) for i in identities) == [
                ("phone", "+79160001122"),
                ("telegram", "9"),
            ]
        assert "+7 916 000-11-22" in third.body
        anna.close()


def test_files_over_the_limit_are_not_downloaded_and_the_message_says_so(tmp_path, db_url, api, store):
    env = telegram_env(api, CALLYARD_CHANNELS__TELEGRAM__MAX_FILE_BYTES="1000")
    with running(tmp_path, db_url, env=env, agents=()):
        api.add_file("BIG", b"x" * 5000)
        api.person_sends(11, None, document={"file_id": "BIG", "file_unique_id": "b", "file_name": "big.zip"})
        api.person_sends(11, None, video={"file_id": "HUGE", "file_unique_id": "h", "file_size": 10**9})
        wait_until(lambda: len(messages_of(store, 11)) == 2)
        big, huge = messages_of(store, 11)
        assert "big.zip was not kept" in big.body
        assert "was not downloaded" in huge.body
        assert "HUGE" not in api.calls  # getFile was never asked for it
        with store.connection():
            assert Attachment.select().count() == 0


def webhook_update(update_id: int, chat_id: int, message_id: int, text: str) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": 0,
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Olga"},
            "text": text,
        },
    }


def test_webhook_mode_answers_200_only_for_stored_updates(tmp_path, db_url, api, store):
    hook_secret = "hook-secret-0123456789"
    port = free_port()
    hook = {
        "CALLYARD_CHANNELS__TELEGRAM__WEBHOOK_URL": "https://callyard.example.com/telegram",
        "CALLYARD_CHANNELS__TELEGRAM__WEBHOOK_SECRET": hook_secret,
        "CALLYARD_CHANNELS__TELEGRAM__WEBHOOK_PORT": str(port),
    }
    url = f"http://127.0.0.1:{port}/telegram"
    with running(tmp_path, db_url, env={"CALLYARD_GATEWAY__SECRET": SECRET}, agents=()) as core:
        gateway = start_gateway({**core.env, **hook}, api, secret=SECRET, core_url=core.url, extra=hook)
        try:
            api.wait_for(lambda: api.webhook)
            assert api.webhook["url"] == "https://callyard.example.com/telegram"
            assert api.webhook["secret_token"] == hook_secret
            wait_until(lambda: _answers(url))
            post = lambda body, secret=hook_secret: requests.post(  # noqa: E731
                url, json=body, headers={"X-Telegram-Bot-Api-Secret-Token": secret}, timeout=WAIT
            )
            assert (
                post(webhook_update(1, 21, 5, "Добрый день"), secret="guessed-secret-000000").status_code
                == 403
            )
            assert messages_of(store, 21) == []
            assert post(webhook_update(1, 21, 5, "Добрый день")).status_code == 200
            assert [m.body for m in messages_of(store, 21)] == ["Добрый день"]
            assert post(webhook_update(1, 21, 5, "Добрый день")).status_code == 200  # Telegram's retry
            assert len(messages_of(store, 21)) == 1
            garbage = requests.post(
                url,
                data=b"\xff{not json",
                headers={"X-Telegram-Bot-Api-Secret-Token": hook_secret},
                timeout=WAIT,
            )
            assert garbage.status_code == 400
            assert "getUpdates" not in api.calls
        finally:
            gateway.terminate()
            gateway.wait(timeout=WAIT)
        # The core cannot be reached: 503, so Telegram keeps the update and sends it again.
        gateway = start_gateway({**core.env, **hook}, api, secret=SECRET, extra=hook)
        try:
            wait_until(lambda: _answers(url))
            answer = requests.post(
                url,
                json=webhook_update(2, 21, 6, "Вы тут?"),
                headers={"X-Telegram-Bot-Api-Secret-Token": hook_secret},
                timeout=WAIT,
            )
            assert answer.status_code == 503
            assert len(messages_of(store, 21)) == 1
        finally:
            gateway.terminate()
            gateway.wait(timeout=WAIT)


def _answers(url: str) -> bool:
    try:
        requests.get(url, timeout=1)
    except requests.ConnectionError:
        return False
    return True


def test_a_telegram_answering_garbage_or_429_to_polling_delays_messages_but_loses_none(
    tmp_path, db_url, api, store
):
    api.fail_next("getUpdates", 502, b"<html>502 Bad Gateway</html>")
    api.fail_next("getUpdates", 200, {"ok": True, "result": "not a list"})
    api.fail_next("getUpdates", 200, {"ok": True, "result": [{"no": "update_id"}, 17]})
    api.fail_next(
        "getUpdates",
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests",
            "parameters": {"retry_after": 1},
        },
    )
    with running(tmp_path, db_url, env=telegram_env(api), agents=()):
        update = api.person_sends(31, "Есть кто?")
        wait_until(lambda: api.confirmed > update, timeout=30)
        assert [m.body for m in messages_of(store, 31)] == ["Есть кто?"]
