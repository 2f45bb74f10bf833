"""Webhooks and the CRM hook in a running server, against real local HTTP endpoints: signed
deliveries, retries with backoff on 500s and on endpoints that hang, attempts logged, endpoints
that keep failing disabled (and the admin told), and the CRM's answer on the contact card."""

from __future__ import annotations

import time
from typing import Any

from callyard.services import signing

from api_client import Api, create_token
from harness import WAIT, AgentClient, running
from receivers import receiving


def customer_writes(api: Api, thread: str, **contact: Any) -> dict[str, Any]:
    body = {
        "source": "whatsapp",
        "thread": thread,
        "contact": {"kind": "phone", "value": "+4930123456", **contact},
        "body": "Hello",
    }
    return api.ok("POST", "/interactions", body, status=201)


def until(check: Any, timeout: float = WAIT) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_a_failing_endpoint_is_retried_and_every_attempt_logged(tmp_path, db_url):  # noqa: ANN001
    with running(tmp_path, db_url, agents=()) as server, receiving(statuses=[500, 503]) as hook:
        api = Api(server.url, create_token(server, "integrator"))
        # Subscribed from the command line this time.
        added = server.cli(
            "webhook", "add", hook.url, "--event", "interaction.created", "--event", "interaction.queued"
        )
        secret = added.stdout.strip()
        sub_id = int(added.stderr.split()[1])
        created = customer_writes(api, "chat-1")

        # 500, 503, then 200: the same delivery three times, the last one accepted.
        first, second, third, *rest = hook.wait_for(4)
        bodies = [r.json() for r in hook.received]
        created_deliveries = [b for b in bodies if b["event"] == "interaction.created"]
        assert [b["attempt"] for b in created_deliveries][-1] >= 1
        for received in hook.received:
            payload = received.json()
            assert signing.verify(
                secret,
                received.body,
                received.headers[signing.SIGNATURE_HEADER],
                received.headers[signing.TIMESTAMP_HEADER],
                time.time(),
            )
            assert received.headers[signing.EVENT_HEADER] == payload["event"]
            assert received.headers[signing.DELIVERY_HEADER] == payload["id"]
        assert {b["data"]["interaction_id"] for b in bodies} == {created["interaction"]["id"]}
        # The retried delivery keeps its id (receivers dedupe by it) and counts its attempts.
        retried = [r.json() for r in (first, second, third) if r.json()["id"] == first.json()["id"]]
        assert [r["attempt"] for r in retried] == list(range(1, len(retried) + 1))

        def delivered() -> list[dict[str, Any]]:
            items = api.ok("GET", f"/webhooks/{sub_id}/deliveries")["items"]
            return items if len(items) == 2 and all(d["state"] == "sent" for d in items) else []

        deliveries = until(delivered)
        assert deliveries, api.ok("GET", f"/webhooks/{sub_id}/deliveries")
        attempts = sorted((a for d in deliveries for a in d["attempts"]), key=lambda a: a["at"])
        statuses = [a["status_code"] for a in attempts]
        assert statuses.count(500) == 1 and statuses.count(503) == 1 and statuses.count(200) == 2
        failed = [a for a in attempts if a["status_code"] != 200]
        assert all(a["error"].startswith("HTTP 5") for a in failed)
        assert api.ok("GET", f"/webhooks/{sub_id}")["consecutive_failures"] == 0
        log = server.cli("webhook", "deliveries", str(sub_id)).stdout
        assert "status 500" in log and "status 503" in log and "sent" in log


def test_an_endpoint_that_hangs_delays_only_itself(tmp_path, db_url):  # noqa: ANN001
    env = {"CALLYARD_WEBHOOKS__TIMEOUT_SECONDS": "0.5", "CALLYARD_OUTBOX__MAX_ATTEMPTS": "2"}
    with (
        running(tmp_path, db_url, env=env, agents=("anna",)) as server,
        receiving(delay=30) as slow,
        receiving() as fast,
    ):
        api = Api(server.url, create_token(server, "integrator"))
        slow_sub = api.ok("POST", "/webhooks", {"url": slow.url, "events": ["interaction.created"]})
        api.ok(
            "POST",
            "/webhooks",
            {"url": fast.url, "events": ["interaction.created", "agent.presence_changed"]},
        )
        for n in range(4):
            customer_writes(api, f"thread-{n}")
        anna = AgentClient(server.url, "anna")
        anna.available()  # customers' and agents' work goes on while the slow endpoint hangs

        fast.wait_for(5)
        assert sorted(fast.events()) == ["agent.presence_changed"] + ["interaction.created"] * 4
        assert anna.events.wait("offer")

        def given_up() -> list[dict[str, Any]]:
            items = api.ok("GET", f"/webhooks/{slow_sub['id']}/deliveries")["items"]
            return items if len(items) == 4 and all(d["state"] == "failed" for d in items) else []

        deliveries = until(given_up, timeout=30)
        assert deliveries, api.ok("GET", f"/webhooks/{slow_sub['id']}/deliveries")
        for delivery in deliveries:
            assert [a["number"] for a in delivery["attempts"]] == [1, 2]
            assert all(
                a["status_code"] is None and "no answer within" in a["error"] for a in delivery["attempts"]
            )
        # At most webhooks.per_endpoint (2) requests were ever open at the slow endpoint at once;
        # the server never waited for all of them in a row.
        assert 1 <= len(slow.received) <= 8
        anna.close()


def test_an_endpoint_that_keeps_failing_is_disabled_and_the_admin_told(tmp_path, db_url):  # noqa: ANN001
    env = {"CALLYARD_WEBHOOKS__DISABLE_AFTER": "3", "CALLYARD_OUTBOX__MAX_ATTEMPTS": "10"}
    with (
        running(tmp_path, db_url, env=env, agents=()) as server,
        receiving(statuses=[500] * 100) as broken,
        receiving() as admin_hook,
    ):
        api = Api(server.url, create_token(server, "admin"))
        sub = api.ok("POST", "/webhooks", {"url": broken.url, "events": ["interaction.created"]})
        api.ok("POST", "/webhooks", {"url": admin_hook.url, "events": ["webhook.disabled"]})
        customer_writes(api, "t-1")
        customer_writes(api, "t-2")

        notice = admin_hook.wait_for(1)[0].json()
        assert notice["event"] == "webhook.disabled"
        assert (
            notice["data"]["subscription_id"] == sub["id"] and "3 failed attempts" in notice["data"]["reason"]
        )
        state = api.ok("GET", f"/webhooks/{sub['id']}")
        assert state["enabled"] is False and "HTTP 500" in state["disabled_reason"]
        deliveries = api.ok("GET", f"/webhooks/{sub['id']}/deliveries")["items"]
        assert {d["state"] for d in deliveries} == {"failed"}
        # Three in a row disabled it; one more may have been under way at that moment.
        assert 3 <= sum(len(d["attempts"]) for d in deliveries) <= 4
        assert until(lambda: any("disabled after 3 failed attempts" in line for line in server.output))
        assert "DISABLED" in server.cli("webhook", "list").stdout

        # Nothing more is sent to it; once fixed and enabled again, new events flow.
        seen = len(broken.received)
        customer_writes(api, "t-3")
        time.sleep(0.5)
        assert len(broken.received) == seen
        broken.statuses.clear()
        enabled = api.ok("PATCH", f"/webhooks/{sub['id']}", {"enabled": True})
        assert enabled["enabled"] is True and enabled["consecutive_failures"] == 0
        customer_writes(api, "t-4")
        assert broken.wait_for(seen + 1)[seen].json()["data"]["interaction"]["thread"] == "t-4"


def test_crm_lookup_fills_the_contact_card(tmp_path, db_url):  # noqa: ANN001
    with receiving(statuses=[500], answer={"name": "Ada Lovelace", "tier": "gold", "orders": [1, 2]}) as crm:
        env = {"CALLYARD_CRM__URL": crm.url, "CALLYARD_CRM__SECRET": "crm-secret"}
        with running(tmp_path, db_url, env=env, agents=()) as server:
            api = Api(server.url, create_token(server, "integrator"))
            created = customer_writes(api, "crm-1", name="Ada")
            contact_id = created["interaction"]["contact"]["id"]

            card = until(lambda: api.ok("GET", f"/contacts/{contact_id}")["crm"])
            assert card is not None, "the CRM answer never reached the contact card"
            assert card["data"] == {"name": "Ada Lovelace", "tier": "gold", "orders": "[1, 2]"}
            # The first try got a 500 and was retried; both asked about the same contact.
            first, second = crm.wait_for(2)
            asked = second.json()
            assert asked["contact"]["identities"] == [{"kind": "phone", "value": "+4930123456"}]
            assert asked["interaction"]["id"] == created["interaction"]["id"]
            assert second.headers[signing.SIGNATURE_HEADER] == signing.sign("crm-secret", second.body)


def test_api_reply_without_a_subscription_fails_visibly(tmp_path, db_url):  # noqa: ANN001
    env = {"CALLYARD_OUTBOX__MAX_ATTEMPTS": "2"}
    with running(tmp_path, db_url, env=env, agents=("anna",)) as server:
        api = Api(server.url, create_token(server, "admin"))
        anna = AgentClient(server.url, "anna")
        anna.available()
        interaction_id = customer_writes(api, "lost-1")["interaction"]["id"]
        anna.events.wait("offer")
        anna.ok("accept", {"interaction_id": interaction_id})
        anna.ok("reply", {"interaction_id": interaction_id, "body": "Hello?"})
        failed = anna.events.wait("delivery_failed")
        assert failed["interaction_id"] == interaction_id
        assert "no enabled webhook subscription for message.created" in failed["error"]
        out = api.ok("GET", f"/interactions/{interaction_id}/messages")["items"][-1]
        assert out["delivery"]["state"] == "failed"
        anna.close()
