"""A supervisor's inbox is told live, in a notice that stays until dismissed, when routing puts
an agent on not-ready for missing offers in a row; agents never see it (issue 8)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from harness import PASSWORD, AgentClient, Server, Visitor, running
from test_roundtrip import INBOX_PATH, agent_goes_available, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


@pytest.fixture
def server(tmp_path, db_url) -> Iterator[Server]:  # noqa: ANN001
    """Offers time out after a second, and one missed offer puts the agent on not-ready."""
    env = {"CALLYARD_ROUTING__OFFER_TIMEOUT": "1", "CALLYARD_ROUTING__MAX_NO_ANSWER": "1"}
    with running(tmp_path, db_url, env=env, agents=("anna", "bob")) as srv:
        srv.cli("agent", "add", "boss", "--name", "Boss", "--role", "supervisor", password=PASSWORD)
        yield srv
        print("---- callyard output ----\n" + "".join(srv.output))


def test_supervisor_gets_a_notice_when_an_agent_goes_not_ready(server, pages) -> None:  # noqa: ANN001
    boss = pages("boss")
    boss.goto("/login")
    log_in(boss, "boss")
    expect(boss).to_have_url(INBOX_PATH)
    expect(boss.locator("#connection")).to_have_text("live")
    bob = pages("bob")
    agent_goes_available(bob, "bob")
    anna = AgentClient(server.url, "anna")  # she lets the offer ring out
    anna.available()
    bob.locator("#presence").select_option("offline")  # so the offer goes to anna
    expect(bob.locator("#presence")).to_have_value("offline")
    visitor = Visitor(server.url)
    assert visitor.send("hello, anyone?")["ok"]
    anna.events.wait("offer")

    notice = boss.locator("#notices li.notice-not_ready")
    expect(notice).to_have_count(1, timeout=20_000)
    expect(notice).to_contain_text("Anna missed 1 offer in a row")
    expect(notice).to_be_visible()
    expect(bob.locator("#notices")).to_have_count(0)  # agents are not told about each other
    notice.locator(".notice-dismiss").click()
    expect(boss.locator("#notices")).to_have_count(0)
    anna.close()
