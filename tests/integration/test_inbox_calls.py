"""Calls and supervisors in the inbox over real sockets: a call's state pushed live to its agent
and to supervisors, supervisors told when routing puts an agent on not-ready, and who may
download an interaction's attachments (issues 5 and 8)."""

from __future__ import annotations

from typing import Any

import requests

from callyard.testing.freeswitch import Caller

from harness import PASSWORD, WAIT, AgentClient, Visitor, login, running
from mailkit import CaptureRelay, letter, mail_env, send, smtp_port
from voice_harness import voice_server


def add_supervisor(server: Any, login_name: str = "boss") -> None:
    server.cli("agent", "add", login_name, "--name", "Boss", "--role", "supervisor", password=PASSWORD)


def in_state(interaction_id: int, state: str) -> Any:
    return lambda i: i["id"] == interaction_id and i["call"]["state"] == state


def test_a_calls_state_is_pushed_live_to_its_agent_and_to_supervisors(tmp_path, db_url) -> None:  # noqa: ANN001
    with voice_server(tmp_path, db_url, agents=("anna",)) as voice:
        add_supervisor(voice.server)
        anna, boss = AgentClient(voice.server.url, "anna"), AgentClient(voice.server.url, "boss")
        assert anna.call("calls_live")["error"]["error_id"] == "not-a-supervisor"
        anna.available()
        channel = voice.sim.call(Caller(number="+15550100", digits=["1"]))
        ringing = anna.events.wait("call", lambda i: i["call"]["state"] == "ringing")
        target = {"interaction_id": ringing["id"]}
        talking = anna.events.wait("call", in_state(ringing["id"], "talking"))
        assert talking["call"]["caller_number"] == "+15550100"
        assert talking["call"]["answered_at"] and talking["call"]["agent_name"] == "Anna"
        assert talking["call"]["recording_url"] is None  # not before the call is over
        boss.events.wait("call", in_state(ringing["id"], "talking"))
        live = boss.ok("calls_live")["calls"]
        assert [(c["id"], c["call"]["state"]) for c in live] == [(ringing["id"], "talking")]

        anna.ok("call.hold", target)
        held = anna.events.wait("call", in_state(ringing["id"], "on_hold"))
        assert held["call"]["held_since"]
        boss.events.wait("call", in_state(ringing["id"], "on_hold"))
        anna.ok("call.resume", target)
        anna.events.wait("call", in_state(ringing["id"], "talking"))

        anna.ok("call.hangup", target)
        ended = anna.events.wait("call", in_state(ringing["id"], "ended"))
        assert ended["state"] == "wrap_up" and ended["call"]["outcome"] == "answered"
        voice.wait_record(channel.uuid, lambda r: r.recording is not None)
        assert ended["call"]["recording_url"] == f"/calls/{ringing['id']}/recording"
        audio = anna.http.get(voice.server.url + ended["call"]["recording_url"], timeout=WAIT)
        assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
        boss.events.wait("call", in_state(ringing["id"], "ended"))
        assert boss.ok("calls_live")["calls"] == []
        # The journal numbers call pushes like any other: a tab that was away catches up on them.
        caught = anna.ok("catch_up", {"since": talking["seq"]})
        states = [e["data"]["call"]["state"] for e in caught["events"] if e["name"] == "call"]
        assert states[0] == "on_hold" and states[-1] == "ended"
        anna.close()
        boss.close()


def test_supervisors_are_told_when_routing_puts_an_agent_on_not_ready(tmp_path, db_url) -> None:  # noqa: ANN001
    env = {"CALLYARD_ROUTING__OFFER_TIMEOUT": "1", "CALLYARD_ROUTING__MAX_NO_ANSWER": "1"}
    with running(tmp_path, db_url, env=env, agents=("anna",)) as server:
        add_supervisor(server)
        anna, boss = AgentClient(server.url, "anna"), AgentClient(server.url, "boss")
        anna.available()
        visitor = Visitor(server.url)
        assert visitor.send("hello?")["ok"]
        anna.events.wait("offer")  # and let it time out
        notice = boss.events.wait("notice", timeout=30)
        assert notice["kind"] == "not_ready" and notice["agent_login"] == "anna"
        assert notice["missed"] == 1 and "Anna" in notice["text"]
        presence = anna.events.wait("presence", lambda a: a["presence"] == "break")
        assert presence["presence_reason"] == "not-ready"
        assert "notice" not in anna.events.names()  # agents are not told about each other
        anna.close()
        boss.close()


def test_attachments_download_for_who_may_see_the_interaction_and_404_for_others(tmp_path, db_url) -> None:  # noqa: ANN001
    relay = CaptureRelay().start()
    try:
        with running(tmp_path, db_url, env=mail_env(relay), agents=("anna", "bob")) as server:
            server.add_agent("carl", skills="billing:5")  # not in the support queue
            add_supervisor(server)
            mail = letter(subject="Invoice")
            mail.add_attachment(
                b"%PDF-1.4 march", maintype="application", subtype="pdf", filename="march.pdf"
            )
            send(smtp_port(server), mail)
            anna = AgentClient(server.url, "anna")
            anna.available()
            offer = anna.events.wait("offer", timeout=30)
            anna.ok("accept", {"interaction_id": offer["id"]})
            messages = anna.ok("open", {"interaction_id": offer["id"]})["messages"]
            url = server.url + next(a["url"] for m in messages for a in m["attachments"])

            assert anna.http.get(url, timeout=WAIT).content == b"%PDF-1.4 march"
            for teammate in ("bob", "boss"):  # read-only: a teammate of the queue, a supervisor
                response = login(server.url, teammate).get(url, timeout=WAIT)
                assert response.status_code == 200, teammate
                assert response.content == b"%PDF-1.4 march"
            assert login(server.url, "carl").get(url, timeout=WAIT).status_code == 404
            missing = url.rsplit("/", 1)[0] + "/999999"
            assert login(server.url, "bob").get(missing, timeout=WAIT).status_code == 404
            anonymous = requests.get(url, timeout=WAIT, allow_redirects=False)
            assert anonymous.status_code in (302, 401)
            anna.close()
    finally:
        relay.stop()


def test_contact_card_plays_earlier_calls_only_for_who_may_hear_them(tmp_path, db_url) -> None:  # noqa: ANN001
    with voice_server(tmp_path, db_url, agents=("anna", "bob")) as voice:
        add_supervisor(voice.server)
        anna = AgentClient(voice.server.url, "anna")
        anna.available()
        channel = voice.sim.call(Caller(digits=["1"], talk_seconds=0.2))
        record = voice.wait_record(channel.uuid, lambda r: r.state == "ended" and r.recording is not None)
        contact_id = voice.interaction(record.interaction_id).contact_id
        url = f"/calls/{record.interaction_id}/recording"

        def played(who: AgentClient) -> list[Any]:
            return [h["recording_url"] for h in who.ok("contact", {"contact_id": contact_id})["history"]]

        assert played(anna) == [url]
        boss = AgentClient(voice.server.url, "boss")
        assert played(boss) == [url]
        bob = AgentClient(voice.server.url, "bob")
        assert played(bob) == [None]  # a teammate sees the call in the history, not its audio
        assert bob.http.get(voice.server.url + url, timeout=WAIT).status_code == 404
        for client in (anna, boss, bob):
            client.close()
