"""The agents' Socket.IO namespace, ``/agent``, against sessions it must not trust, agents
reaching for work that is not theirs, and payloads it must not choke on."""

from __future__ import annotations

from typing import Any

import requests
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from harness import WAIT, AgentClient, Visitor, csrf_token, refusals

EVIL = "https://evil.example"


def session_headers(http: requests.Session) -> dict[str, str]:
    """What a browser sends along with its websocket: the session cookie and its User-Agent."""
    cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
    return {"Cookie": cookie, "User-Agent": http.headers["User-Agent"]}


def resigned(cookie_header: str, secret: str) -> str:
    """The same session cookie, signed with a secret that is not the server's."""
    forger = Flask("forger")
    forger.secret_key = secret
    serializer = SecureCookieSessionInterface().get_signing_serializer(forger)
    value = dict(part.split("=", 1) for part in cookie_header.split("; "))["session"]
    _, data = serializer.loads_unsafe(value)
    assert data and "_user_id" in data, "not a logged-in session cookie"
    return f"session={serializer.dumps(data)}"


def error_of(ack: dict[str, Any]) -> str:
    assert ack["ok"] is False, f"accepted: {ack}"
    assert ack["error"]["message"], ack
    return ack["error"]["error_id"]


def test_agent_socket_needs_a_live_session_from_this_site(server):  # noqa: ANN001
    anna = AgentClient(server.url, "anna")
    anna.sio.on("disconnect", lambda *_: anna.events.add("disconnect", None), namespace="/agent")
    bob = AgentClient(server.url, "bob")
    annas = session_headers(anna.http)
    bobs = session_headers(bob.http)
    token = csrf_token(anna.http.get(f"{server.url}/inbox", timeout=WAIT).text)

    # Without the CSRF token (another site's form posting to us), logout is refused.
    forged = anna.http.post(f"{server.url}/logout", timeout=WAIT, allow_redirects=False)
    assert forged.status_code == 400
    assert anna.ok("inbox")["agent"]["login"] == "anna"

    # Logout ends the agent's open sockets...
    response = anna.http.post(
        f"{server.url}/logout", data={"csrf_token": token}, timeout=WAIT, allow_redirects=False
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    anna.events.wait("logged_out")
    anna.events.wait("disconnect")
    # ...and the session: in the browser, and in any copy of the old cookie.
    assert anna.http.get(f"{server.url}/inbox", timeout=WAIT, allow_redirects=False).status_code == 302
    replayed = requests.get(f"{server.url}/inbox", headers=annas, timeout=WAIT, allow_redirects=False)
    assert replayed.status_code == 302 and "/login" in replayed.headers["Location"]

    # Bob's session is live: refused below only for what is wrong with each attempt.
    said = refusals(
        server.url,
        "/agent",
        {
            "no session cookie": {},
            "a bogus cookie": {"headers": {**bobs, "Cookie": "session=not.a.session"}},
            "a session signed with another secret": {
                "headers": {**bobs, "Cookie": resigned(bobs["Cookie"], "not-the-server-secret")},
            },
            "a session replayed from another browser": {"headers": {**bobs, "User-Agent": "Stolen/1.0"}},
            "the cookie of a session that logged out": {"headers": annas},
            "a page of another site": {"headers": bobs, "origin": EVIL},
            "this host on another port": {"headers": bobs, "origin": "http://127.0.0.1:1"},
        },
    )
    for what, reply in said.items():
        expected = (
            "bad-origin"
            if what in ("a page of another site", "this host on another port")
            else "not-logged-in"
        )
        assert reply["data"]["error_id"] == expected, f"{what}: {reply}"
        assert reply["message"], what

    # Bob was not logged out, and Anna can log in again.
    assert bob.ok("inbox")["agent"]["login"] == "bob"
    assert "logged_out" not in bob.events.names()
    assert AgentClient(server.url, "anna").ok("inbox")["agent"]["login"] == "anna"


def test_agents_cannot_touch_each_others_work(server):  # noqa: ANN001
    anna = AgentClient(server.url, "anna")
    bob = AgentClient(server.url, "bob")
    anna.available()
    visitor = Visitor(server.url)
    assert visitor.send("Hello")["ok"]
    offer = anna.events.wait("offer")
    mine = {"interaction_id": offer["id"]}

    def bob_is_kept_out() -> None:
        assert error_of(bob.call("open", mine)) == "not-your-interaction"
        assert error_of(bob.call("accept", mine)) == "offer-gone"
        assert error_of(bob.call("reject", mine)) == "offer-gone"
        assert (
            error_of(bob.call("reply", {**mine, "body": "Bob here, I'll take it"})) == "not-your-interaction"
        )
        assert error_of(bob.call("close", mine)) == "not-your-interaction"
        assert error_of(bob.call("finish", mine)) == "not-your-interaction"

    # Offered to Anna: Bob can neither see nor take it, and Anna cannot reply before accepting.
    bob_is_kept_out()
    assert error_of(anna.call("reply", {**mine, "body": "too early"})) == "not-active"

    assert anna.ok("accept", mine)["interaction"]["state"] == "active"
    assert error_of(anna.call("accept", mine)) == "offer-gone"
    assert error_of(anna.call("reject", mine)) == "offer-gone"
    bob_is_kept_out()
    anna.ok("reply", {**mine, "body": "Hi, Anna here"})

    assert anna.ok("close", mine)["interaction"]["state"] == "wrap_up"
    assert error_of(anna.call("reply", {**mine, "body": "one more thing"})) == "not-active"
    bob_is_kept_out()
    assert anna.ok("finish", mine)["interaction"]["state"] == "closed"
    assert error_of(anna.call("reply", {**mine, "body": "are you there?"})) == "not-active"
    assert error_of(anna.call("close", mine)) == "invalid-transition"

    nowhere = {"interaction_id": offer["id"] + 1000}
    assert error_of(anna.call("open", nowhere)) == "interaction-not-found"
    assert error_of(anna.call("reply", {**nowhere, "body": "hello?"})) == "interaction-not-found"
    assert error_of(anna.call("accept", nowhere)) == "offer-gone"

    # Of all those replies, only Anna's one while the chat was active reached the visitor.
    assert visitor.events.wait("message")["body"] == "Hi, Anna here"
    history = Visitor(server.url, token=visitor.token).history
    assert [m["body"] for m in history] == ["Hello", "Hi, Anna here"]
    assert "message" not in visitor.events.names()


BAD_TARGETS: list[tuple[str, Any]] = [
    ("id as a string", {"interaction_id": "1"}),
    ("negative id", {"interaction_id": -1}),
    ("zero id", {"interaction_id": 0}),
    ("fractional id", {"interaction_id": 1.5}),
    ("boolean id", {"interaction_id": True}),
    ("null id", {"interaction_id": None}),
    ("id out of any range", {"interaction_id": 2**64}),
    ("no id", {}),
    ("payload a number", 1),
    ("payload a string", "1"),
    ("payload a list", [1]),
    ("no payload", None),
]


def test_bad_payloads_get_invalid_input_errors(server):  # noqa: ANN001
    anna = AgentClient(server.url, "anna")
    anna.available()
    visitor = Visitor(server.url)
    assert visitor.send("Hello")["ok"]
    offer = anna.events.wait("offer")
    mine = {"interaction_id": offer["id"]}

    def raw(event: str, payload: Any) -> dict[str, Any]:
        return anna.sio.call(event, payload, namespace="/agent", timeout=WAIT)

    for event in ("open", "accept", "reject", "reply", "close", "finish"):
        for what, payload in BAD_TARGETS:
            if event == "reply" and isinstance(payload, dict):
                payload = {**payload, "body": "hello"}
            assert error_of(raw(event, payload)) == "invalid-input", f"{event} with {what}"
            assert anna.ok("inbox")["offers"][0]["id"] == offer["id"], f"after {event} with {what}"

    for what, payload, expected in [
        ("an unknown presence", {"presence": "sleeping"}, "invalid-presence"),
        ("presence in capitals", {"presence": "AVAILABLE"}, "invalid-presence"),
        ("presence a number", {"presence": 1}, "invalid-presence"),
        ("no presence", {}, "invalid-presence"),
        ("payload a string", "break", "invalid-presence"),
        ("no payload", None, "invalid-presence"),
    ]:
        assert error_of(raw("presence", payload)) == expected, what
        # Still available, and still holding the offer (going away would have withdrawn it).
        inbox = anna.ok("inbox")
        assert inbox["agent"]["presence"] == "available", what
        assert [o["id"] for o in inbox["offers"]] == [offer["id"]], what

    # The offer survived all of that and is accepted normally.
    anna.ok("accept", mine)
    for what, body, expected in [
        ("no body", None, "invalid-message"),
        ("body a number", 5, "invalid-message"),
        ("empty body", "", "empty-message"),
        ("blank body", " \n ", "empty-message"),
        ("body over 64 kB", "x" * (64 * 1024 + 1), "message-too-large"),
    ]:
        payload = {**mine} if body is None else {**mine, "body": body}
        assert error_of(raw("reply", payload)) == expected, what
    anna.ok("reply", {**mine, "body": "Hello! How can I help?"})
    assert visitor.events.wait("message")["body"] == "Hello! How can I help?"
    assert "message" not in visitor.events.names()
    assert [m["body"] for m in anna.ok("open", mine)["messages"]] == ["Hello", "Hello! How can I help?"]
    assert "Traceback" not in "".join(server.output), "".join(server.output)
