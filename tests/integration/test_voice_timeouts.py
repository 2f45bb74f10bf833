"""Routing's queue timeout and after-hours actions joined to voice: a caller waiting too long
(or calling a closed queue) leaves a voicemail, is promised a callback or is told goodbye, and
the voicemail or callback then waits in line for an agent, over real TCP against the simulator."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from callyard.models import Message, OutboxItem, RoutingDecision, StateChange
from callyard.testing.freeswitch import Caller, Phone

from harness import WAIT, AgentClient
from voice_harness import voice_server, wait_for

# The callers go straight to queue "late" (no menu), whose escalation times them out at once.
STRAIGHT_TO_LATE = {"CALLYARD_CHANNELS__VOICE__MENU": "", "CALLYARD_CHANNELS__VOICE__QUEUE": "late"}


def late_queue(action: str) -> str:
    return f"""
[[queues]]
name = "late"
skills = {{ support = 1 }}

[[queues.escalation]]
after = 1
timeout = "{action}"
"""


def closed_queue(action: str) -> str:
    # Closed today whatever the time: open on Mondays only, and today is a holiday.
    today = dt.datetime.now(dt.UTC).date()
    days = ", ".join(f'"{today + dt.timedelta(days=d)}"' for d in (-1, 0, 1))
    return f"""
[[queues]]
name = "late"
skills = {{ support = 1 }}
hours = {{ mon = ["09:00-17:00"] }}
holidays = [{days}]
after_hours = "{action}"
"""


def last_decision(voice, interaction_id: int) -> str:  # noqa: ANN001
    with voice.store.connection():
        row = (
            RoutingDecision.select()
            .where(RoutingDecision.interaction == interaction_id)
            .order_by(RoutingDecision.id.desc())
            .first()
        )
        return row.reason if row else ""


def timed_out_states(voice, interaction_id: int) -> list[str]:  # noqa: ANN001
    with voice.store.connection():
        rows = StateChange.select().where(StateChange.interaction == interaction_id).order_by(StateChange.id)
        return [r.to_state for r in rows if r.to_state in ("voicemail", "callback")]


@pytest.mark.parametrize(
    "config", [late_queue("voicemail"), closed_queue("voicemail")], ids=["timeout", "after-hours"]
)
def test_queue_action_voicemail_records_a_message_that_an_agent_gets(tmp_path, db_url, config) -> None:  # noqa: ANN001
    with voice_server(tmp_path, db_url, settings=STRAIGHT_TO_LATE, config=config) as voice:
        channel = voice.sim.call(Caller(digits=[], hangup_on="record"))
        record = voice.wait_record(channel.uuid, lambda r: r.outcome == "voicemail")
        wait_for(lambda: not channel.alive, what="the caller hung up after the message")
        assert record.state == "ended" and "voicemail" in record.recording
        # The switch writes the file as the recording stops, a moment after the hang-up.
        wait_for(lambda: Path(record.recording).is_file(), what="the voicemail file written")
        # Back in line for an agent, once: routing does not time the voicemail out again.
        wait_for(lambda: voice.interaction(record.interaction_id).state == "queued", what="back in line")
        assert timed_out_states(voice, record.interaction_id) == ["voicemail"]
        if "after_hours" in config:
            # While the queue is closed the message waits for it to open, like any waiting work.
            wait_for(
                lambda: "after-hours action ran" in last_decision(voice, record.interaction_id), what="wait"
            )
            return
        anna = AgentClient(voice.server.url, "anna")
        anna.available()
        offer = anna.events.wait("offer")
        assert offer["id"] == record.interaction_id
        assert voice.sim.phone("anna").calls == []  # a voicemail is not a phone call
        anna.ok("accept", {"interaction_id": record.interaction_id})
        audio = anna.http.get(f"{voice.server.url}/calls/{record.interaction_id}/recording", timeout=WAIT)
        assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
        assert timed_out_states(voice, record.interaction_id) == ["voicemail"]
        anna.close()


@pytest.mark.parametrize(
    "config", [late_queue("callback"), closed_queue("callback")], ids=["timeout", "after-hours"]
)
def test_queue_action_callback_hangs_up_and_calls_back_when_an_agent_is_free(
    tmp_path, db_url, config
) -> None:  # noqa: ANN001
    phones = (Phone("anna", talk_seconds=0.3),)
    with voice_server(tmp_path, db_url, phones=phones, settings=STRAIGHT_TO_LATE, config=config) as voice:
        channel = voice.sim.call(Caller(number="79031234567", digits=[]))
        record = voice.wait_record(channel.uuid, lambda r: r.state == "callback")
        wait_for(lambda: not channel.alive, what="the caller hung up to be called back")
        wait_for(lambda: voice.interaction(record.interaction_id).state == "queued", what="back in line")
        if "after_hours" in config:
            # The callback waits for the queue to open, like any waiting work.
            wait_for(
                lambda: "after-hours action ran" in last_decision(voice, record.interaction_id), what="wait"
            )
            assert timed_out_states(voice, record.interaction_id) == ["callback"]
            return
        anna = AgentClient(voice.server.url, "anna")
        anna.available()
        done = wait_for(
            lambda: (r := voice.record_of(record.interaction_id)) and r.state == "ended" and r,
            what="the callback done",
            timeout=20,
        )
        assert done.outcome == "callback" and done.agent_id == anna.id
        assert done.uuid != channel.uuid
        assert timed_out_states(voice, record.interaction_id) == ["callback"]
        anna.close()


def test_queue_action_close_says_goodbye_and_hangs_up(tmp_path, db_url) -> None:  # noqa: ANN001
    with voice_server(tmp_path, db_url, settings=STRAIGHT_TO_LATE, config=late_queue("close")) as voice:
        played: list[str] = []
        voice.sim.switch.on_app_start.append(lambda ch, app, data: played.append(f"{app}:{data}"))
        channel = voice.sim.call(Caller(digits=[]))
        record = voice.wait_record(channel.uuid, lambda r: r.state == "ended")
        assert "queue timed the call out" in record.reason
        wait_for(lambda: not channel.alive, what="the caller hung up")
        assert "playback:voicemail/vm-goodbye.wav" in played
        assert voice.interaction(record.interaction_id).state == "closed"
        # The queue's text message cannot reach a phone: it fails at once, not after retries.
        item = wait_for(
            lambda: _outbox_item(voice, record.interaction_id, "failed"), what="the message failed"
        )
        assert item.attempts == 1 and "phone" in item.last_error


def _outbox_item(voice, interaction_id: int, state: str):  # noqa: ANN001, ANN202
    with voice.store.connection():
        return (
            OutboxItem.select()
            .join(Message)
            .where(Message.interaction == interaction_id, OutboxItem.state == state)
            .first()
        )


def test_a_menu_voicemail_that_times_out_stays_in_line(tmp_path, db_url) -> None:  # noqa: ANN001
    settings = {"CALLYARD_CHANNELS__VOICE__QUEUE": "late"}
    with voice_server(tmp_path, db_url, settings=settings, config=late_queue("voicemail")) as voice:
        # "8" in the menu: voicemail; it waits in "late", whose timeout then reaches it.
        channel = voice.sim.call(Caller(digits=["8"], hangup_on="record"))
        record = voice.wait_record(channel.uuid, lambda r: r.outcome == "voicemail")
        wait_for(lambda: timed_out_states(voice, record.interaction_id), what="the queue's timeout")
        wait_for(lambda: voice.interaction(record.interaction_id).state == "queued", what="back in line")
        anna = AgentClient(voice.server.url, "anna")
        anna.available()
        assert anna.events.wait("offer")["id"] == record.interaction_id
        assert timed_out_states(voice, record.interaction_id) == ["voicemail"]
        assert len(list(Path(record.recording).parent.glob("voicemail-*.wav"))) == 1
        anna.close()
