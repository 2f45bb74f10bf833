"""Bad input to the REST API: every kind gets a clear JSON error with a stable code, and
nothing half-done is stored."""

from __future__ import annotations

import json

import pytest
import requests

from api_client import Api, create_token
from harness import WAIT, Visitor, running

GOOD = {
    "source": "sms",
    "thread": "t-1",
    "contact": {"kind": "phone", "value": "+15550100"},
    "body": "hi",
}


@pytest.fixture
def server(tmp_path, db_url):  # noqa: ANN001, ANN201
    env = {"CALLYARD_CHANNELS__API__MAX_MESSAGE_BYTES": "1000", "CALLYARD_API__MAX_BODY_BYTES": "4096"}
    with running(tmp_path, db_url, env=env, agents=()) as srv:
        yield srv


def raw(
    api: Api, method: str, path: str, data: bytes | str, content_type: str = "application/json"
) -> tuple[int, dict]:
    response = api.http.request(
        method, api.base + path, data=data, headers={"Content-Type": content_type}, timeout=WAIT
    )
    assert response.headers["Content-Type"].startswith("application/json"), response.text
    return response.status_code, response.json()["error"]


def test_bad_requests_get_clear_json_errors(server):  # noqa: ANN001
    api = Api(server.url, create_token(server, "admin"))
    cases: list[tuple[str, tuple[int, dict], int, str]] = [
        ("not JSON", raw(api, "POST", "/interactions", b"{nope"), 400, "invalid-json"),
        ("NaN", raw(api, "POST", "/interactions", b'{"body": NaN}'), 400, "invalid-json"),
        ("bad UTF-8", raw(api, "POST", "/interactions", b'{"body": "\xff"}'), 400, "invalid-json"),
        ("empty body", raw(api, "POST", "/interactions", b""), 400, "invalid-json"),
        ("deep nesting", raw(api, "POST", "/interactions", b"[" * 1500 + b"]" * 1500), 400, "invalid-json"),
        ("a list", raw(api, "POST", "/interactions", b"[1, 2]"), 400, "invalid-input"),
        (
            "a form",
            raw(api, "POST", "/interactions", "body=hi", "application/x-www-form-urlencoded"),
            415,
            "unsupported-media-type",
        ),
        (
            "text",
            raw(api, "POST", "/interactions", json.dumps(GOOD), "text/plain"),
            415,
            "unsupported-media-type",
        ),
        (
            "NUL",
            raw(api, "POST", "/interactions", json.dumps({**GOOD, "body": "a\u0000b"})),
            400,
            "invalid-text",
        ),
        ("surrogate", raw(api, "POST", "/interactions", b'{"body": "\\ud800"}'), 400, "invalid-text"),
        (
            "too large",
            raw(api, "POST", "/interactions", json.dumps({**GOOD, "body": "x" * 5000})),
            413,
            "body-too-large",
        ),
        (
            "message too large",
            raw(
                api,
                "POST",
                "/interactions",
                json.dumps({**GOOD, "body": "é" * 600}, ensure_ascii=False).encode(),
            ),
            400,
            "message-too-large",
        ),
        ("blank message", api.error("POST", "/interactions", {**GOOD, "body": "   "}), 400, "empty-message"),
        ("unknown field", api.error("POST", "/interactions", {**GOOD, "priority": 9}), 400, "unknown-field"),
        (
            "nested unknown",
            api.error("POST", "/interactions", {**GOOD, "contact": {**GOOD["contact"], "x": 1}}),
            400,
            "unknown-field",
        ),
        ("wrong type", api.error("POST", "/interactions", {**GOOD, "body": 5}), 400, "invalid-input"),
        (
            "number as text",
            api.error("POST", "/interactions/1/assign", {"agent_id": "1"}),
            400,
            "invalid-input",
        ),
        (
            "bool as number",
            api.error("POST", "/queues", {"name": "q", "priority": True}),
            400,
            "invalid-input",
        ),
        ("missing field", api.error("POST", "/interactions", {"source": "sms"}), 400, "invalid-input"),
        (
            "bad kind",
            api.error("POST", "/interactions", {**GOOD, "contact": {"kind": "fax", "value": "1"}}),
            400,
            "invalid-input",
        ),
        ("bad source", api.error("POST", "/interactions", {**GOOD, "source": "SMS!"}), 400, "invalid-input"),
        (
            "no such queue",
            api.error("POST", "/interactions", {**GOOD, "queue": "nope"}),
            404,
            "queue-not-found",
        ),
        ("bad query", api.error("GET", "/interactions", params={"limit": "many"}), 400, "invalid-input"),
        ("limit too big", api.error("GET", "/interactions", params={"limit": 5000}), 400, "invalid-input"),
        ("bad state", api.error("GET", "/interactions", params={"state": "gone"}), 400, "invalid-input"),
        ("unknown param", api.error("GET", "/interactions", params={"sort": "id"}), 400, "unknown-field"),
        ("param twice", api.error("GET", "/interactions?limit=1&limit=2"), 400, "invalid-input"),
        ("param on bare", api.error("GET", "/queues", params={"x": "1"}), 400, "unknown-field"),
        ("huge id", api.error("GET", "/interactions/99999999999999999999"), 404, "not-found"),
        ("word id", api.error("GET", "/interactions/abc"), 404, "not-found"),
        ("missing", api.error("GET", "/interactions/4242"), 404, "interaction-not-found"),
        (
            "no agent",
            api.error("PUT", "/agents/4242/presence", {"presence": "available"}),
            404,
            "agent-not-found",
        ),
        (
            "bad presence",
            api.error("PUT", "/agents/1/presence", {"presence": "asleep"}),
            400,
            "invalid-input",
        ),
        ("unknown path", api.error("GET", "/nothing-here"), 404, "not-found"),
        ("wrong method", api.error("DELETE", "/interactions"), 405, "method-not-allowed"),
        (
            "bad event",
            api.error("POST", "/webhooks", {"url": "http://x.test/h", "events": ["party"]}),
            400,
            "invalid-input",
        ),
        (
            "no events",
            api.error("POST", "/webhooks", {"url": "http://x.test/h", "events": []}),
            400,
            "invalid-input",
        ),
        (
            "ftp hook",
            api.error("POST", "/webhooks", {"url": "ftp://x.test/h", "events": ["message.created"]}),
            400,
            "invalid-input",
        ),
        ("no webhook", api.error("PATCH", "/webhooks/77", {"enabled": True}), 404, "webhook-not-found"),
    ]
    wrong = [
        (name, status, error)
        for name, (status, error), want_status, want_id in cases
        if (status, error["error_id"]) != (want_status, want_id) or not error["message"]
    ]
    assert not wrong, wrong
    # Field errors say which field, for people and programs.
    _, error = api.error(
        "POST", "/interactions", {**GOOD, "contact": {"kind": "phone", "value": "1", "x": 1}}
    )
    assert error["details"]["errors"][0]["field"] == "contact.x"
    assert "contact.x" in error["message"]

    # A chunked body, with no Content-Length to check first, is cut off at the limit too.
    def chunks():  # noqa: ANN202
        yield b'{"source": "sms", "thread": "t", "body": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    response = requests.post(
        api.base + "/interactions",
        data=chunks(),
        headers={**api.http.headers, "Content-Type": "application/json"},
        timeout=WAIT,
    )
    assert response.status_code == 413 and response.json()["error"]["error_id"] == "body-too-large"

    # Customers' messages go to API interactions only.
    visitor = Visitor(server.url)
    assert visitor.send("from the widget")["ok"]
    chat = api.ok("GET", "/interactions", params={"channel": "chat"})["items"][0]
    status, error = api.error("POST", f"/interactions/{chat['id']}/messages", {"body": "hi"})
    assert (status, error["error_id"]) == (409, "not-an-api-interaction")
    visitor.close()

    # Nothing of all that was stored: only the chat.
    assert [i["channel"] for i in api.ok("GET", "/interactions")["items"]] == ["chat"]
    assert api.ok("GET", "/webhooks")["items"] == []
