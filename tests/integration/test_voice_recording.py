"""Recording per queue: a queue's `record` overrides the global voice switch; the recording
starts when the call reaches such a queue (uuid_record) and is linked to the interaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from callyard.testing.freeswitch import Caller

from harness import AgentClient
from voice_harness import voice_server, wait_for

# Menu "rec": 1 = queue vip (its own record setting), 2 = queue support (the global switch).
RECORDING_MENU = """
[[queues]]
name = "vip"
skills = {{ support = 1 }}
record = {vip}

[channels.voice.menus.rec]
prompt = "ivr/ivr-please_choose.wav"
choices = {{ "1" = "queue:vip", "2" = "queue:support" }}
"""


@pytest.mark.parametrize(("everything", "vip"), [("false", "true"), ("true", "false")])
def test_a_queues_record_setting_overrides_the_global_switch(tmp_path, db_url, everything, vip) -> None:  # noqa: ANN001
    settings = {"CALLYARD_CHANNELS__VOICE__MENU": "rec", "CALLYARD_CHANNELS__VOICE__RECORD": everything}
    config = RECORDING_MENU.format(vip=vip)
    with voice_server(tmp_path, db_url, settings=settings, config=config) as voice:
        recorded: list[str] = []
        voice.sim.switch.on_api.append(
            lambda name, args: recorded.append(args) if name == "uuid_record" else None
        )
        anna = AgentClient(voice.server.url, "anna")
        anna.available()
        records = {}
        for key, queue in (("1", "vip"), ("2", "support")):
            channel = voice.sim.call(Caller(digits=[key], talk_seconds=0.2))
            records[queue] = voice.wait_record(channel.uuid, lambda r: r.state == "ended")
            assert records[queue].outcome == "answered"
            anna.ok("finish", {"interaction_id": records[queue].interaction_id})
        wants = {"vip": vip == "true", "support": everything == "true"}
        for queue, record in records.items():
            if wants[queue]:
                assert record.recording, queue
                wait_for(lambda r=record: Path(r.recording).is_file(), what=f"the {queue} recording written")
                assert f"{record.uuid} start {record.recording}" in recorded
                audio = anna.http.get(
                    f"{voice.server.url}/calls/{record.interaction_id}/recording", timeout=10
                )
                assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
            else:
                assert record.recording is None, queue
                assert not any(a.startswith(record.uuid) for a in recorded)
        anna.close()


# Queue vip records; queue payments must never be (card numbers are read out there); queue
# sales (unset) follows the global switch, which is off. Menu "rec": 1 = vip, 2 = sales.
PRIVATE_QUEUE = """
[[queues]]
name = "vip"
skills = { support = 1 }
record = true

[[queues]]
name = "payments"
skills = { payments = 1 }
record = false

[[queues.escalation]]
after = 1
overflow = "vip"

[channels.voice.menus.rec]
prompt = "ivr/ivr-please_choose.wav"
choices = { "1" = "queue:vip", "2" = "queue:payments" }
"""


def test_a_transfer_to_a_queue_that_does_not_record_stops_the_recording_and_back_resumes_it(
    tmp_path, db_url
) -> None:  # noqa: ANN001
    settings = {"CALLYARD_CHANNELS__VOICE__MENU": "rec", "CALLYARD_CHANNELS__VOICE__RECORD": "false"}
    skills = {"anna": "support:5", "bob": "payments:5"}
    with voice_server(
        tmp_path, db_url, agents=("anna", "bob"), skills=skills, settings=settings, config=PRIVATE_QUEUE
    ) as voice:
        commands: list[str] = []
        voice.sim.switch.on_api.append(
            lambda name, args: (
                commands.append(f"{name} {args}") if name in ("uuid_record", "uuid_setvar") else None
            )
        )
        anna, bob = AgentClient(voice.server.url, "anna"), AgentClient(voice.server.url, "bob")
        anna.available()
        bob.available()  # only payments' calls reach him
        channel = voice.sim.call(Caller(digits=["1"]))
        record = voice.wait_record(channel.uuid, lambda r: r.state == "talking" and r.recording is not None)
        path, target = record.recording, {"interaction_id": record.interaction_id}
        assert commands == [f"uuid_record {channel.uuid} start {path}"]
        assert channel.recordings == [path]

        anna.ok("call.transfer", {**target, "queue": "payments"})
        wait_for(lambda: channel.recordings == [], what="the recording stopped in payments")
        assert commands[-1] == f"uuid_record {channel.uuid} stop {path}"
        voice.wait_record(channel.uuid, lambda r: r.state == "talking" and r.agent_id == bob.id)
        assert channel.recordings == []  # talking in payments: not recorded

        bob.ok("call.transfer", {**target, "queue": "vip"})
        wait_for(lambda: channel.recordings == [path], what="the recording resumed in vip")
        assert commands[-2:] == [
            f"uuid_setvar {channel.uuid} RECORD_APPEND true",
            f"uuid_record {channel.uuid} start {path}",
        ]
        voice.wait_record(channel.uuid, lambda r: r.state == "talking" and r.agent_id == anna.id)
        voice.sim.switch.api(f"uuid_kill {channel.uuid}")
        done = voice.wait_record(channel.uuid, lambda r: r.state == "ended")
        assert done.recording == path  # one file: both recorded parts, appended
        wait_for(
            lambda: Path(path).stat().st_size == 44 + 2 * 3200,
            what="both parts (0.2 s each here) in the file",
        )
        anna.close()
        bob.close()


def test_an_overflow_into_a_queue_that_records_starts_the_recording(tmp_path, db_url) -> None:  # noqa: ANN001
    settings = {"CALLYARD_CHANNELS__VOICE__MENU": "rec", "CALLYARD_CHANNELS__VOICE__RECORD": "false"}
    with voice_server(tmp_path, db_url, settings=settings, config=PRIVATE_QUEUE) as voice:
        channel = voice.sim.call(Caller(digits=["2"]))  # payments: nobody there to answer
        record = voice.wait_record(channel.uuid, lambda r: r.state == "queued")
        assert record.recording is None
        moved = voice.wait_record(channel.uuid, lambda r: r.recording is not None)  # overflowed to vip
        assert voice.interaction(moved.interaction_id).queue.name == "vip"
        wait_for(lambda: channel.recordings == [moved.recording], what="the recording started in vip")
        anna = AgentClient(voice.server.url, "anna")
        anna.available()
        voice.wait_record(channel.uuid, lambda r: r.state == "talking")
        anna.close()
