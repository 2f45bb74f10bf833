"""In a real browser: the API's documentation page renders every operation from the local
Swagger UI, and what the CRM lookup answered shows on the contact card in the inbox."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from api_client import Api, create_token
from harness import Server, running
from receivers import receiving
from test_roundtrip import agent_goes_available

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


@pytest.fixture
def server(tmp_path, db_url) -> Iterator[Server]:  # noqa: ANN001
    """A running Callyard whose CRM lookup hook asks a local CRM."""
    with (
        receiving(answer={"customer_no": "C-1042", "tier": "gold"}) as crm,
        running(tmp_path, db_url, env={"CALLYARD_CRM__URL": crm.url}, agents=("anna",)) as srv,
    ):
        yield srv


def test_the_docs_page_shows_every_operation(server, pages) -> None:  # noqa: ANN001
    page = pages("integrator")
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto("/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Callyard API")
    operations = page.locator(".swagger-ui .opblock")
    doc = Api(server.url, None).http.get(f"{server.url}/api/v1/openapi.json", timeout=10).json()
    count = sum(len(item) for item in doc["paths"].values())
    expect(operations).to_have_count(count)
    expect(
        page.locator(".swagger-ui .opblock-summary-path").filter(
            has_text="/interactions/{interaction_id}/assign"
        )
    ).to_have_count(1)
    # Everything came from Callyard itself: no CDN.
    assert requested and all(url.startswith(server.url) for url in requested), requested


def test_the_crm_answer_shows_on_the_contact_card(server, pages) -> None:  # noqa: ANN001
    api = Api(server.url, create_token(server, "integrator"))
    created = api.ok(
        "POST",
        "/interactions",
        {
            "source": "sms",
            "thread": "c-1",
            "contact": {"kind": "phone", "value": "+4917000"},
            "body": "Hello",
        },
        status=201,
    )
    contact_id = created["interaction"]["contact"]["id"]
    # Wait until the lookup is stored, so the card is there when the agent opens the conversation.
    for _ in range(200):
        if api.ok("GET", f"/contacts/{contact_id}")["crm"] is not None:
            break
        time.sleep(0.05)
    assert api.ok("GET", f"/contacts/{contact_id}")["crm"]["data"]["tier"] == "gold"

    agent = pages("agent")
    agent_goes_available(agent)
    offer = agent.locator("#offers li.offer")
    expect(offer).to_have_count(1)
    offer.locator("button.accept").click()
    card = agent.locator("#conversation .conv-crm")
    expect(card.locator("dt")).to_have_text(["customer_no", "tier"])
    expect(card.locator("dd")).to_have_text(["C-1042", "gold"])
