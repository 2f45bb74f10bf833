"""What a caller waiting in a queue can do with their phone's keys: the callback key asks to be
called back, keeping their place in line (over real TCP against the simulator)."""

from __future__ import annotations

from callyard.testing.freeswitch import Caller, Phone

from harness import AgentClient
from voice_harness import voice_server, wait_for


def test_the_callback_key_in_the_queue_calls_back_in_arrival_order(tmp_path, db_url) -> None:  # noqa: ANN001
    with voice_server(tmp_path, db_url, phones=(Phone("anna", talk_seconds=0.3),)) as voice:
        played: list[str] = []
        voice.sim.switch.on_app_start.append(lambda ch, app, data: played.append(f"{ch.uuid} {app}:{data}"))
        first = voice.sim.call(Caller(number="79031234567", digits=["1"], queue_key="*"))
        record = voice.wait_record(first.uuid, lambda r: r.state == "callback")
        assert record.outcome == "callback" and record.reason == "caller asked to be called back"
        wait_for(lambda: not first.alive, what="the caller hung up to be called back")
        assert f"{first.uuid} playback:callyard/callback.wav" in played
        # A caller who came later waits behind the callback.
        second = voice.sim.call(Caller(number="79037654321", digits=["1"]))
        voice.wait_record(second.uuid, lambda r: r.state == "queued")
        interaction = voice.interaction(record.interaction_id)
        assert interaction.state == "queued" and interaction.queued_at == record.queued_at
        anna = AgentClient(voice.server.url, "anna")
        anna.available()
        assert anna.events.wait("offer")["id"] == record.interaction_id
        done = wait_for(
            lambda: (r := voice.record_of(record.interaction_id)) and r.state == "ended" and r,
            what="the callback done",
            timeout=20,
        )
        assert done.outcome == "callback" and done.agent_id == anna.id
        assert voice.record(second.uuid).state == "queued"
        anna.close()


def test_waiting_callers_hear_the_estimated_wait_from_the_queues_recent_calls(tmp_path, db_url) -> None:  # noqa: ANN001
    settings = {
        "CALLYARD_CHANNELS__VOICE__ANNOUNCE_SECONDS": "1",
        # Without history a caller would hear 10 minutes; the short call below says 1.
        "CALLYARD_CHANNELS__VOICE__DEFAULT_HANDLE_SECONDS": "600",
    }
    with voice_server(tmp_path, db_url, settings=settings) as voice:
        heard: list[str] = []
        voice.sim.switch.on_api.append(
            lambda name, args: heard.append(args) if name == "uuid_broadcast" else None
        )
        anna = AgentClient(voice.server.url, "anna")
        anna.available()
        short = voice.sim.call(Caller(digits=["1"], talk_seconds=0.3))
        done = voice.wait_record(short.uuid, lambda r: r.state == "ended")
        anna.ok("finish", {"interaction_id": done.interaction_id})
        voice.wait_record(short.uuid, lambda r: r.wrap_up_ms > 0)
        # Anna takes a second call and keeps it; a third caller waits for her.
        busy = voice.sim.call(Caller(digits=["1"]))
        voice.wait_record(busy.uuid, lambda r: r.state == "talking")
        waiting = voice.sim.call(Caller(digits=["1"]))
        voice.wait_record(waiting.uuid, lambda r: r.state == "queued")
        said = wait_for(lambda: [a for a in heard if a.startswith(waiting.uuid)], what="an announcement")
        assert said[0].endswith("!digits/1.wav!callyard/wait.wav!digits/1.wav!time/minute.wav aleg"), said[0]
        voice.sim.switch.api(f"uuid_kill {busy.uuid}")
        anna.close()
