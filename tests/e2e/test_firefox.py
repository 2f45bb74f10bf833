"""The core agent flows in a real Firefox (Debian's Firefox ESR), the same tests as in Chromium.

Each test here runs one of the Chromium end-to-end tests unchanged, with every page opened in
Firefox: this module's ``browser`` fixture is Firefox, and the shared ``pages`` fixture and the
``browsers`` fixture of test_inbox open their pages in whatever ``browser`` is. The browser flows
are the same on both databases, so these run on SQLite only.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

import test_composer_inbox
import test_inbox
import test_roundtrip
from test_inbox import browsers, kernel, team  # noqa: F401 (fixtures used by the tests below)

pytestmark = [pytest.mark.e2e, pytest.mark.firefox]
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def browser(firefox_browser: Browser) -> Browser:
    return firefox_browser


@sqlite_only
def test_the_pages_are_firefox(server, pages) -> None:  # noqa: ANN001
    page = pages("anyone")
    page.goto("/login")
    expect(page.locator("#login")).to_be_visible()
    assert "Firefox/" in page.evaluate("navigator.userAgent")


@sqlite_only
def test_chat_roundtrip_between_widget_and_inbox(server, pages) -> None:  # noqa: ANN001
    """Log in, go available, get the offer pushed, accept, see the customer live, reply; the
    widget shows the reply, and a reload of the widget keeps the conversation."""
    test_roundtrip.test_chat_roundtrip_between_widget_and_inbox_survives_a_reload(server, pages)


@sqlite_only
def test_customer_html_is_shown_as_text_never_run(server, pages) -> None:  # noqa: ANN001
    test_roundtrip.test_customer_html_is_shown_as_text_never_run(server, pages)


@sqlite_only
def test_customer_text_is_shown_as_text_everywhere(team, kernel, browsers) -> None:  # noqa: ANN001, F811
    test_inbox.test_customer_text_is_shown_as_text_everywhere(team, kernel, browsers)


@sqlite_only
def test_a_dropped_websocket_reconnects_and_catches_up(team, browsers) -> None:  # noqa: ANN001, F811
    test_inbox.test_a_dropped_websocket_reconnects_and_catches_up_without_duplicates(team, browsers)


@sqlite_only
def test_two_agents_accept_the_same_offer_at_once_exactly_one_wins(team, kernel, browsers) -> None:  # noqa: ANN001, F811
    test_inbox.test_two_agents_accept_the_same_offer_at_once_exactly_one_wins(team, kernel, browsers)


@sqlite_only
def test_a_file_sent_in_chat_downloads_in_the_widget(server, pages) -> None:  # noqa: ANN001
    """The widget saves a file from a blob: URL through a detached <a download> in its shadow root."""
    test_composer_inbox.test_a_file_sent_in_chat_downloads_in_the_widget(server, pages)
