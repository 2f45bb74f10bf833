"""Routing in a running server: offers that lapse or are handed back go to the next agent,
and every decision is stored with its candidates and reasons."""

from __future__ import annotations

from typing import Any

from harness import AgentClient, Visitor, running

# `callyard init` adds a demo agent; nobody logs in as them, so they are never eligible.
DEMO = {"Demo Agent": (False, "presence is offline")}


def candidates(entry: dict[str, Any]) -> dict[str, tuple[bool, str]]:
    """A routing entry's candidates, by name: (eligible, reason)."""
    return {c["name"]: (c["eligible"], c["reason"]) for c in entry["candidates"]}


def test_an_offer_nobody_answers_goes_to_the_next_agent(tmp_path, db_url):  # noqa: ANN001
    with running(
        tmp_path, db_url, env={"CALLYARD_ROUTING__OFFER_TIMEOUT": "1"}, agents=("anna", "bob")
    ) as server:
        anna = AgentClient(server.url, "anna")
        bob = AgentClient(server.url, "bob")
        anna.available()  # free for longer than Bob: longest-idle picks her first
        bob.available()
        visitor = Visitor(server.url)
        assert visitor.send("Anyone there?")["ok"]

        first = anna.events.wait("offer")
        # Anna does not answer. After the timeout the offer is taken back from her...
        withdrawn = anna.events.wait("offer_withdrawn")
        assert withdrawn["interaction_id"] == first["id"]
        assert "timed out" in withdrawn["reason"]
        # ...and offered to Bob, who takes it.
        second = bob.events.wait("offer")
        assert second["id"] == first["id"]
        late = anna.call("accept", {"interaction_id": first["id"]})
        assert late["ok"] is False and late["error"]["error_id"] == "offer-expired"
        assert bob.ok("accept", {"interaction_id": first["id"]})["interaction"]["agent_id"] == bob.id

        routing = bob.ok("open", {"interaction_id": first["id"]})["routing"]
        assert [entry["agent_id"] for entry in routing] == [anna.id, bob.id]
        assert candidates(routing[0]) == {**DEMO, "Anna": (True, "chosen"), "Bob": (True, "eligible")}
        # Anna is still eligible the second time; she let it lapse, so Bob came first.
        assert candidates(routing[1]) == {
            **DEMO,
            "Anna": (True, "eligible, tried before"),
            "Bob": (True, "chosen"),
        }
        assert "Bob" in routing[1]["reason"] and routing[1]["strategy"] == "longest-idle"
        assert [entry["step"] for entry in routing] == ["base", "base"]
        assert "offer" not in anna.events.names()


def test_an_agent_going_on_break_hands_back_their_offer(server):  # noqa: ANN001
    anna = AgentClient(server.url, "anna")
    bob = AgentClient(server.url, "bob")
    anna.available()
    bob.available()
    visitor = Visitor(server.url)
    assert visitor.send("My parcel is late")["ok"]

    offer = anna.events.wait("offer")
    assert anna.ok("presence", {"presence": "break", "reason": "lunch"}) == {
        "ok": True,
        "presence": "break",
        "reason": "lunch",
    }
    withdrawn = anna.events.wait("offer_withdrawn")
    assert withdrawn == {"interaction_id": offer["id"], "reason": "agent went break", "seq": withdrawn["seq"]}
    assert bob.events.wait("offer")["id"] == offer["id"]
    assert anna.call("accept", {"interaction_id": offer["id"]})["error"]["error_id"] == "offer-gone"
    bob.ok("accept", {"interaction_id": offer["id"]})

    # "Why did this go to Bob?" The router kept every decision with who was considered and why.
    routing = bob.ok("open", {"interaction_id": offer["id"]})["routing"]
    assert [entry["agent_id"] for entry in routing] == [anna.id, bob.id]
    assert candidates(routing[0]) == {**DEMO, "Anna": (True, "chosen"), "Bob": (True, "eligible")}
    assert candidates(routing[1]) == {**DEMO, "Anna": (False, "presence is break"), "Bob": (True, "chosen")}
    for entry in routing:
        assert entry["strategy"] == "longest-idle" and entry["reason"] and entry["created_at"]
    assert "Anna" in routing[0]["reason"] and "Bob" in routing[1]["reason"]

    # On break, Anna gets no new work either: the next chat goes to Bob too.
    other = Visitor(server.url)
    assert other.send("Hello?")["ok"]
    assert bob.events.wait("offer")["preview"] == "Hello?"
    assert "offer" not in anna.events.names()
