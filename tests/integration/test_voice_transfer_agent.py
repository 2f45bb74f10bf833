"""Blind transfer of a call to a named agent from the inbox (``call.transfer`` with
``{"interaction_id": N, "agent": "<login>"}``), against the FreeSWITCH simulator."""

from __future__ import annotations

from callyard.testing.freeswitch import Caller, Phone

from harness import AgentClient
from voice_harness import voice_server, wait_for


def test_transfer_to_an_agent_rings_their_phone_and_they_talk(tmp_path, db_url) -> None:  # noqa: ANN001
    with voice_server(tmp_path, db_url, agents=("anna", "bob")) as voice:
        anna, bob = AgentClient(voice.server.url, "anna"), AgentClient(voice.server.url, "bob")
        anna.available()
        channel = voice.sim.call(Caller(digits=["1"]))
        record = voice.wait_record(channel.uuid, lambda r: r.state == "talking")
        assert record.agent_id == anna.id
        bob.available()
        anna.ok("call.transfer", {"interaction_id": record.interaction_id, "agent": "bob"})
        moved = voice.wait_record(channel.uuid, lambda r: r.state == "talking" and r.agent_id == bob.id)
        assert channel.alive and moved.agent_uuid != record.agent_uuid
        assert len(voice.sim.phone("bob").calls) == 1
        wait_for(lambda: not voice.sim.switch.get(record.agent_uuid), what="anna's leg hung up")
        interaction = voice.interaction(moved.interaction_id)
        assert interaction.state == "active" and interaction.agent_id == bob.id
        voice.sim.switch.api(f"uuid_kill {channel.uuid}")
        done = voice.wait_record(channel.uuid, lambda r: r.state == "ended")
        assert done.outcome == "answered" and done.agent_id == bob.id
        anna.close()
        bob.close()


def test_an_unanswered_transfer_goes_back_to_the_queue(tmp_path, db_url) -> None:  # noqa: ANN001
    phones = (Phone("anna"), Phone("bob", answer_after=None))
    with voice_server(tmp_path, db_url, agents=("anna", "bob"), phones=phones) as voice:
        anna, bob = AgentClient(voice.server.url, "anna"), AgentClient(voice.server.url, "bob")
        anna.available()
        channel = voice.sim.call(Caller(digits=["1"]))
        record = voice.wait_record(channel.uuid, lambda r: r.state == "talking")
        bob.available()
        anna.ok("call.transfer", {"interaction_id": record.interaction_id, "agent": "bob"})
        wait_for(lambda: voice.sim.phone("bob").calls, what="bob's phone rang")
        # Bob never answers: the call goes back to its queue, and routing gives it to Anna again.
        again = voice.wait_record(
            channel.uuid,
            lambda r: r.state == "talking" and r.agent_id == anna.id and r.agent_uuid != record.agent_uuid,
            timeout=20,
        )
        assert channel.alive and again.outcome == ""
        assert len(voice.sim.phone("anna").calls) == 2
        anna.close()
        bob.close()


def test_transfer_to_an_agent_refuses_what_cannot_work(tmp_path, db_url) -> None:  # noqa: ANN001
    with voice_server(tmp_path, db_url, agents=("anna", "bob", "carl", "dave", "eve")) as voice:
        clients = {login: AgentClient(voice.server.url, login) for login in ("anna", "bob", "dave", "eve")}
        clients["eve"].ok("presence", {"presence": "break", "reason": "lunch"})
        clients["anna"].available()
        channel = voice.sim.call(Caller(digits=["1"]))
        record = voice.wait_record(channel.uuid, lambda r: r.state == "talking")
        clients["dave"].available()
        voice.sim.register("dave", False)  # dave's phone goes away: he is on break "phone offline"
        wait_for(lambda: voice.server and _presence(voice, "dave") == "break", what="dave on break")
        target = {"interaction_id": record.interaction_id}
        cases = {
            "nobody": "agent-not-found",
            "anna": "invalid-transfer",
            "carl": "agent-offline",
            "dave": "agent-no-phone",
            "eve": "agent-unavailable",
        }
        for login, error in cases.items():
            reply = clients["anna"].call("call.transfer", {**target, "agent": login})
            assert reply["ok"] is False and reply["error"]["error_id"] == error, (login, reply)
        for bad in (
            {**target, "agent": ""},
            {**target, "agent": 5},
            {**target, "agent": "bob", "queue": "sales"},
            target,
        ):
            assert clients["anna"].call("call.transfer", bad)["error"]["error_id"] == "invalid-input", bad
        # Bob does not have the call: he cannot transfer it.
        assert (
            clients["bob"].call("call.transfer", {**target, "agent": "dave"})["error"]["error_id"]
            == "not-your-interaction"
        )
        # Nothing moved: Anna still talks with the caller.
        still = voice.record(channel.uuid)
        assert still.state == "talking" and still.agent_id == record.agent_id and channel.alive
        for client in clients.values():
            client.close()


def _presence(voice, login: str) -> str:  # noqa: ANN001
    from callyard.models import Agent

    with voice.store.connection():
        return Agent.get(Agent.login == login).presence


def test_a_call_transferred_back_to_the_queue_can_reach_the_same_agent_again(tmp_path, db_url) -> None:  # noqa: ANN001
    with voice_server(tmp_path, db_url) as voice:
        anna = AgentClient(voice.server.url, "anna")
        anna.available()
        channel = voice.sim.call(Caller(digits=["1"]))
        record = voice.wait_record(channel.uuid, lambda r: r.state == "talking")
        anna.ok("call.transfer", {"interaction_id": record.interaction_id, "queue": "support"})
        # Anna let go of it: routing knows she is free at once (not at its next full resync).
        again = voice.wait_record(
            channel.uuid, lambda r: r.state == "talking" and r.agent_uuid != record.agent_uuid, timeout=20
        )
        assert again.agent_id == anna.id and channel.alive
        anna.close()
