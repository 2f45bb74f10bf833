"""A customer and an agent in two real browsers: the chat widget on the demo shop, the agent inbox.

Everything is checked the way a person would see it, with Playwright's auto-waiting assertions
(no sleeps): the offer appears live, the reply appears live, a reload keeps the conversation.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from harness import PASSWORD

pytestmark = pytest.mark.e2e

# The browser flows are the same on both databases; the cheap ones run on SQLite only.
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

WIDGET = "#callyard-chat"  # the widget's shadow host; Playwright's CSS pierces its open shadow root
LOGIN_PATH = re.compile(r"^https?://[^/]+/login(\?.*)?$")
INBOX_PATH = re.compile(r"^https?://[^/]+/inbox$")


# -- the customer's side: the widget on the demo shop ---------------------------------------------


def open_widget(page: Page) -> None:
    page.goto("/")
    page.locator(f"{WIDGET} .launcher").click()
    expect(page.locator(f"{WIDGET} .panel")).to_be_visible()


def customer_sends(page: Page, text: str) -> None:
    page.locator(f"{WIDGET} textarea").fill(text)
    page.locator(f"{WIDGET} form button[type=submit]").click()
    # Shown at once as pending, then confirmed once the server acknowledged it is stored.
    expect(page.locator(f"{WIDGET} ol.messages li.in").last).to_have_text(text)
    expect(page.locator(f"{WIDGET} ol.messages li.pending")).to_have_count(0)
    expect(page.locator(f"{WIDGET} ol.messages li.failed")).to_have_count(0)


# -- the agent's side: login and inbox --------------------------------------------------------------


def log_in(page: Page, login: str, password: str = PASSWORD) -> None:
    page.locator("#login").fill(login)
    page.locator("#password").fill(password)
    page.locator("#login-submit").click()


def agent_goes_available(page: Page, login: str = "anna") -> None:
    page.goto("/login")
    log_in(page, login)
    expect(page).to_have_url(INBOX_PATH)
    expect(page.locator("#connection")).to_have_text("live")
    presence = page.locator("#presence")
    # The agent starts offline; wait until the inbox has shown that before changing it.
    expect(presence).to_have_value("offline")
    presence.select_option("available")
    expect(presence).to_have_value("available")


def agent_replies(page: Page, text: str) -> None:
    composer = page.locator("#conversation .composer")
    composer.locator("textarea").fill(text)
    composer.locator("button[type=submit]").click()
    expect(page.locator("#conversation ol.messages li.msg-out .msg-body").last).to_have_text(text)
    expect(composer.locator("textarea")).to_have_value("")


# -- tests --------------------------------------------------------------------------------------------


def test_chat_roundtrip_between_widget_and_inbox_survives_a_reload(server, pages) -> None:  # noqa: ANN001
    question = "Hello, my spade broke. Can you help?"
    answer = "Sorry to hear that! Which model is it?"
    customer = pages("customer")
    agent = pages("agent")

    open_widget(customer)
    customer_sends(customer, question)

    agent_goes_available(agent)
    offer = agent.locator("#offers li.offer")
    expect(offer).to_have_count(1)
    expect(offer.locator(".preview")).to_have_text(question)
    expect(offer).to_contain_text("chat")
    offer.locator("button.accept").click()

    expect(agent.locator("#offers li.offer")).to_have_count(0)
    work = agent.locator("#work li.work")
    expect(work).to_have_count(1)
    expect(work).to_have_class(re.compile(r"\bselected\b"))
    conversation = agent.locator("#conversation")
    expect(conversation.locator(".conv-meta")).to_contain_text("active")
    expect(conversation.locator("ol.messages li.msg-in .msg-body")).to_have_text([question])
    expect(conversation.locator(".btn-close")).to_be_visible()
    # "Why did this come to me?": the strategy, the escalation step, every candidate's reason.
    agent.locator("button.tab[data-tab=why]").click()
    why = agent.locator("#tab-why .why-list")
    expect(why.locator(".why-decision").last).to_contain_text("longest-idle · base")
    expect(why).to_contain_text("Anna: chosen")
    expect(agent.locator(".unservable")).to_be_hidden()

    agent_replies(agent, answer)

    # The answer reaches the customer live, with the agent's name.
    reply = customer.locator(f"{WIDGET} ol.messages li.out")
    expect(reply).to_have_count(1)
    expect(reply).to_contain_text(answer)
    expect(reply.locator(".who")).to_have_text("Anna")

    # A reload continues the same conversation: the whole history is back in the widget.
    customer.reload()
    customer.locator(f"{WIDGET} .launcher").click()
    messages = customer.locator(f"{WIDGET} ol.messages li")
    expect(messages).to_have_count(2)
    expect(messages.nth(0)).to_have_class("in")
    expect(messages.nth(0)).to_have_text(question)
    expect(messages.nth(1)).to_have_class("out")
    expect(messages.nth(1)).to_contain_text(answer)
    expect(messages.nth(0)).to_be_visible()

    # And it still works after the reload: a follow-up reaches the same conversation live.
    customer_sends(customer, "The big one, from 2019.")
    expect(conversation.locator("ol.messages li.msg-in .msg-body")).to_have_text(
        [question, "The big one, from 2019."]
    )
    expect(agent.locator("#work li.work")).to_have_count(1)


XSS_IMG = '<img src=x onerror="window.__pwned=1">'
XSS_SCRIPT = "<script>window.__pwned=1</script>"
HTML_REPLY = "<b>not bold</b> & <i>not italic</i>"


@sqlite_only
def test_customer_html_is_shown_as_text_never_run(server, pages) -> None:  # noqa: ANN001
    customer = pages("customer")
    agent = pages("agent")

    open_widget(customer)
    customer_sends(customer, XSS_IMG)

    agent_goes_available(agent)
    offer = agent.locator("#offers li.offer")
    expect(offer.locator(".preview")).to_have_text(XSS_IMG)
    offer.locator("button.accept").click()
    bodies = agent.locator("#conversation ol.messages li.msg-in .msg-body")
    expect(bodies).to_have_text([XSS_IMG])  # rendered from the conversation's history

    customer_sends(customer, XSS_SCRIPT)
    expect(bodies).to_have_text([XSS_IMG, XSS_SCRIPT])  # rendered from a live push
    expect(agent.locator("#work li.work .preview")).to_have_text(XSS_SCRIPT)

    # The agent's HTML does not run in the widget either.
    agent_replies(agent, HTML_REPLY)
    reply = customer.locator(f"{WIDGET} ol.messages li.out")
    expect(reply).to_contain_text(HTML_REPLY)

    # The live message round trip above gave a broken <img> ample time to fire its onerror.
    for page in (agent, customer):
        for tag in ("img", "script", "b", "i"):
            expect(
                page.locator(f"#conversation ol.messages {tag}, {WIDGET} ol.messages {tag}")
            ).to_have_count(0)
        assert page.evaluate("typeof window.__pwned") == "undefined"

    # The history the widget gets after a reload is rendered as text too.
    customer.reload()
    customer.locator(f"{WIDGET} .launcher").click()
    messages = customer.locator(f"{WIDGET} ol.messages li")
    expect(messages).to_have_count(3)
    expect(customer.locator(f"{WIDGET} ol.messages li.in")).to_have_text([XSS_IMG, XSS_SCRIPT])
    expect(messages.nth(2)).to_contain_text(HTML_REPLY)
    # One more round trip after the reload before the last look at window.__pwned.
    customer_sends(customer, "thanks")
    expect(bodies).to_have_text([XSS_IMG, XSS_SCRIPT, "thanks"])
    expect(customer.locator(f"{WIDGET} ol.messages img")).to_have_count(0)
    assert customer.evaluate("typeof window.__pwned") == "undefined"
    assert agent.evaluate("typeof window.__pwned") == "undefined"


@sqlite_only
def test_logged_out_inbox_redirects_to_login_and_back(server, pages) -> None:  # noqa: ANN001
    page = pages("visitor")
    page.goto("/inbox")
    expect(page).to_have_url(LOGIN_PATH)
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#password")).to_be_visible()
    expect(page.locator("#connection")).to_have_count(0)

    # Logging in from there lands in the inbox that was asked for.
    log_in(page, "anna")
    expect(page).to_have_url(INBOX_PATH)
    expect(page.locator("#agent-name")).to_have_text("Anna")
    expect(page.locator("#connection")).to_have_text("live")


@sqlite_only
def test_wrong_password_shows_an_error_and_stays_on_login(server, pages) -> None:  # noqa: ANN001
    page = pages("intruder")
    page.goto("/login")
    log_in(page, "anna", "not the password")

    expect(page.locator(".error[role=alert]")).to_have_text("Wrong login or password.")
    expect(page).to_have_url(LOGIN_PATH)
    expect(page.locator("#login-submit")).to_be_visible()
    expect(page.locator("#connection")).to_have_count(0)

    # Still not logged in: the inbox sends the browser back to the login page.
    page.goto("/inbox")
    expect(page).to_have_url(LOGIN_PATH)
    expect(page.locator(".error")).to_have_count(0)
