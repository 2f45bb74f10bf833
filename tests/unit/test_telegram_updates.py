"""Telegram updates become stored messages; failed sends are retried or given up on visibly."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import error as tg

import callyard.channels.telegram  # noqa: F401  (opts python-telegram-bot into timedelta)
from callyard.channels.telegram.outbound import MAX_TEXT, classify, split_text
from callyard.channels.telegram.updates import Inbound, Skipped, parse_update


def message(**fields):
    base = {
        "message_id": 7,
        "date": 0,
        "chat": {"id": 42, "type": "private"},
        "from": {"id": 42, "is_bot": False, "first_name": "Ivan", "last_name": "Petrov"},
    }
    base.update(fields)
    return {"update_id": 100, "message": base}


def test_text_message():
    parsed = parse_update(message(text="Где мой заказ?"))
    assert parsed == Inbound(
        update_id=100, external_id="42:7", chat_id=42, user_id=42, name="Ivan Petrov", text="Где мой заказ?"
    )


def test_start_command_is_recognised_with_or_without_bot_name():
    assert parse_update(message(text="/start")).command == "start"
    assert parse_update(message(text="/Start@CallyardBot ref42")).command == "start"
    assert parse_update(message(text="hello /start")).command is None


def test_photo_takes_the_largest_size_and_keeps_the_caption():
    sizes = [
        {"file_id": f"p{i}", "file_unique_id": f"u{i}", "width": w} for i, w in enumerate((90, 320, 1280))
    ]
    parsed = parse_update(message(photo=sizes, caption="broken box"))
    assert isinstance(parsed, Inbound)
    assert [a.file_id for a in parsed.attachments] == ["p2"]
    assert parsed.attachments[0].mime == "image/jpeg"
    assert parsed.text.splitlines()[0] == "broken box"
    assert "[photo: " in parsed.text


def test_document_and_voice():
    doc = parse_update(
        message(
            document={
                "file_id": "D",
                "file_name": "invoice.pdf",
                "mime_type": "application/pdf",
                "file_size": 10,
            }
        )
    )
    assert doc.attachments[0].name == "invoice.pdf" and doc.attachments[0].size == 10
    assert doc.text == "[document: invoice.pdf]"
    voice = parse_update(message(voice={"file_id": "V", "file_unique_id": "vu", "duration": 3}))
    assert voice.attachments[0].kind == "voice" and voice.attachments[0].name.endswith(".ogg")


def test_location_becomes_readable_text():
    parsed = parse_update(message(location={"latitude": 55.7558, "longitude": 37.6173}))
    assert "55.755800, 37.617300" in parsed.text


def test_own_shared_contact_gives_the_phone_but_a_forwarded_card_does_not():
    own = parse_update(
        message(contact={"phone_number": "7 (916) 123-45-67", "first_name": "Ivan", "user_id": 42})
    )
    assert own.phone == "+79161234567"
    other = parse_update(
        message(contact={"phone_number": "+79990001122", "first_name": "Olga", "user_id": 9})
    )
    assert other.phone is None
    assert "+79990001122" in other.text  # still shown to the agent


@pytest.mark.parametrize(
    "update,reason",
    [
        ({"update_id": 1, "edited_message": {}}, "not a new message"),
        (message(text="hi", chat={"id": -5, "type": "group"}), "not a private chat"),
        (message(text="hi", **{"from": {"id": 1, "is_bot": True}}), "sent by a bot"),
        (message(dice={"emoji": "🎲", "value": 3}), "does not store"),
        (message(text="hi", chat={"type": "private"}), "without chat"),
    ],
)
def test_skipped_updates_say_why(update, reason):
    parsed = parse_update(update)
    assert isinstance(parsed, Skipped) and reason in parsed.reason


def test_an_update_without_id_is_an_error():
    with pytest.raises(ValueError):
        parse_update({"message": {}})


@given(
    st.dictionaries(
        st.text(max_size=8), st.none() | st.integers() | st.text(max_size=8) | st.lists(st.integers())
    )
)
def test_junk_inside_a_message_never_crashes(junk):
    update = message(**junk)
    assert isinstance(parse_update(update), Inbound | Skipped)


def test_classify_failures():
    rate = classify(tg.RetryAfter(dt.timedelta(seconds=7)))
    assert not rate.permanent and rate.retry_after == 7
    assert classify(tg.Forbidden("Forbidden: bot was blocked by the user")).permanent
    assert classify(tg.BadRequest("Bad Request: chat not found")).permanent
    assert not classify(tg.TimedOut()).permanent
    assert not classify(tg.NetworkError("Bad Gateway")).permanent
    assert not classify(tg.InvalidToken()).permanent


@given(st.text(alphabet=st.sampled_from("ab \n"), max_size=3 * MAX_TEXT))
def test_split_text_keeps_every_part_under_the_limit(text):
    parts = split_text(text)
    assert all(len(p) <= MAX_TEXT for p in parts)
    assert "".join(parts).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
