"""End-to-end fixtures: a real Callyard in its own process and a real headless Chromium.

The server runs `callyard run` (gevent, monkey-patched) in a subprocess through the harness; this
process only drives the browser with Playwright's sync API and never imports gevent.

Debian's Chromium is used (Playwright's own browser download is not available here); set
CALLYARD_CHROMIUM to use another binary. Tests marked ``firefox`` run in Debian's Firefox ESR
instead (the ``firefox_browser`` fixture; CALLYARD_FIREFOX names another binary), driven over
WebDriver BiDi through ``firefox_bidi_shim``.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Error, Page, Playwright, expect, sync_playwright

from harness import Server, agent_add, init_workdir

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
FIREFOX = os.environ.get("CALLYARD_FIREFOX", "/usr/lib/firefox-esr/firefox-esr")
TIMEOUT_MS = 10_000
# Firefox reports a WebSocket that cannot connect (a page that went offline, a restarting server) as
# a page error over WebDriver BiDi, though no script threw anything: Socket.IO handles the failure
# and reconnects. Chromium only logs it to the console.
FIREFOX_NETWORK_REPORT = re.compile(r"^Firefox can.t establish a connection to the server at wss?://")

expect.set_options(timeout=TIMEOUT_MS)


def _executable(path: str, name: str, install: str, variable: str) -> None:
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"no {name} at {path}: install Debian's {install} or point {variable} at one")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    # The server is gevent; this process must not be (Playwright's sync API runs its own loop).
    assert "gevent" not in sys.modules, "gevent was imported into the test process"
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    _executable(CHROMIUM, "Chromium", "'chromium' (scripts/ensure-chromium)", "CALLYARD_CHROMIUM")
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def firefox_browser(playwright: Playwright, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Debian's Firefox ESR, driven by Playwright over WebDriver BiDi (channel moz-firefox)."""
    _executable(FIREFOX, "Firefox", "'firefox-esr' (scripts/ensure-firefox)", "CALLYARD_FIREFOX")
    # Playwright starts `executable_path` with Firefox's arguments; this launcher runs Firefox
    # inside the shim that fills in the BiDi command Firefox ESR lacks (see firefox_bidi_shim).
    shim = Path(__file__).with_name("firefox_bidi_shim.py")
    launcher = tmp_path_factory.mktemp("firefox") / "firefox"
    command = " ".join(shlex.quote(part) for part in (sys.executable, str(shim), FIREFOX))
    launcher.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
    launcher.chmod(0o755)
    firefox = playwright.firefox.launch(channel="moz-firefox", executable_path=str(launcher), headless=True)
    yield firefox
    firefox.close()


@pytest.fixture
def server(tmp_path, db_url) -> Iterator[Server]:  # noqa: ANN001
    """A running Callyard on a fresh database with one agent, anna (skill support:5)."""
    srv = init_workdir(tmp_path, db_url, then=[agent_add("anna")])
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
        self.firefox = browser.browser_type.name == "firefox"

    def new(self, name: str) -> Page:
        context = self.browser.new_context(base_url=self.base_url)
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: self._page_error(name, exc))
        return page

    def _page_error(self, name: str, error: Error) -> None:
        if self.firefox and not error.name and FIREFOX_NETWORK_REPORT.match(error.message):
            return
        self.errors.append(f"{name}: {error}")

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
