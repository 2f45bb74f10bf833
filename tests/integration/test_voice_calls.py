"""Whole phone calls over real TCP: a FreeSWITCH simulator calls a running Callyard, which
answers, runs the menu, queues, rings agents' phones, bridges and keeps the call record."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from callyard.models import RoutingDecision
from callyard.testing.freeswitch import Caller, Phone

from harness import AgentClient
from voice_harness import voice_server, wait_for


@pytest.fixture
def voice(tmp_path, db_url):  # noqa: ANN001, ANN201
    with voice_server(tmp_path, db_url, agents=("anna", "bob")) as v:
        yield v


def test_menu_choice_queue_agent_answers_talk_and_hang_up(voice) -> None:  # noqa: ANN001
    anna = AgentClient(voice.server.url, "anna")
    anna.available()
    channel = voice.sim.call(Caller(number="79161234567", digits=["1"], talk_seconds=0.4))
    record = voice.wait_record(channel.uuid, lambda r: r.state == "ended")
    assert record.outcome == "answered"
    assert record.caller_number == "79161234567"
    assert record.entered_at <= record.queued_at <= record.answered_at <= record.ended_at
    assert record.talk_ms >= 300 and record.wait_ms >= 0 and record.hold_ms == 0
    assert record.agent_id == anna.id
    interaction = voice.interaction(record.interaction_id)
    assert interaction.state == "wrap_up" and interaction.agent_id == anna.id
    # The agent's phone was rung with the caller's number, then bridged to the caller.
    assert len(voice.sim.phone("anna").calls) == 1
    assert record.recording
    # The switch writes the file as the recording stops, a moment after the hang-up.
    wait_for(lambda: Path(record.recording).is_file(), what="the recording written")
    assert (
        Path(record.recording).parent == voice.server.workdir / "var" / "recordings"
        or "recordings" in record.recording
    )
    anna.ok("finish", {"interaction_id": record.interaction_id})
    done = voice.wait_record(channel.uuid, lambda r: r.wrap_up_ms > 0)
    assert done.wrap_up_ms > 0
    anna.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_free_agent_s_phone_rings_before_the_caller_s_hold_music_starts(tmp_path, db_url) -> None:  # noqa: ANN001
    # The call is routed as it is queued, in its own greenlet, and the dial started at once:
    # not at the router loop's next turn (here held back by a long gather, as a busy loop would
    # be). The call's state is read as the switch starts the music; on SQLite nothing on that
    # path yields before the originate is sent (on PostgreSQL every query yields: no fixed order).
    settings = {"CALLYARD_ROUTING__GATHER_SECONDS": "1"}
    with voice_server(tmp_path, db_url, settings=settings) as voice:
        anna = AgentClient(voice.server.url, "anna")
        anna.available()
        at_music: list[str] = []

        def music_started(channel, app: str, data: str) -> None:  # noqa: ANN001
            # The simulator's thread: a connection of its own.
            if app == "playback" and data.startswith("local_stream://"):
                with contextlib.closing(sqlite3.connect(voice.store.db.database)) as db:
                    query = "SELECT state FROM call_record WHERE uuid = ?"
                    (state,) = db.execute(query, (channel.uuid,)).fetchone()
                at_music.append(state)

        voice.sim.switch.on_app_start.append(music_started)
        channel = voice.sim.call(Caller(digits=["1"], talk_seconds=0.3))
        record = voice.wait_record(channel.uuid, lambda r: r.state == "ended")
        assert record.outcome == "answered" and record.agent_id == anna.id
        assert at_music == ["ringing"]
        anna.close()


def test_no_answer_goes_to_the_next_agent(tmp_path, db_url) -> None:  # noqa: ANN001
    phones = (Phone("anna", answer_after=None), Phone("bob"))
    with voice_server(tmp_path, db_url, agents=("anna", "bob"), phones=phones) as voice:
        anna, bob = AgentClient(voice.server.url, "anna"), AgentClient(voice.server.url, "bob")
        anna.available()
        bob.available()
        channel = voice.sim.call(Caller(digits=["1"], talk_seconds=0.3))
        record = voice.wait_record(channel.uuid, lambda r: r.state == "ended", timeout=20)
        assert record.outcome == "answered"
        assert record.agent_id == bob.id
        assert voice.sim.phone("anna").calls and voice.sim.phone("bob").calls
        with voice.store.connection():
            reasons = [
                d.agent_id
                for d in RoutingDecision.select().where(RoutingDecision.interaction == record.interaction_id)
            ]
        assert reasons[:2] == [anna.id, bob.id] or set(reasons) >= {anna.id, bob.id}
        anna.close()
        bob.close()


def test_caller_who_hangs_up_in_the_queue_is_abandoned_with_a_reason(voice) -> None:  # noqa: ANN001
    channel = voice.sim.call(Caller(digits=["1"], hangup_on="playback:local_stream://moh"))
    record = voice.wait_record(channel.uuid, lambda r: r.state == "ended")
    assert record.outcome == "abandoned"
    assert "waiting in the queue" in record.reason
    assert voice.interaction(record.interaction_id).state == "abandoned"


def test_language_choice_becomes_a_routing_skill(tmp_path, db_url) -> None:  # noqa: ANN001
    skills = {"anna": "support:5", "bob": "support:5,lang_ru:5"}
    with voice_server(tmp_path, db_url, agents=("anna", "bob"), skills=skills) as voice:
        anna, bob = AgentClient(voice.server.url, "anna"), AgentClient(voice.server.url, "bob")
        anna.available()
        bob.available()
        channel = voice.sim.call(Caller(digits=["2", "2"], talk_seconds=0.2))
        record = voice.wait_record(channel.uuid, lambda r: r.state == "ended")
        assert record.agent_id == bob.id
        assert voice.interaction(record.interaction_id).skills == {"lang_ru": 1}
        assert not voice.sim.phone("anna").calls
        anna.close()
        bob.close()


def test_invalid_and_silent_menu_input_falls_back_to_the_default_queue(voice) -> None:  # noqa: ANN001
    anna = AgentClient(voice.server.url, "anna")
    anna.available()
    # "7" is no choice, then nothing: after the tries the fallback (queue:support) applies.
    channel = voice.sim.call(Caller(digits=["7", ""], talk_seconds=0.2))
    record = voice.wait_record(channel.uuid, lambda r: r.state == "ended")
    assert record.outcome == "answered" and record.agent_id == anna.id
    anna.close()


def test_caller_who_hangs_up_in_the_menu_is_abandoned(voice) -> None:  # noqa: ANN001
    channel = voice.sim.call(Caller(digits=[], hangup_on="play_and_get_digits"))
    record = voice.wait_record(channel.uuid, lambda r: r.state == "ended")
    assert record.outcome == "abandoned" and "in the menu" in record.reason
    wait_for(lambda: not voice.sim.channels(), what="no channel left")


def test_waiting_callers_hear_their_place_in_line(tmp_path, db_url) -> None:  # noqa: ANN001
    settings = {"CALLYARD_CHANNELS__VOICE__ANNOUNCE_SECONDS": "1"}
    with voice_server(tmp_path, db_url, settings=settings) as voice:
        heard: list[str] = []
        voice.sim.switch.on_api.append(
            lambda name, args: heard.append(args) if name == "uuid_broadcast" else None
        )
        first = voice.sim.call(Caller(digits=["1"]))
        voice.wait_record(first.uuid, lambda r: r.state == "queued")
        second = voice.sim.call(Caller(digits=["1"]))
        voice.wait_record(second.uuid, lambda r: r.state == "queued")
        wait_for(lambda: any(a.startswith(second.uuid) for a in heard), what="an announcement")
        mine = [a for a in heard if a.startswith(second.uuid)]
        assert mine[0].endswith("!digits/2.wav aleg")
        assert any(a.startswith(first.uuid) and a.endswith("!digits/1.wav aleg") for a in heard)


def test_agent_is_rung_at_their_dial_string(tmp_path, db_url) -> None:  # noqa: ANN001
    phones = (Phone("1001", talk_seconds=0.2),)
    with voice_server(tmp_path, db_url, phones=phones, dial={"anna": "user/1001"}) as voice:
        assert "anna: user/1001" in voice.server.cli("agent", "phone", "anna").stdout
        refused = voice.server.cli("agent", "phone", "anna", "{x=1}user/1", check=False)
        assert refused.returncode == 1 and "dial string" in refused.stderr
        anna = AgentClient(voice.server.url, "anna")
        anna.available()
        channel = voice.sim.call(Caller(digits=["1"]))
        record = voice.wait_record(channel.uuid, lambda r: r.state == "ended")
        assert record.outcome == "answered" and record.agent_id == anna.id
        assert len(voice.sim.phone("1001").calls) == 1
        anna.close()
