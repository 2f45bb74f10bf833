"""The REST API in a running server, over real HTTP: tokens and roles, the API channel's round
trip (integrator → queue → agent → reply by signed webhook), lists, filters and pagination,
supervisors' actions, and the OpenAPI document and its page."""

from __future__ import annotations

import time

import requests

from callyard.services import signing

from api_client import Api, create_token
from harness import WAIT, AgentClient, login, running
from receivers import receiving


def new_interaction(api: Api, thread: str, text: str = "Where is my parcel?", **extra: object) -> dict:
    body = {
        "source": "sms",
        "thread": thread,
        "contact": {"kind": "phone", "value": f"+49170{thread[-4:].zfill(4)}", "name": "Ada"},
        "body": text,
        **extra,
    }
    return api.ok("POST", "/interactions", body, status=201)


def test_api_channel_round_trip_with_signed_webhooks(tmp_path, db_url):  # noqa: ANN001
    with running(tmp_path, db_url, agents=("anna",)) as server, receiving() as hook:
        integrator = Api(server.url, create_token(server, "integrator", "sms gateway"))
        created = integrator.ok(
            "POST", "/webhooks", {"url": hook.url, "events": ["message.created", "interaction.assigned"]}
        )
        secret = created["secret"]
        assert secret.startswith("whsec_") and created["enabled"] is True
        assert "secret" not in integrator.ok("GET", f"/webhooks/{created['id']}")

        anna = AgentClient(server.url, "anna")
        anna.available()
        first = new_interaction(integrator, "thread-0001", external_id="sms-1")
        interaction = first["interaction"]
        assert first["duplicate"] is False
        # Stored and queued; Anna is available, so the router may have offered it to her already.
        assert interaction["channel"] == "api" and interaction["state"] in ("queued", "offered")
        assert (interaction["source"], interaction["thread"]) == ("sms", "thread-0001")
        assert interaction["contact"]["identities"] == [{"kind": "phone", "value": "+491700001"}]

        # Sending the same message again (a retry) stores nothing new.
        again = new_interaction(integrator, "thread-0001", external_id="sms-1")
        assert again["duplicate"] is True and again["message"]["id"] == first["message"]["id"]

        # It routes like any other interaction: Anna is offered it and takes it.
        offer = anna.events.wait("offer")
        assert offer["id"] == interaction["id"]
        anna.ok("accept", {"interaction_id": interaction["id"]})
        anna.ok("reply", {"interaction_id": interaction["id"], "body": "It ships today."})

        # The reply reaches the integrator as a signed message.created webhook.
        deadline = time.monotonic() + WAIT
        reply = None
        while reply is None and time.monotonic() < deadline:
            for r in list(hook.received):
                data = r.json()
                if data["event"] == "message.created" and data["data"]["message"]["direction"] == "out":
                    reply = r
            time.sleep(0.05)
        assert reply is not None, f"no reply webhook; got {hook.events()}"
        payload = reply.json()
        assert payload["data"]["message"]["body"] == "It ships today."
        assert payload["data"]["interaction"]["id"] == interaction["id"]
        assert (payload["data"]["interaction"]["source"], payload["data"]["interaction"]["thread"]) == (
            "sms",
            "thread-0001",
        )
        assert reply.headers[signing.TIMESTAMP_HEADER] == str(payload["timestamp"])
        assert signing.verify(
            secret,
            reply.body,
            reply.headers[signing.SIGNATURE_HEADER],
            reply.headers[signing.TIMESTAMP_HEADER],
            time.time(),
        )
        assert not signing.verify(
            "whsec_wrong",
            reply.body,
            reply.headers[signing.SIGNATURE_HEADER],
            str(payload["timestamp"]),
            time.time(),
        )
        # A replay an hour later is refused by the same check.
        assert not signing.verify(
            secret,
            reply.body,
            reply.headers[signing.SIGNATURE_HEADER],
            str(payload["timestamp"]),
            time.time() + 3600,
        )
        assert "interaction.assigned" in hook.events()
        # The customer's own message went out as message.created too (direction "in").
        ins = [r.json() for r in hook.received if r.json()["event"] == "message.created"]
        assert any(p["data"]["message"]["direction"] == "in" for p in ins)

        # The inbox shows the reply as delivered once the webhook got its 2xx.
        deadline = time.monotonic() + WAIT
        while True:
            messages = integrator.ok("GET", f"/interactions/{interaction['id']}/messages")["items"]
            out = [m for m in messages if m["direction"] == "out"]
            if out and out[0]["delivery"]["state"] == "sent" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert [m["body"] for m in messages] == ["Where is my parcel?", "It ships today."]
        assert out[0]["delivery"]["state"] == "sent"

        # The customer's next message joins the same interaction, and Anna sees it live.
        follow = integrator.ok(
            "POST", f"/interactions/{interaction['id']}/messages", {"body": "Thanks!"}, status=201
        )
        assert follow["interaction"]["id"] == interaction["id"]
        assert (
            anna.events.wait("message", lambda m: m["body"] == "Thanks!")["interaction_id"]
            == interaction["id"]
        )

        # Routing decisions are there, with reasons.
        routing = integrator.ok("GET", f"/interactions/{interaction['id']}/routing")["items"]
        assert routing[0]["agent_id"] == anna.id and routing[0]["strategy"] == "longest-idle"
        anna.close()


def test_tokens_roles_and_sessions(tmp_path, db_url):  # noqa: ANN001
    with running(tmp_path, db_url, agents=("anna",)) as server:
        server.add_agent("sue", extra=("--role", "supervisor"))
        integrator_token = create_token(server, "integrator")
        integrator = Api(server.url, integrator_token)
        supervisor = Api(server.url, create_token(server, "supervisor"))
        admin = Api(server.url, create_token(server, "admin"))
        assert integrator.ok("GET", "/me")["role"] == "integrator"

        # No token, a wrong scheme, an unknown token: 401 with a reason and a stable code.
        status, error = Api(server.url, None).error("GET", "/interactions")
        assert (status, error["error_id"]) == (401, "unauthorized")
        status, error = Api(server.url, None).error("GET", "/me", headers={"Authorization": "Basic eDp5"})
        assert (status, error["error_id"]) == (401, "unauthorized")
        status, error = Api(server.url, "cya_not-a-token").error("GET", "/me")
        assert (status, error["error_id"]) == (401, "invalid-token")

        # A logged-in agent's session cookie does not open the API (and no CSRF token is asked).
        session = login(server.url, "sue")
        response = session.get(f"{server.url}/api/v1/interactions", timeout=WAIT)
        assert response.status_code == 401
        response = session.post(f"{server.url}/api/v1/queues", json={"name": "x"}, timeout=WAIT)
        assert response.status_code == 401

        # Roles decide: integrators do not assign or create queues; supervisors do not feed channels.
        created = new_interaction(integrator, "thread-0002")
        interaction_id = created["interaction"]["id"]
        anna_id = next(a["id"] for a in admin.ok("GET", "/agents")["items"] if a["login"] == "anna")
        status, error = integrator.error(
            "POST", f"/interactions/{interaction_id}/assign", {"agent_id": anna_id}
        )
        assert (status, error["error_id"]) == (403, "forbidden")
        assert error["details"]["roles"] == ["supervisor", "admin"]
        status, _ = supervisor.error("POST", "/interactions", {"source": "sms"})
        assert status == 403
        assert integrator.error("POST", "/queues", {"name": "vip"})[0] == 403
        assert supervisor.error("GET", "/webhooks")[0] == 403
        assert admin.ok("POST", "/queues", {"name": "vip", "skills": {"vip": 3}}, status=201)["waiting"] == 0
        assert admin.error("POST", "/queues", {"name": "vip"})[1]["error_id"] == "queue-exists"

        # A revoked token stops working at once.
        listed = server.cli("token", "list").stdout
        assert integrator_token not in listed and "integrator" in listed
        token_id = next(line.split()[0] for line in listed.splitlines() if " integrator " in line)
        server.cli("token", "revoke", token_id)
        status, error = integrator.error("GET", "/me")
        assert (status, error["error_id"]) == (401, "invalid-token")
        assert "[revoked]" in server.cli("token", "list").stdout


def test_supervisor_assigns_replies_and_closes(tmp_path, db_url):  # noqa: ANN001
    with running(tmp_path, db_url, agents=("anna", "bob")) as server:
        integrator = Api(server.url, create_token(server, "integrator"))
        supervisor = Api(server.url, create_token(server, "supervisor"))
        bob = AgentClient(server.url, "bob")
        created = new_interaction(integrator, "thread-0003")
        interaction_id = created["interaction"]["id"]

        # Nobody is available: it waits in the queue until the supervisor hands it to Bob.
        assert supervisor.ok("GET", "/queues/support")["waiting"] == 1
        assigned = supervisor.ok("POST", f"/interactions/{interaction_id}/assign", {"agent_id": bob.id})
        assert assigned["state"] == "active" and assigned["agent_id"] == bob.id
        assert bob.events.wait("interaction", lambda i: i["id"] == interaction_id)["state"] == "active"
        routing = supervisor.ok("GET", f"/interactions/{interaction_id}/routing")["items"]
        assert routing[-1]["strategy"] == "manual" and "supervisor" in routing[-1]["reason"]

        # The supervisor answers as Bob; it is stored as Bob's reply and goes out through the channel.
        reply = supervisor.ok(
            "POST", f"/interactions/{interaction_id}/replies", {"body": "On it."}, status=201
        )
        assert reply["agent_name"] == "Bob" and reply["direction"] == "out"
        assert bob.events.wait("message", lambda m: m["body"] == "On it.")

        # Presence through the API.
        agent = supervisor.ok("PUT", f"/agents/{bob.id}/presence", {"presence": "break", "reason": "lunch"})
        assert (agent["presence"], agent["presence_reason"]) == ("break", "lunch")
        assert bob.events.wait("presence")["presence"] == "break"

        closed = supervisor.ok("POST", f"/interactions/{interaction_id}/close")
        assert closed["state"] == "closed" and closed["closed_at"]
        assert bob.events.wait("interaction", lambda i: i["state"] == "closed")
        status, error = supervisor.error("POST", f"/interactions/{interaction_id}/close")
        assert (status, error["error_id"]) == (409, "invalid-transition")
        status, error = supervisor.error("POST", f"/interactions/{interaction_id}/replies", {"body": "late"})
        assert (status, error["error_id"]) == (409, "not-active")
        bob.close()


def test_lists_filters_pagination_contacts_and_calls(tmp_path, db_url):  # noqa: ANN001
    with running(tmp_path, db_url, agents=()) as server:
        api = Api(server.url, create_token(server, "admin"))
        ids = [new_interaction(api, f"thread-{n:04d}")["interaction"]["id"] for n in range(5)]
        api.ok("POST", f"/interactions/{ids[0]}/close")

        page1 = api.ok("GET", "/interactions", params={"limit": 2})
        assert [i["id"] for i in page1["items"]] == ids[::-1][:2]
        page2 = api.ok("GET", "/interactions", params={"limit": 2, "cursor": page1["next_cursor"]})
        page3 = api.ok("GET", "/interactions", params={"limit": 2, "cursor": page2["next_cursor"]})
        assert [i["id"] for i in page2["items"] + page3["items"]] == ids[::-1][2:]
        assert page3["next_cursor"] is None
        closed = api.ok("GET", "/interactions", params={"state": "closed"})["items"]
        assert [i["id"] for i in closed] == [ids[0]]
        queued = api.ok(
            "GET", "/interactions", params={"state": "queued", "channel": "api", "queue": "support"}
        )
        assert sorted(i["id"] for i in queued["items"]) == ids[1:]
        assert api.ok("GET", "/interactions", params={"channel": "chat"})["items"] == []
        one = api.ok("GET", f"/interactions/{ids[2]}")
        contact_id = one["contact"]["id"]
        assert [
            i["id"] for i in api.ok("GET", "/interactions", params={"contact_id": contact_id})["items"]
        ] == [ids[2]]

        contact = api.ok(
            "POST",
            "/contacts",
            {"name": "Grace", "identities": [{"kind": "email", "value": "grace@example.org"}]},
            status=201,
        )
        assert contact["identities"] == [{"kind": "email", "value": "grace@example.org"}]
        assert contact["crm"] is None
        status, error = api.error(
            "POST", "/contacts", {"identities": [{"kind": "email", "value": "grace@example.org"}]}
        )
        assert (status, error["error_id"]) == (409, "identity-taken")
        found = api.ok("GET", "/contacts", params={"kind": "email", "value": "grace@example.org"})["items"]
        assert [c["id"] for c in found] == [contact["id"]]
        assert api.ok("GET", f"/contacts/{contact_id}")["identities"][0]["kind"] == "phone"
        assert len(api.ok("GET", "/contacts", params={"limit": 200})["items"]) == 6

        calls = api.ok("GET", "/calls")
        assert calls["available"] is True and calls["items"] == []  # no phone calls were made
        agents = api.ok("GET", "/agents")["items"]
        assert [a["login"] for a in agents] == ["demo"] and agents[0]["skills"] == {"support": 5}


def test_openapi_document_and_browsable_page(tmp_path, db_url):  # noqa: ANN001
    with running(tmp_path, db_url, agents=()) as server:
        doc = requests.get(f"{server.url}/api/v1/openapi.json", timeout=WAIT).json()
        assert doc["openapi"].startswith("3.1")
        assert doc["paths"]["/interactions"]["post"]["requestBody"]["content"]["application/json"]
        page = requests.get(f"{server.url}/api/v1/docs", timeout=WAIT)
        assert page.status_code == 200 and "swagger-ui" in page.text
        assert "//" not in page.text.split("<body>")[1].replace("http://", "").replace(server.url, "")
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
            response = requests.get(f"{server.url}/api/v1/docs/swagger/{asset}", timeout=WAIT)
            assert response.status_code == 200 and len(response.content) > 1000
        assert requests.get(f"{server.url}/api/v1/docs/swagger/..%2Fcore.py", timeout=WAIT).status_code == 404
