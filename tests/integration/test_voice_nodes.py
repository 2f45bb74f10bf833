"""Several FreeSWITCH nodes: each call's commands go to the node it is on (its Core-UUID is
stored on the call record), over real TCP against two simulators."""

from __future__ import annotations

from callyard.testing.freeswitch import Caller, FreeSwitchSim, Phone

from harness import AgentClient
from voice_harness import voice_server, wait_for


def test_a_calls_commands_go_to_the_node_it_is_on(tmp_path, db_url) -> None:  # noqa: ANN001
    second = FreeSwitchSim().start()
    try:
        second.add_phone(Phone("anna"))  # Anna's phone is registered on the second node only
        node = f'\n[[channels.voice.nodes]]\nhost = "127.0.0.1"\nport = {second.port}\npassword = "ClueCon"\n'
        with voice_server(tmp_path, db_url, phones=(Phone("someone-else"),), config=node) as voice:
            second.outbound = voice.sim.outbound
            wait_for(lambda: voice.sim.connections and second.connections, what="both nodes connected")
            anna = AgentClient(voice.server.url, "anna")
            anna.available()
            channel = second.call(Caller(digits=["1"]))
            record = voice.wait_record(channel.uuid, lambda r: r.state == "talking")
            assert record.node == second.switch.core_uuid != voice.sim.switch.core_uuid
            assert len(second.phone("anna").calls) == 1  # rung on the caller's node, and bridged there
            anna.ok("call.hold", {"interaction_id": record.interaction_id})
            wait_for(lambda: channel.held, what="the caller on hold on the second node")
            anna.ok("call.hangup", {"interaction_id": record.interaction_id})
            done = voice.wait_record(channel.uuid, lambda r: r.state == "ended")
            assert done.outcome == "answered" and not channel.alive
            # A call on the first node is that node's.
            first = voice.sim.call(Caller(digits=["1"], hangup_on="playback:local_stream://moh"))
            assert (
                voice.wait_record(first.uuid, lambda r: r.state == "ended").node == voice.sim.switch.core_uuid
            )
            anna.close()
    finally:
        second.stop()
