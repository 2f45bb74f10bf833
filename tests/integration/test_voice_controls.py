"""What agents and supervisors do to calls from the inbox (Socket.IO events), and the
voicemail and callback entry points, against the FreeSWITCH simulator."""

from __future__ import annotations

import requests

from callyard.testing.freeswitch import Caller, Phone

from harness import WAIT, AgentClient, login
from voice_harness import voice_server, wait_for


def test_hold_resume_and_hang_up_from_the_inbox(tmp_path, db_url) -> None:  # noqa: ANN001
    with voice_server(tmp_path, db_url, agents=("anna", "bob")) as voice:
        anna, bob = AgentClient(voice.server.url, "anna"), AgentClient(voice.server.url, "bob")
        anna.available()
        channel = voice.sim.call(Caller(digits=["1"]))
        record = voice.wait_record(channel.uuid, lambda r: r.state == "talking")
        target = {"interaction_id": record.interaction_id}
        assert bob.call("call.hold", target)["error"]["error_id"] == "not-your-interaction"
        anna.ok("call.hold", target)
        wait_for(lambda: channel.held, what="the caller on hold")
        voice.wait_record(channel.uuid, lambda r: r.held_since is not None)
        anna.ok("call.resume", target)
        wait_for(lambda: not channel.held, what="the caller back")
        anna.ok("call.hangup", target)
        done = voice.wait_record(channel.uuid, lambda r: r.state == "ended")
        assert done.outcome == "answered"
        assert done.reason == "agent hung up from the inbox"
        assert done.hold_ms > 0 and done.talk_ms >= 0
        assert anna.call("call.hangup", target)["error"]["error_id"] == "call-gone"
        anna.close()
        bob.close()


def test_blind_transfer_to_another_queue(tmp_path, db_url) -> None:  # noqa: ANN001
    skills = {"anna": "support:5", "bob": "sales:5"}
    with voice_server(tmp_path, db_url, agents=("anna", "bob"), skills=skills) as voice:
        anna, bob = AgentClient(voice.server.url, "anna"), AgentClient(voice.server.url, "bob")
        anna.available()
        bob.available()
        channel = voice.sim.call(Caller(digits=["1"]))
        record = voice.wait_record(channel.uuid, lambda r: r.state == "talking")
        assert record.agent_id == anna.id
        anna.ok("call.transfer", {"interaction_id": record.interaction_id, "queue": "sales"})
        moved = voice.wait_record(channel.uuid, lambda r: r.state == "talking" and r.agent_id == bob.id)
        assert channel.alive
        interaction = voice.interaction(moved.interaction_id)
        assert interaction.agent_id == bob.id and interaction.queue.name == "sales"
        voice.sim.switch.api(f"uuid_kill {channel.uuid}")
        assert voice.wait_record(channel.uuid, lambda r: r.state == "ended").agent_id == bob.id
        anna.close()
        bob.close()


def test_supervisor_listens_whispers_and_barges(tmp_path, db_url) -> None:  # noqa: ANN001
    with voice_server(tmp_path, db_url, agents=("anna", "sue")) as voice:
        voice.server.cli(
            "agent", "add", "boss", "--name", "Boss", "--role", "supervisor", password="correct horse battery"
        )
        voice.sim.add_phone(Phone("boss"))
        anna, boss = AgentClient(voice.server.url, "anna"), AgentClient(voice.server.url, "boss")
        anna.available()
        channel = voice.sim.call(Caller(digits=["1"]))
        record = voice.wait_record(channel.uuid, lambda r: r.state == "talking")
        target = {"interaction_id": record.interaction_id}
        assert anna.call("call.listen", target)["error"]["error_id"] == "not-a-supervisor"
        for mode, flag in (
            ("listen", None),
            ("whisper", "eavesdrop_whisper_bleg"),
            ("barge", "eavesdrop_whisper_aleg"),
        ):
            leg = boss.ok(f"call.{mode}", target)["leg"]
            spy = wait_for(lambda leg=leg: voice.sim.switch.get(leg), what=f"{mode} leg")
            wait_for(lambda spy=spy: spy.variables.get("eavesdrop_target") == channel.uuid, what=mode)
            if flag:
                assert spy.variables.get(flag) == "true"
            voice.sim.switch.api(f"uuid_kill {leg}")
        assert voice.record(channel.uuid).state == "talking"
        anna.close()
        boss.close()


def test_recording_is_linked_and_playable_by_who_may_see_it(tmp_path, db_url) -> None:  # noqa: ANN001
    with voice_server(tmp_path, db_url, agents=("anna", "bob")) as voice:
        anna = AgentClient(voice.server.url, "anna")
        anna.available()
        channel = voice.sim.call(Caller(digits=["1"], talk_seconds=0.2))
        record = voice.wait_record(channel.uuid, lambda r: r.state == "ended")
        url = f"{voice.server.url}/calls/{record.interaction_id}/recording"
        audio = anna.http.get(url, timeout=WAIT)
        assert audio.status_code == 200 and audio.headers["Content-Type"] == "audio/wav"
        assert audio.content[:4] == b"RIFF" and audio.content[8:12] == b"WAVE"
        assert login(voice.server.url, "bob").get(url, timeout=WAIT).status_code == 404
        assert requests.get(url, timeout=WAIT, allow_redirects=False).status_code in (302, 401)
        anna.close()


def test_voicemail_waits_in_the_inbox_with_its_audio(tmp_path, db_url) -> None:  # noqa: ANN001
    with voice_server(tmp_path, db_url) as voice:
        channel = voice.sim.call(Caller(digits=["8"], hangup_after=1.0))
        record = voice.wait_record(channel.uuid, lambda r: r.outcome == "voicemail")
        wait_for(lambda: not channel.alive, what="the caller hung up after the message")
        assert voice.interaction(record.interaction_id).state == "queued"
        anna = AgentClient(voice.server.url, "anna")
        anna.available()
        offer = anna.events.wait("offer")
        assert offer["id"] == record.interaction_id
        assert voice.sim.phone("anna").calls == []  # a voicemail is not a phone call
        anna.ok("accept", {"interaction_id": record.interaction_id})
        audio = anna.http.get(f"{voice.server.url}/calls/{record.interaction_id}/recording", timeout=WAIT)
        assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
        assert "voicemail" in voice.record(channel.uuid).recording
        anna.close()


def test_callback_keeps_the_place_calls_the_agent_then_the_customer(tmp_path, db_url) -> None:  # noqa: ANN001
    with voice_server(tmp_path, db_url, phones=(Phone("anna", talk_seconds=0.3),)) as voice:
        channel = voice.sim.call(Caller(number="79031234567", digits=["3"]))
        record = voice.wait_record(channel.uuid, lambda r: r.state == "callback")
        wait_for(lambda: not channel.alive, what="the caller hung up to be called back")
        assert voice.interaction(record.interaction_id).state == "queued"
        anna = AgentClient(voice.server.url, "anna")
        anna.available()
        done = wait_for(
            lambda: (r := voice.record_of(record.interaction_id)) and r.state == "ended" and r,
            what="the callback done",
        )
        assert done.outcome == "callback" and done.agent_id == anna.id
        assert done.uuid != channel.uuid  # the call record follows the new leg to the customer
        assert len(voice.sim.phone("anna").calls) == 1
        anna.close()
