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
