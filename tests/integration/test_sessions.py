"""Ending sessions: logout hands work back, a new password ends old sessions, sockets hang up cleanly."""

from __future__ import annotations

import requests

from harness import (
    PASSWORD,
    WAIT,
    AgentClient,
    Visitor,
    attempt_login,
    csrf_token,
    login,
    refusals,
    running,
)


def test_logout_sets_the_agent_offline_and_hands_back_their_offer(server):  # noqa: ANN001
    anna = AgentClient(server.url, "anna")
    anna.available()
    visitor = Visitor(server.url)
    visitor.send("anyone there?")
    offer = anna.events.wait("offer")
    bob = AgentClient(server.url, "bob")
    bob.available()

    page = anna.http.get(f"{server.url}/inbox", timeout=WAIT)
    anna.http.post(f"{server.url}/logout", data={"csrf_token": csrf_token(page.text)}, timeout=WAIT)

    assert bob.events.wait("offer")["id"] == offer["id"]
    listing = server.cli("agent", "list").stdout
    assert next(line for line in listing.splitlines() if line.startswith("anna")).split()[3] == "offline"
    server.stop()


def test_a_new_password_ends_sessions_opened_with_the_old_one(server):  # noqa: ANN001
    http = login(server.url, "anna")
    assert http.get(f"{server.url}/inbox", timeout=WAIT, allow_redirects=False).status_code == 200

    server.cli("agent", "passwd", "anna", password="a brand new secret")

    assert http.get(f"{server.url}/inbox", timeout=WAIT, allow_redirects=False).status_code == 302
    _, old = attempt_login(server.url, "anna", PASSWORD)
    assert old.status_code == 401
    assert login(server.url, "anna", "a brand new secret").get(f"{server.url}/inbox", timeout=WAIT).ok
    server.stop()


def test_a_closed_websocket_is_hung_up_without_an_error(server):  # noqa: ANN001
    # gevent's server used to read the client's closing frame as a new HTTP request.
    for _ in range(3):
        Visitor(server.url).close()
    server.stop()
    problems = [line for line in server.output if "Invalid HTTP method" in line or " ERROR " in line]
    assert not problems, problems


def test_a_disabled_agent_is_shut_out_and_their_offer_moves_on(server):  # noqa: ANN001
    anna = AgentClient(server.url, "anna")
    anna.available()
    Visitor(server.url).send("hello?")
    offer = anna.events.wait("offer")
    bob = AgentClient(server.url, "bob")
    bob.available()

    server.cli("agent", "disable", "anna")

    assert bob.events.wait("offer")["id"] == offer["id"]
    # Her open socket can do nothing more, her cookie is dead, and she cannot log in again.
    assert anna.call("accept", {"interaction_id": offer["id"]})["error"]["error_id"] == "not-logged-in"
    assert anna.http.get(f"{server.url}/inbox", timeout=WAIT, allow_redirects=False).status_code == 302
    _, refused = attempt_login(server.url, "anna", PASSWORD)
    assert refused.status_code == 401

    server.cli("agent", "enable", "anna")
    assert login(server.url, "anna").get(f"{server.url}/inbox", timeout=WAIT).ok
    server.stop()


def test_a_visitor_token_does_not_open_the_agent_namespace(server):  # noqa: ANN001
    token = Visitor(server.url).token
    said = refusals(server.url, "/agent", {"visitor token as auth": {"auth": {"token": token}}})
    assert said["visitor token as auth"]["data"]["error_id"] == "not-logged-in"
    server.stop()


def test_secure_cookies_when_configured_for_https(tmp_path, db_url):  # noqa: ANN001
    with running(
        tmp_path, db_url, env={"CALLYARD_SERVER__SECURE_COOKIES": "true"}, agents=("anna",)
    ) as server:
        # The login form's session cookie (it carries the CSRF token) is already Secure.
        response = requests.get(f"{server.url}/login", timeout=WAIT)
        assert response.status_code == 200
        assert "secure" in [part.strip().lower() for part in response.headers["Set-Cookie"].split(";")]
