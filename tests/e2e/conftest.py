"""End-to-end fixtures: a real Callyard in its own process and a real headless Chromium.

The server runs `callyard run` (gevent, monkey-patched) in a subprocess through the harness; this
process only drives the browser with Playwright's sync API and never imports gevent.

Debian's Chromium is used (Playwright's own browser download is not available here); set
CALLYARD_CHROMIUM to use another binary.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from harness import Server, init_workdir

CHROMIUM = os.environ.get("CALLYARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 10_000

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    # The server is gevent; this process must not be (Playwright's sync API runs its own loop).
    assert "gevent" not in sys.modules, "gevent was imported into the test process"
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"no Chromium at {CHROMIUM}: install Debian's 'chromium' (scripts/ensure-chromium) "
            "or point CALLYARD_CHROMIUM at one"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def server(tmp_path, db_url) -> Iterator[Server]:  # noqa: ANN001
    """A running Callyard on a fresh database with one agent, anna (skill support:5)."""
    srv = init_workdir(tmp_path, db_url)
    srv.add_agent("anna")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        # Shown by pytest only when the test failed.
        print("---- callyard output ----\n" + "".join(srv.output))


class Pages:
    """Opens pages, each in its own browser context (its own cookies and localStorage).

    Uncaught JavaScript errors on any page fail the test.
    """

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    def new(self, name: str) -> Page:
        context = self.browser.new_context(base_url=self.base_url)
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{name}: {exc}"))
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser: Browser, server: Server) -> Iterator[Callable[[str], Page]]:
    opened = Pages(browser, server.url)
    try:
        yield opened.new
    finally:
        opened.close()
    assert not opened.errors, f"JavaScript errors in the pages: {opened.errors}"
