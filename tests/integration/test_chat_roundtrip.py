"""The walking skeleton, end to end over real sockets: a visitor's chat reaches an agent and back."""

from __future__ import annotations

from harness import AgentClient, Visitor


def test_visitor_message_is_offered_accepted_and_answered_live(server):  # noqa: ANN001
    anna = AgentClient(server.url, "anna")
    anna.available()
    visitor = Visitor(server.url)

    ack = visitor.send("Hello, my spade broke")
    assert ack["ok"] and ack["message"]["body"] == "Hello, my spade broke"

    offer = anna.events.wait("offer")
    assert offer["channel"] == "chat" and offer["queue"] == "support"
    assert offer["preview"] == "Hello, my spade broke"
    accepted = anna.ok("accept", {"interaction_id": offer["id"]})
    assert accepted["interaction"]["state"] == "active"

    conversation = anna.ok("open", {"interaction_id": offer["id"]})
    assert [m["body"] for m in conversation["messages"]] == ["Hello, my spade broke"]
    assert conversation["routing"][0]["agent_id"] == anna.id

    anna.ok("reply", {"interaction_id": offer["id"], "body": "Sorry to hear! Which model?"})
    pushed = visitor.events.wait("message")
    assert pushed["body"] == "Sorry to hear! Which model?" and pushed["agent_name"] == "Anna"

    visitor.send("The big one")
    live = anna.events.wait("message", lambda m: m["direction"] == "in")
    assert live["body"] == "The big one" and live["interaction_id"] == offer["id"]

    # A reload: the same token brings the whole conversation back.
    visitor.close()
    again = Visitor(server.url, token=visitor.token)
    assert [m["body"] for m in again.history] == [
        "Hello, my spade broke",
        "Sorry to hear! Which model?",
        "The big one",
    ]
    again.close()
    anna.close()
