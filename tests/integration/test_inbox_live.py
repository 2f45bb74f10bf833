"""The inbox over a real socket: a dropped websocket catches up on exactly what it missed, a
stale tab acting on finished work is told, and the inbox's own events check who is asking."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from harness import AgentClient, Visitor

# -- catching up after a dropped websocket ------------------------------------------------------


def test_a_reconnecting_tab_gets_exactly_what_it_missed_in_order(server):  # noqa: ANN001
    anna = AgentClient(server.url, "anna")
    anna.available()
    seen = anna.events.wait("presence")["seq"]
    visitor = Visitor(server.url)
    assert visitor.send("first")["ok"]
    offer = anna.events.wait("offer")
    assert offer["seq"] == seen + 1
    anna.ok("accept", {"interaction_id": offer["id"]})
    live = anna.events.wait("interaction", lambda i: i["state"] == "active")
    last_seen = live["seq"]

    other_tab = AgentClient(server.url, "anna")  # stays connected: sees when the pushes are out
    anna.close()  # the websocket drops; the customer goes on writing
    for text in ("second", "third"):
        assert visitor.send(text)["ok"]
    # The visitor's ack comes once the message is stored; its pushes are journalled just after
    # (from the push queue, in order): the other tab has them once both are.
    other_tab.events.wait("message", lambda m: m["body"] == "third")
    other_tab.close()

    anna.reconnect(since=last_seen)
    caught = anna.events.wait("catch_up")
    assert "inbox" not in anna.events.names()  # no full reload: only what was missed
    seqs = [e["seq"] for e in caught["events"]]
    assert seqs == list(range(last_seen + 1, caught["seq"] + 1))  # in order, none twice, none lost
    bodies = [e["data"]["body"] for e in caught["events"] if e["name"] == "message"]
    assert bodies == ["second", "third"]

    # Live pushes go on from the next number.
    assert visitor.send("fourth")["ok"]
    message = anna.events.wait("message", lambda m: m["body"] == "fourth")
    assert message["seq"] == caught["seq"] + 1


def test_a_tab_too_far_behind_or_from_another_database_reloads_everything(server):  # noqa: ANN001
    anna = AgentClient(server.url, "anna")
    anna.available()
    # Pushes go out after the change's answer (from the push queue): the journal holds this one
    # once it has arrived.
    pushed = anna.events.wait("presence")
    anna.close()
    anna.reconnect(since=10_000)
    snapshot = anna.events.wait("inbox")
    assert snapshot["agent"]["presence"] == "available" and snapshot["seq"] >= pushed["seq"] >= 1
    assert "catch_up" not in anna.events.names()
    anna.close()
    anna.reconnect(since=None)
    assert anna.events.wait("inbox")["seq"] == snapshot["seq"]


# -- stale tabs ----------------------------------------------------------------------------------


def test_a_stale_tab_acting_on_finished_work_is_told_its_state(server):  # noqa: ANN001
    tab = AgentClient(server.url, "anna")
    tab.available()
    visitor = Visitor(server.url)
    assert visitor.send("help")["ok"]
    offer = tab.events.wait("offer")
    stale = AgentClient(server.url, "anna")  # a second tab, opened while the offer was there
    assert [o["id"] for o in stale.inbox["offers"]] == [offer["id"]]

    tab.ok("accept", {"interaction_id": offer["id"]})
    again = stale.call("accept", {"interaction_id": offer["id"]})
    assert again["ok"] is False and again["error"]["error_id"] == "offer-gone"
    tab.ok("close", {"interaction_id": offer["id"]})
    tab.ok("wrap_up", {"interaction_id": offer["id"], "disposition": "resolved", "notes": "sorted"})

    for event, extra in (
        ("reply", {"body": "hello?"}),
        ("close", {}),
        ("wrap_up", {"disposition": "resolved"}),
        ("transfer", {"to_queue": "support"}),
    ):
        ack = stale.call(event, {"interaction_id": offer["id"], **extra})
        assert ack["ok"] is False, event
        assert ack["error"]["details"]["state"] == "closed", ack


# -- the inbox's own events ----------------------------------------------------------------------


def test_inbox_events_refuse_bad_input_and_other_agents_work(server):  # noqa: ANN001
    anna = AgentClient(server.url, "anna")
    bob = AgentClient(server.url, "bob")
    anna.available()
    visitor = Visitor(server.url)
    assert visitor.send("mine")["ok"]
    offer = anna.events.wait("offer")
    anna.ok("accept", {"interaction_id": offer["id"]})
    mine = {"interaction_id": offer["id"]}

    def error(client, event, data):  # noqa: ANN001, ANN202
        ack = client.call(event, data)
        assert ack["ok"] is False, (event, data, ack)
        return ack["error"]["error_id"]

    assert error(bob, "label", {**mine, "label": "bob-was-here"}) == "not-your-interaction"
    assert error(bob, "stage", {**mine, "stage": "resolved"}) == "not-your-interaction"
    assert error(bob, "wrap_up", {**mine, "disposition": "resolved"}) == "not-your-interaction"
    assert error(bob, "transfer", {**mine, "to_agent": "bob"}) == "not-your-interaction"
    assert error(anna, "label", {**mine, "label": ["x"]}) == "invalid-input"
    assert error(anna, "stage", {**mine, "stage": "nope"}) == "invalid-stage"
    assert error(anna, "contact", {"contact_id": "1"}) == "invalid-input"
    assert error(anna, "search", ["not", "criteria"]) == "invalid-search"
    assert error(anna, "catch_up", {"since": -1}) == "invalid-input"
    assert error(anna, "presence", {"presence": "break", "reason": "nap"}) == "invalid-break-reason"
    assert anna.ok("presence", {"presence": "break", "reason": "not-ready"})["reason"] == "not-ready"
    # Bob shares Anna's queue: he may look (read only), not act.
    assert bob.ok("peek", mine)["messages"][0]["body"] == "mine"
    assert [r["id"] for r in bob.ok("search", {"text": "mine"})["results"]] == [offer["id"]]


def test_concurrent_pushes_are_numbered_without_gaps_or_repeats(server):  # noqa: ANN001
    anna = AgentClient(server.url, "anna")
    anna.available()
    start = anna.events.wait("presence")["seq"]
    visitor = Visitor(server.url)
    assert visitor.send("opening")["ok"]
    offer = anna.events.wait("offer")
    anna.ok("accept", {"interaction_id": offer["id"]})
    anna.events.wait("interaction", lambda i: i["state"] == "active")
    burst = [f"burst {n}" for n in range(20)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(ack["ok"] for ack in pool.map(visitor.send, burst))
    live = [anna.events.wait("message", lambda m, b=body: m["body"] == b) for body in burst]
    seqs = sorted(m["seq"] for m in live)
    assert len(set(seqs)) == len(seqs)
    # Everything the agent was sent since going available, numbered 1, 2, 3, ... with no holes.
    caught = anna.ok("catch_up", {"since": start})
    assert caught["complete"]
    numbers = [e["seq"] for e in caught["events"]]
    assert numbers == list(range(start + 1, caught["seq"] + 1))
    assert set(seqs) <= set(numbers)
    assert sorted(e["data"]["body"] for e in caught["events"] if e["name"] == "message") == sorted(burst)
