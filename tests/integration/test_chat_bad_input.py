"""Bad input from chat visitors, over real sockets: each gets a clear error, nothing is half
stored, and the server goes on serving (a normal message works right after each one)."""

from __future__ import annotations

import secrets
import threading
from typing import Any

import requests
from itsdangerous import URLSafeSerializer

from harness import WAIT, AgentClient, Visitor, refusals, running

LIMIT = 8192  # channels.chat.max_message_bytes by default

# (what, payload of the `message` event, error_id the visitor gets back)
BAD_MESSAGES: list[tuple[str, Any, str]] = [
    ("empty text", {"text": "", "client_id": "m-1"}, "empty-message"),
    ("whitespace only", {"text": " \t\r\n ", "client_id": "m-2"}, "empty-message"),
    ("unicode spaces only", {"text": "\u00a0\u3000\u2003", "client_id": "m-3"}, "empty-message"),
    ("one byte over in ASCII", {"text": "a" * (LIMIT + 1), "client_id": "m-4"}, "message-too-large"),
    # 4097 characters, 8194 bytes: the limit counts bytes of UTF-8, not characters.
    ("two-byte characters over", {"text": "é" * (LIMIT // 2 + 1), "client_id": "m-5"}, "message-too-large"),
    ("three-byte characters over", {"text": "€" * (LIMIT // 3 + 1), "client_id": "m-6"}, "message-too-large"),
    ("four-byte characters over", {"text": "🙂" * (LIMIT // 4 + 1), "client_id": "m-7"}, "message-too-large"),
    ("far over", {"text": "x" * 100_000, "client_id": "m-8"}, "message-too-large"),
    ("text a number", {"text": 42, "client_id": "m-9"}, "invalid-message"),
    ("text null", {"text": None, "client_id": "m-10"}, "invalid-message"),
    ("text a list", {"text": ["hi"], "client_id": "m-11"}, "invalid-message"),
    ("text an object", {"text": {"body": "hi"}, "client_id": "m-12"}, "invalid-message"),
    ("text a boolean", {"text": True, "client_id": "m-13"}, "invalid-message"),
    ("no text", {"client_id": "m-14"}, "invalid-message"),
    ("no client_id", {"text": "hello"}, "invalid-message"),
    ("empty client_id", {"text": "hello", "client_id": ""}, "invalid-message"),
    ("client_id with a space", {"text": "hello", "client_id": "a b"}, "invalid-message"),
    ("client_id too long", {"text": "hello", "client_id": "x" * 65}, "invalid-message"),
    ("client_id not ASCII", {"text": "hello", "client_id": "ümlaut"}, "invalid-message"),
    ("client_id a path", {"text": "hello", "client_id": "../m-1"}, "invalid-message"),
    ("client_id a number", {"text": "hello", "client_id": 7}, "invalid-message"),
    ("client_id null", {"text": "hello", "client_id": None}, "invalid-message"),
    ("payload a string", "hello", "invalid-message"),
    ("payload a list", ["hello", "m-15"], "invalid-message"),
    ("payload a number", 42, "invalid-message"),
    ("no payload", None, "invalid-message"),
]


def send_raw(visitor: Visitor, payload: Any) -> dict[str, Any]:
    return visitor.sio.call("message", payload, namespace="/chat", timeout=WAIT)


def assert_refused(ack: dict[str, Any], error_id: str, what: str) -> None:
    assert ack["ok"] is False, f"{what}: accepted {ack}"
    assert ack["error"]["error_id"] == error_id, f"{what}: {ack['error']}"
    assert isinstance(ack["error"]["message"], str) and ack["error"]["message"], f"{what}: no message"


def assert_still_serving(server) -> None:  # noqa: ANN001
    assert server.proc.poll() is None, "the server process ended"
    assert requests.get(f"{server.url}/healthz", timeout=WAIT).json()["status"] == "ok"
    assert "Traceback" not in "".join(server.output), "".join(server.output)


def test_bad_messages_get_a_clear_error_and_leave_nothing_behind(server):  # noqa: ANN001
    anna = AgentClient(server.url, "anna")
    anna.available()
    chatty = Visitor(server.url)
    assert chatty.send("Hello", "hello-1")["ok"]
    offer = anna.events.wait("offer")
    anna.ok("accept", {"interaction_id": offer["id"]})

    strangers = {}
    good = ["Hello"]
    for what, payload, error_id in BAD_MESSAGES:
        # In a running conversation...
        assert_refused(send_raw(chatty, payload), error_id, what)
        # ...and as the very first message of a new visitor, which would open an interaction.
        stranger = Visitor(server.url)
        assert_refused(send_raw(stranger, payload), error_id, f"{what} (new visitor)")
        strangers[what] = stranger.token

        text = f"still here after: {what}"
        ack = chatty.send(text)
        assert ack["ok"] and ack["message"]["body"] == text, f"after {what}: {ack}"
        good.append(text)
        # The next message the agent sees is this one: the bad one never reached them.
        assert anna.events.wait("message")["body"] == text, f"after {what}"

    # At the limit exactly (4096 two-byte characters = 8192 bytes) is fine, and kept whole.
    at_limit = "é" * (LIMIT // 2)
    ack = chatty.send(at_limit)
    assert ack["ok"] and ack["message"]["body"] == at_limit
    assert anna.events.wait("message")["body"] == at_limit
    good.append(at_limit)

    # No bad message opened an interaction: a new visitor's chat is the next and only new offer.
    newcomer = Visitor(server.url)
    assert newcomer.send("I am new here")["ok"]
    assert anna.events.wait("offer")["preview"] == "I am new here"
    assert "offer" not in anna.events.names()
    inbox = anna.ok("inbox")
    assert [i["id"] for i in inbox["interactions"]] == [offer["id"]]
    assert len(inbox["offers"]) == 1

    # Stored is exactly what was acknowledged, for the agent and for the visitor.
    conversation = anna.ok("open", {"interaction_id": offer["id"]})
    assert [m["body"] for m in conversation["messages"]] == good
    assert [m["body"] for m in Visitor(server.url, token=chatty.token).history] == good
    for what, token in strangers.items():
        assert Visitor(server.url, token=token).history == [], f"{what}: something was stored"
    assert_still_serving(server)


def test_same_client_id_twice_is_stored_once(server):  # noqa: ANN001
    anna = AgentClient(server.url, "anna")
    anna.available()
    visitor = Visitor(server.url)

    first = visitor.send("Where is my order?", "order-1")
    again = visitor.send("Where is my order?", "order-1")  # the widget resending after a reconnect
    assert first["ok"] and first["duplicate"] is False
    assert again["ok"] and again["duplicate"] is True
    assert again["message"] == first["message"]

    # The same resend from two tabs at the same moment is still stored once.
    tabs = [Visitor(server.url, token=visitor.token) for _ in range(2)]
    acks: list[dict[str, Any]] = []
    start = threading.Barrier(len(tabs))

    def send(tab: Visitor) -> None:
        start.wait(timeout=WAIT)
        acks.append(tab.send("It was due Monday", "order-2"))

    threads = [threading.Thread(target=send, args=(tab,)) for tab in tabs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT)
    assert all(ack["ok"] for ack in acks) and len(acks) == 2, acks
    assert sorted(ack["duplicate"] for ack in acks) == [False, True]
    assert acks[0]["message"]["id"] == acks[1]["message"]["id"]

    # A client_id is the visitor's own: another visitor may use the same one.
    other = Visitor(server.url)
    theirs = other.send("Hello from someone else", "order-1")
    assert theirs["ok"] and theirs["duplicate"] is False
    assert theirs["message"]["id"] != first["message"]["id"]

    # And the conversation goes on normally.
    assert visitor.send("Thanks!", "order-3")["duplicate"] is False

    expected = ["Where is my order?", "It was due Monday", "Thanks!"]
    assert [m["body"] for m in Visitor(server.url, token=visitor.token).history] == expected
    conversations = []
    for _ in range(2):
        offer = anna.events.wait("offer")
        messages = anna.ok("open", {"interaction_id": offer["id"]})["messages"]
        conversations.append([m["body"] for m in messages])
    assert sorted(conversations) == sorted([expected, ["Hello from someone else"]])
    assert_still_serving(server)


def test_forged_and_garbage_visitor_tokens_are_refused_at_connect(server):  # noqa: ANN001
    visitor = Visitor(server.url)
    assert visitor.send("Hi, it's me")["ok"]
    token = visitor.token
    payload, signature = token.rsplit(".", 1)
    tampered = f"{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    someone = Visitor(server.url).token
    # The visitor id someone else holds, signed by whoever does not know the server's secret.
    _, their_id = URLSafeSerializer("x").loads_unsafe(someone)
    forged = URLSafeSerializer("not-the-server-secret", salt="callyard.chat.visitor").dumps(their_id)

    said = refusals(
        server.url,
        "/chat",
        {
            "tampered signature": {"auth": {"token": tampered}},
            "someone's id under this signature": {
                "auth": {"token": f"{someone.rsplit('.', 1)[0]}.{signature}"}
            },
            "signed with another secret": {"auth": {"token": forged}},
            "random garbage": {"auth": {"token": secrets.token_urlsafe(32)}},
            "dots and junk": {"auth": {"token": "a.b.c.!!"}},
            "very long": {"auth": {"token": token + "x" * 300}},
            "not a string": {"auth": {"token": 12345}},
        },
    )
    for what, reply in said.items():
        assert reply["data"]["error_id"] == "invalid-visitor-token", f"{what}: {reply}"
        assert reply["message"], what

    # The real token still continues the conversation, and a new visitor can start one.
    back = Visitor(server.url, token=token)
    assert [m["body"] for m in back.history] == ["Hi, it's me"]
    assert back.send("Still me")["ok"]
    fresh = Visitor(server.url)
    assert fresh.history == [] and fresh.send("Hello")["ok"]
    assert_still_serving(server)


def test_widget_on_a_site_not_allowed_is_refused(tmp_path, db_url):  # noqa: ANN001
    with running(
        tmp_path, db_url, env={"CALLYARD_SERVER__WIDGET_ORIGINS": "https://shop.example"}, agents=("anna",)
    ) as server:
        said = refusals(
            server.url,
            "/chat",
            {
                "another site": {"origin": "https://evil.example"},
                "a look-alike domain": {"origin": "https://shop.example.evil.example"},
                "the shop over plain http": {"origin": "http://shop.example"},
                "a sandboxed frame": {"origin": "null"},
                "another site with a valid token": {
                    "origin": "https://evil.example",
                    "auth": {"token": Visitor(server.url).token},
                },
            },
        )
        for what, reply in said.items():
            assert reply["data"]["error_id"] == "origin-not-allowed", f"{what}: {reply}"
            assert reply["message"], what

        anna = AgentClient(server.url, "anna")
        anna.available()
        # The shop itself, and this server's own demo page, may embed the widget.
        shop = Visitor(server.url, origin="https://shop.example")
        assert shop.send("Hi from the shop")["ok"]
        assert anna.events.wait("offer")["preview"] == "Hi from the shop"
        own = Visitor(server.url)
        assert own.send("Hi from the demo page")["ok"]
        assert anna.events.wait("offer")["preview"] == "Hi from the demo page"
        assert "offer" not in anna.events.names()
        assert_still_serving(server)
