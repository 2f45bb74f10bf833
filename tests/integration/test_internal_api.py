"""The internal API that gateway processes use, against a real `callyard run` over real HTTP,
on SQLite and PostgreSQL: authentication, ingest (JSON and multipart with attachments),
dedupe, claims with leases, confirmations and failures, through the real gateway client."""

from __future__ import annotations

import asyncio
import json

import pytest
import requests

from callyard.gateway_client import CoreClient, CoreRejected, CoreUnavailable, FilePart

from harness import WAIT, AgentClient, login, running

SECRET = "s3cret-for-the-internal-api-test"


@pytest.fixture
def core(tmp_path, db_url):  # noqa: ANN001, ANN201
    env = {"CALLYARD_GATEWAY__SECRET": SECRET, "CALLYARD_GATEWAY__LEASE_SECONDS": "2"}
    with running(tmp_path, db_url, env=env, agents=("anna", "bob")) as srv:
        yield srv


def message(n: int, **extra):  # noqa: ANN003, ANN201
    return {
        "channel": "email",
        "identity": {"kind": "email", "value": "olga@example.ru"},
        "contact_name": "Ольга",
        "body": f"Здравствуйте, сообщение {n}",
        "queue": "support",
        "thread_key": f"<t{n}@example.ru>",
        "external_id": f"<m{n}@example.ru>",
        "subject": f"Вопрос {n}",
        **extra,
    }


def test_every_call_needs_the_secret(core):
    url = f"{core.url}/internal/v1/ingest"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": SECRET}):
        answer = requests.post(url, json=message(1), headers=headers, timeout=WAIT)
        assert answer.status_code == 401, headers
        assert answer.json()["error"]["error_id"] == "unauthorized"
    claim = requests.post(f"{core.url}/internal/v1/outbox/claim", json={}, timeout=WAIT)
    assert claim.status_code == 401

    async def wrong_secret() -> None:
        client = CoreClient(core.url, "not-the-secret-at-all", worker="t")
        try:
            with pytest.raises(CoreUnavailable):
                await client.ping()
        finally:
            await client.aclose()

    asyncio.run(wrong_secret())


def test_ingest_bodies_other_than_the_gateway_clients(core):
    """multipart/form-data still works; an application/x-callyard-message body whose sizes do
    not match its bytes is refused, and nothing of it is stored."""
    url, auth = f"{core.url}/internal/v1/ingest", {"Authorization": f"Bearer {SECRET}"}
    described = {**message(7), "attachments": [{"filename": "a.txt", "content_type": "text/plain"}]}
    form = requests.post(
        url,
        headers=auth,
        data={"message": json.dumps(described)},
        files={"attachment": ("a.txt", b"from a form")},
        timeout=WAIT,
    )
    assert form.status_code == 200 and form.json()["new_interaction"], form.text
    for sizes, tail in (([5], b"1234"), ([3], b"1234"), ([None], b"123"), ([], b"1")):
        about = [{"filename": "b.txt", "size": n} for n in sizes]
        head = json.dumps({**message(8), "attachments": about}).encode()
        answer = requests.post(
            url,
            headers={**auth, "Content-Type": "application/x-callyard-message"},
            data=b"%d\n" % len(head) + head + tail,
            timeout=WAIT,
        )
        assert answer.status_code == 400, (sizes, tail, answer.text)
    good = json.dumps({**message(8), "attachments": [{"filename": "b.txt", "size": 4}]}).encode()
    answer = requests.post(
        url,
        headers={**auth, "Content-Type": "application/x-callyard-message"},
        data=b"%d\n" % len(good) + good + b"1234",
        timeout=WAIT,
    )
    assert answer.status_code == 200 and not answer.json()["duplicate"], answer.text  # first time stored


def test_a_batch_answers_each_message_and_one_refused_stores_the_others(core):
    """Group commit (/ingest/batch): one message refused, one failing at its INSERT (the same
    Message-ID twice in the batch) and the others stored, each answered on its own."""

    async def scenario() -> list[dict]:
        client = CoreClient(core.url, SECRET, worker="test-gw")
        try:
            return await client.ingest_many(
                [
                    (message(11), [FilePart("a.pdf", "application/pdf", b"%PDF a")]),
                    ({**message(12), "body": "   "}, []),  # refused: empty
                    ({**message(13), "queue": "no-such-queue"}, []),  # refused: unknown queue
                    (message(14), []),
                    ({**message(15), "external_id": "<m11@example.ru>"}, []),  # the first again
                    (message(16), [FilePart("b.txt", "text/plain", b"b")]),
                ]
            )
        finally:
            await client.aclose()

    results = asyncio.run(scenario())
    assert [r["ok"] for r in results] == [True, False, False, True, True, True]
    assert results[1]["status"] == 400 and results[1]["error"]["error_id"] == "empty-message"
    assert results[2]["status"] == 404 and results[2]["error"]["error_id"] == "queue-not-found"
    assert results[4]["duplicate"] and results[4]["message_id"] == results[0]["message_id"]
    assert not any(results[i]["duplicate"] for i in (0, 3, 5))
    assert len({results[i]["interaction_id"] for i in (0, 3, 5)}) == 3
    anna = AgentClient(core.url, "anna")
    anna.available()
    try:
        for i, body in ((0, "сообщение 11"), (3, "сообщение 14"), (5, "сообщение 16")):
            interaction_id = results[i]["interaction_id"]
            anna.events.wait("offer", lambda o, n=interaction_id: o["id"] == n)
            anna.ok("accept", {"interaction_id": interaction_id})
            opened = anna.ok("open", {"interaction_id": interaction_id})
            ins = [m for m in opened["messages"] if m["direction"] == "in"]
            assert [m["body"][-len(body) :] for m in ins] == [body]  # stored once, whole
        files = [a["filename"] for a in opened["messages"][0]["attachments"]]
        assert files == ["b.txt"]
    finally:
        anna.close()


def test_ingest_claim_and_confirm_through_the_gateway_client(core):
    anna = AgentClient(core.url, "anna")
    anna.available()

    async def scenario() -> None:
        client = CoreClient(core.url, SECRET, worker="test-gw")
        try:
            await client.ping()
            first = await client.ingest(
                message(1, acknowledge="Conversation #{number} received."),
                [
                    FilePart("счёт.pdf", "application/pdf", b"%PDF-1.4 test"),
                    FilePart("x.txt", "text/plain", b"x"),
                ],
            )
            assert first["ok"] and first["new_interaction"] and not first["duplicate"]
            again = await client.ingest(message(1))
            assert again["duplicate"] and again["message_id"] == first["message_id"]
            with pytest.raises(CoreRejected) as rejected:
                await client.ingest({**message(2), "body": "   "})
            assert rejected.value.status == 400 and rejected.value.error["error_id"] == "empty-message"
            with pytest.raises(CoreRejected):
                await client.ingest({**message(3), "identity": {"kind": "fax", "value": "1"}})
            # the acknowledgement waits in the outbox for the email gateway to claim it
            (job,) = await client.claim("email", 10)
            assert job["message"]["body"] == f"Conversation #{first['interaction_id']} received."
            assert job["interaction"]["subject"] == "Вопрос 1"
            assert [t["external_id"] for t in job["thread"]] == ["<m1@example.ru>"]
            assert await client.claim("email", 10) == []  # leased to us
            await client.delivered("email", job["id"], "<ack-1@callyard.test>")
            # a second message of the thread, found by References to our acknowledgement
            second = await client.ingest(message(4, thread_refs=["<ack-1@callyard.test>"]))
            assert second["interaction_id"] == first["interaction_id"]
            return first["interaction_id"]
        finally:
            await client.aclose()

    interaction_id = asyncio.run(scenario())
    offer = anna.events.wait("offer", lambda i: i["id"] == interaction_id)
    assert offer["channel"] == "email"
    anna.ok("accept", {"interaction_id": interaction_id})
    opened = anna.ok("open", {"interaction_id": interaction_id})
    bodies = [(m["direction"], m["body"]) for m in opened["messages"]]
    assert bodies[0] == ("in", "Здравствуйте, сообщение 1")
    assert bodies[-1] == ("in", "Здравствуйте, сообщение 4")
    files = opened["messages"][0]["attachments"]
    assert [a["filename"] for a in files] == ["счёт.pdf", "x.txt"]
    download = anna.http.get(core.url + files[0]["url"], timeout=WAIT)
    assert download.status_code == 200 and download.content == b"%PDF-1.4 test"
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert "attachment" in download.headers["Content-Disposition"]
    stranger = requests.get(core.url + files[0]["url"], timeout=WAIT, allow_redirects=False)
    assert stranger.status_code in (302, 401) and stranger.content != b"%PDF-1.4 test"
    # Bob works the same queue: he may read (and download from) the conversation, read-only.
    colleague = login(core.url, "bob").get(core.url + files[0]["url"], timeout=WAIT)
    assert colleague.status_code == 200 and colleague.content == b"%PDF-1.4 test"
    ack = opened["messages"][1]
    assert ack["direction"] == "out" and ack["delivery"]["state"] == "sent"

    # an agent's reply is claimed, fails, comes back after the backoff, and fails for good
    anna.ok("reply", {"interaction_id": interaction_id, "body": "Ответ"})

    async def fail_it() -> None:
        client = CoreClient(core.url, SECRET, worker="test-gw")
        try:
            jobs: list = []
            for _ in range(50):
                jobs = await client.claim("email", 10)
                if jobs:
                    break
                await asyncio.sleep(0.1)
            (job,) = jobs
            assert job["message"]["body"] == "Ответ" and job["message"]["agent_name"] == "Anna"
            answer = await client.failed("email", job["id"], "550 5.1.1 no such user", permanent=True)
            assert answer["state"] == "failed"
        finally:
            await client.aclose()

    asyncio.run(fail_it())
    failed = anna.events.wait("delivery_failed")
    assert failed["error"] == "550 5.1.1 no such user"
    anna.close()


def test_a_crashed_gateways_claim_comes_back_after_the_lease(core):
    async def scenario() -> None:
        dead = CoreClient(core.url, SECRET, worker="dies")
        alive = CoreClient(core.url, SECRET, worker="lives")
        try:
            await dead.ingest(message(1, acknowledge="#{number}"))
            (job,) = await dead.claim("email", 10)
            assert await alive.claim("email", 10) == []
            jobs: list = []
            for _ in range(60):  # lease_seconds is 2 here
                jobs = await alive.claim("email", 10)
                if jobs:
                    break
                await asyncio.sleep(0.1)
            assert [j["id"] for j in jobs] == [job["id"]]
        finally:
            await dead.aclose()
            await alive.aclose()

    asyncio.run(scenario())
