"""The widget's own edge cases, in a real browser: typing before the connection is up, ending a chat."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest
from playwright.sync_api import Page, Route, expect

from test_roundtrip import WIDGET, agent_goes_available

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


def test_message_typed_before_the_socket_library_loads_is_kept_and_delivered(server, pages) -> None:  # noqa: ANN001
    agent = pages("agent")
    agent_goes_available(agent)
    customer: Page = pages("customer")
    held: list[Route] = []
    customer.route("**/static/vendor/socket.io.min.js", lambda route: held.append(route))

    customer.goto("/", wait_until="domcontentloaded")
    customer.locator(f"{WIDGET} .launcher").click()
    customer.locator(f"{WIDGET} textarea").fill("typed while still loading")
    customer.locator(f"{WIDGET} form button[type=submit]").click()
    # Not lost to a plain form submit, and shown as waiting for the server.
    expect(customer.locator(f"{WIDGET} ol.messages li.pending")).to_have_text("typed while still loading")
    assert "text=" not in customer.url

    assert held, "the widget did not ask for the Socket.IO library"
    held[0].continue_()

    expect(customer.locator(f"{WIDGET} ol.messages li.pending")).to_have_count(0)
    expect(customer.locator(f"{WIDGET} ol.messages li.in")).to_have_text(["typed while still loading"])
    expect(agent.locator("#offers li.offer .preview")).to_have_text("typed while still loading")


def test_ending_the_chat_before_an_agent_takes_it_withdraws_the_offer(server, pages) -> None:  # noqa: ANN001
    agent = pages("agent")
    agent_goes_available(agent)
    customer = pages("customer")
    customer.goto("/")
    customer.locator(f"{WIDGET} .launcher").click()
    customer.locator(f"{WIDGET} textarea").fill("never mind")
    customer.locator(f"{WIDGET} form button[type=submit]").click()
    expect(agent.locator("#offers li.offer")).to_have_count(1)

    customer.locator(f"{WIDGET} .end").click()

    expect(agent.locator("#offers li.offer")).to_have_count(0)
    expect(agent.locator("#toast")).to_contain_text("customer left")


@pytest.fixture
def other_site(server, tmp_path):  # noqa: ANN001, ANN201
    """Another site (its own origin: another port) whose page has nothing of Callyard's but the
    one script tag. Served for real: Chromium keeps pages it cannot place on the network from
    loading anything off 127.0.0.1."""
    root = tmp_path / "shop"
    root.mkdir()
    (root / "index.html").write_text(
        f'<!doctype html><title>Elsewhere</title><h1>Another shop</h1><script src="{server.url}/widget.js" async></script>'
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{site.server_address[1]}/"
    site.shutdown()
    site.server_close()
    thread.join(timeout=10)


def test_widget_embedded_on_another_site_chats_both_ways(pages, other_site) -> None:  # noqa: ANN001
    agent = pages("agent")
    agent_goes_available(agent)
    customer: Page = pages("customer")

    customer.goto(other_site)
    customer.locator(f"{WIDGET} .launcher").click()
    customer.locator(f"{WIDGET} textarea").fill("hello from another site")
    customer.locator(f"{WIDGET} form button[type=submit]").click()
    expect(customer.locator(f"{WIDGET} ol.messages li.pending")).to_have_count(0)

    agent.locator("#offers li.offer button.accept").click()
    expect(agent.locator("#conversation ol.messages li.msg-in .msg-body")).to_have_text(
        "hello from another site"
    )
    agent.locator("#conversation .composer textarea").fill("hello back")
    agent.locator("#conversation .composer button[type=submit]").click()
    expect(customer.locator(f"{WIDGET} ol.messages li.out")).to_contain_text("hello back")
