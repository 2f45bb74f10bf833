"""The agent inbox in real browsers: several agents (and customers) each in their own browser
context, against a real server in its own process.

Work from channels other than chat (email, voice, ...) is written into the store from this
process through the kernel's own ingest, as a channel adapter would; the running server's router
finds it on its next tick and offers it, so everything the browsers see comes over the wire.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from callyard import config as config_mod
from callyard import services as services_mod
from callyard.models import Interaction, Offer
from callyard.store import Store

from harness import Server, agent_add, init_workdir
from test_roundtrip import INBOX_PATH, customer_sends, log_in, open_widget

pytestmark = pytest.mark.e2e
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

XSS = '<img src=x onerror="window.__pwned=1">'
XSS_SCRIPT = "<script>window.__pwned=1</script>"


@pytest.fixture
def team(tmp_path, db_url) -> Iterator[Server]:  # noqa: ANN001
    """A running Callyard with agents anna and bob (support), supervisor sam, and a billing queue."""
    srv = init_workdir(
        tmp_path,
        db_url,
        then=[
            agent_add("anna"),
            agent_add("bob"),
            agent_add("sam", skills="support:1", extra=("--role", "supervisor")),
            ["queue", "add", "billing", "--skill", "billing:1"],
        ],
    )
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        print("---- callyard output ----\n" + "".join(srv.output))


@pytest.fixture
def kernel(team, db_url) -> Iterator[services_mod.Services]:  # noqa: ANN001
    """The kernel's services on the server's database, as a channel adapter in another process."""
    store = Store(db_url)
    store.db.connect(reuse_if_open=True)
    svc = services_mod.build(config_mod.load(None, env={}), store=store)
    try:
        yield svc
    finally:
        store.close()


@pytest.fixture
def browsers(browser, team) -> Iterator[Callable[[str], Page]]:  # noqa: ANN001
    from conftest import Pages

    opened = Pages(browser, team.url)
    try:
        yield opened.new
    finally:
        opened.close()
    assert not opened.errors, f"JavaScript errors in the pages: {opened.errors}"


def sign_in(page: Page, login: str, *, available: bool = True) -> Page:
    page.goto("/login")
    log_in(page, login)
    expect(page).to_have_url(INBOX_PATH)
    expect(page.locator("#connection")).to_have_text("live")
    if available:
        expect(page.locator("#presence")).to_have_value("offline")
        since = page.locator("#presence-since")
        offline_since = since.get_attribute("data-since")
        page.locator("#presence").select_option("available")
        expect(page.locator("#presence")).to_have_value("available")
        # The server's push of the change has come back (a test that goes on to change presence
        # again must not have this late push undo it).
        expect(since).not_to_have_attribute("data-since", offline_since or "")
    return page


def take_offer(page: Page, text: str | None = None) -> None:
    offer = page.locator("#offers li.offer")
    expect(offer).to_have_count(1)
    if text is not None:
        expect(offer.locator(".preview")).to_have_text(text)
    offer.locator("button.accept").click()
    expect(page.locator("#conversation .conv-meta")).to_contain_text("active")


def email_in(
    kernel, sender: str, body: str, *, subject: str = "", name: str = "", queue: str = "support"
) -> int:  # noqa: ANN001
    """An email arriving, stored through the kernel as the email gateway would store it."""
    with kernel.store.connection():
        result = kernel.interactions.ingest(
            channel="email",
            identity=("email", sender),
            body=body,
            queue=queue,
            thread_key=f"{sender}:{subject}",
            contact_name=name,
        )
        if subject:
            Interaction.update(subject=subject).where(Interaction.id == result.interaction_id).execute()
    return result.interaction_id


def not_pwned(*pages: Page) -> None:
    for page in pages:
        assert page.evaluate("typeof window.__pwned") == "undefined"
        for tag in ("img", "script:not([src])"):
            expect(page.locator(f"main {tag}, aside {tag}, #overlay {tag}")).to_have_count(0)


# -- correctness under bad input -----------------------------------------------------------------


def test_two_agents_accept_the_same_offer_at_once_exactly_one_wins(team, kernel, browsers) -> None:  # noqa: ANN001
    anna = sign_in(browsers("anna"), "anna")
    bob = sign_in(browsers("bob"), "bob")
    customer = browsers("customer")
    open_widget(customer)
    customer_sends(customer, "Who will take me?")
    # Anna has been free longest: longest-idle offers it to her.
    expect(anna.locator("#offers li.offer")).to_have_count(1)
    # Ring-all: the same work offered to Bob as well.
    with kernel.store.connection():
        offer = Offer.get(Offer.state == "pending")
        Offer.create(
            interaction=offer.interaction_id,
            agent=kernel.agents.by_login("bob").id,
            created_at=offer.created_at,
            expires_at=offer.expires_at,
        )
        # Rung at several agents, the interaction belongs to none of them until one accepts.
        Interaction.update(agent=None).where(Interaction.id == offer.interaction_id).execute()
    bob.reload()
    expect(bob.locator("#offers li.offer")).to_have_count(1)

    # Both click Accept at the same moment (the machine's clock is the same in both tabs).
    at = int(time.time() * 1000) + 400
    for page in (anna, bob):
        page.evaluate(
            "at => { const b = document.querySelector('#offers li.offer button.accept');"
            " setTimeout(() => b.click(), at - Date.now()); }",
            at,
        )
    for page in (anna, bob):
        expect(page.locator("#offers li.offer")).to_have_count(0)
    deadline = time.monotonic() + 10
    while anna.locator("#work li.work").count() + bob.locator("#work li.work").count() == 0:
        assert time.monotonic() < deadline, "nobody got the interaction"
        anna.wait_for_timeout(100)
    winner, loser = (anna, bob) if anna.locator("#work li.work").count() else (bob, anna)
    expect(winner.locator("#work li.work")).to_have_count(1)
    expect(winner.locator("#conversation .conv-meta")).to_contain_text("active")
    expect(loser.locator("#toast")).to_contain_text("another agent took")
    expect(loser.locator("#offers li.offer")).to_have_count(0)
    expect(loser.locator("#work li.work")).to_have_count(0)


def test_a_dropped_websocket_reconnects_and_catches_up_without_duplicates(team, browsers) -> None:  # noqa: ANN001
    anna = sign_in(browsers("anna"), "anna")
    customer = browsers("customer")
    open_widget(customer)
    customer_sends(customer, "one")
    take_offer(anna, "one")

    anna.context.set_offline(True)
    expect(anna.locator("#connection")).to_have_text("reconnecting…")
    customer_sends(customer, "two")
    customer_sends(customer, "three")
    other = browsers("another customer")
    open_widget(other)
    customer_sends(other, "a new chat while you were away")
    anna.context.set_offline(False)

    expect(anna.locator("#connection")).to_have_text("live", timeout=20_000)
    bodies = anna.locator("#conversation ol.messages li.msg-in .msg-body")
    expect(bodies).to_have_text(["one", "two", "three"])
    expect(anna.locator("#offers li.offer .preview")).to_have_text(["a new chat while you were away"])
    # And the live stream goes on after the catch-up, still without duplicates.
    customer_sends(customer, "four")
    expect(bodies).to_have_text(["one", "two", "three", "four"])
    assert anna.evaluate("document.querySelectorAll('#conversation ol.messages li').length") == 4


@sqlite_only
def test_a_stale_tab_acting_on_a_closed_interaction_is_told_and_updates(team, browsers) -> None:  # noqa: ANN001
    tab = sign_in(browsers("anna at her desk"), "anna")
    customer = browsers("customer")
    open_widget(customer)
    customer_sends(customer, "hello")
    take_offer(tab, "hello")
    stale = sign_in(browsers("anna on her laptop"), "anna", available=False)
    stale.locator("#work li.work").click()
    expect(stale.locator("#conversation .composer")).to_be_visible()

    # The laptop loses its connection; meanwhile the conversation is ended and wrapped up.
    stale.context.set_offline(True)
    expect(stale.locator("#connection")).to_have_text("reconnecting…")
    tab.locator("#conversation .btn-close").click()
    tab.locator("#conversation .wrapup select[name=disposition]").select_option("resolved")
    tab.locator("#conversation .wrapup button[type=submit]").click()
    expect(tab.locator("#work li.work")).to_have_count(0)

    # The laptop still shows it as active, and its agent answers there.
    expect(stale.locator("#conversation .conv-meta")).to_contain_text("active")
    stale.locator("#conversation .composer textarea").fill("late answer")
    stale.locator("#conversation .composer button[type=submit]").click()
    stale.context.set_offline(False)

    expect(stale.locator("#connection")).to_have_text("live", timeout=20_000)
    expect(stale.locator("#toast")).to_contain_text("cannot reply: the interaction is closed", timeout=20_000)
    expect(stale.locator("#work li.work")).to_have_count(0)
    expect(stale.locator("#conversation .composer")).to_have_count(0)
    expect(customer.locator("#callyard-chat ol.messages li.out")).to_have_count(0)


@sqlite_only
def test_customer_text_is_shown_as_text_everywhere(team, kernel, browsers) -> None:  # noqa: ANN001
    anna = sign_in(browsers("anna"), "anna")
    email_in(kernel, f"x{XSS}@example.com", XSS_SCRIPT + "\n> " + XSS, subject=XSS, name=XSS)
    offer = anna.locator("#offers li.offer")
    expect(offer.locator(".who")).to_have_text(XSS)
    expect(offer.locator(".subject")).to_have_text(XSS)
    expect(offer).to_contain_text("✉️ email")
    # The contact card opened with the offer.
    expect(anna.locator("#tab-contact .card-name")).to_have_text(XSS)
    expect(anna.locator("#tab-contact .identities")).to_contain_text(f"x{XSS}@example.com")
    offer.locator("button.accept").click()
    conversation = anna.locator("#conversation")
    expect(conversation.locator(".conv-contact")).to_have_text(XSS)
    expect(conversation.locator(".conv-subject")).to_have_text(XSS)
    expect(conversation.locator("li.msg-in .msg-body")).to_contain_text(XSS_SCRIPT)
    expect(conversation.locator("li.msg-in .quoted summary")).to_have_text("Quoted text")
    # Notes, transfer notes and labels the agents write are text too.
    anna.locator("#tab-contact .note-form textarea").fill(XSS)
    anna.locator("#tab-contact .note-form button").click()
    expect(anna.locator("#tab-contact .notes .note-body")).to_have_text([XSS])
    # Search results and the read-only look.
    anna.locator("#open-search").click()
    anna.locator("#overlay input[name=contact]").fill("example.com")
    anna.locator("#overlay .search-form button[type=submit]").click()
    expect(anna.locator("#overlay .search-result .who")).to_have_text([XSS])
    anna.locator("#overlay .search-result").click()
    expect(anna.locator("#overlay .peek-messages .msg-body")).to_contain_text(XSS_SCRIPT)
    not_pwned(anna)


# -- presence, offers, my work ------------------------------------------------------------------------


@sqlite_only
def test_presence_with_configured_break_reasons_and_time_in_state(team, browsers) -> None:  # noqa: ANN001
    anna = sign_in(browsers("anna"), "anna")
    reason = anna.locator("#break-reason")
    expect(reason).to_be_hidden()
    anna.locator("#presence").select_option("break")
    expect(reason).to_be_visible()
    expect(reason.locator("option")).to_have_text(["Reason…", "lunch", "training", "meeting", "not-ready"])
    reason.select_option("lunch")
    expect(anna.locator("#presence-since")).to_have_text(re.compile(r"^[0-9]s$"))
    anna.reload()
    expect(anna.locator("#presence")).to_have_value("break")
    expect(reason).to_have_value("lunch")
    expect(anna.locator("#presence-since")).to_have_text(re.compile(r"^([2-9]|[1-5][0-9])s$"), timeout=5000)


@sqlite_only
def test_my_work_across_channels_newest_first_with_unread_and_sla(team, kernel, browsers) -> None:  # noqa: ANN001
    anna = sign_in(browsers("anna"), "anna")
    customer = browsers("customer")
    open_widget(customer)
    customer_sends(customer, "chat question")
    take_offer(anna, "chat question")
    anna.locator("#conversation .composer textarea").fill("Looking into it")
    anna.locator("#conversation .composer button[type=submit]").click()
    # The reply is stored before the email arrives, so the email is the newer activity (under
    # load the email could otherwise overtake the reply in flight).
    expect(anna.locator("#conversation ol.messages li.msg-out")).to_contain_text("Looking into it")
    email_in(kernel, "kim@example.com", "email question", subject="Order 42")
    take_offer(anna, "email question")
    work = anna.locator("#work li.work")
    expect(work).to_have_count(2)
    expect(work.nth(0)).to_contain_text("✉️ email")
    expect(work.nth(0).locator(".subject")).to_have_text("Order 42")
    expect(work.nth(1)).to_contain_text("💬 chat")
    # The customer has waited since their last message for the email; not for the answered chat.
    expect(work.nth(0).locator(".sla")).to_be_visible()
    expect(work.nth(1).locator(".sla")).to_have_count(0)

    # A new chat message while the email is open: unread count, and the chat jumps to the top.
    customer_sends(customer, "are you there?")
    customer_sends(customer, "hello??")
    expect(work.nth(0)).to_contain_text("💬 chat")
    expect(work.nth(0).locator(".badge")).to_have_text("2")
    expect(work.nth(0).locator(".sla")).to_be_visible()
    anna.reload()  # unread counts are kept by the server
    expect(work.nth(0).locator(".badge")).to_have_text("2")
    work.nth(0).click()
    expect(anna.locator("#conversation li.msg-in .msg-body")).to_have_text(
        ["chat question", "are you there?", "hello??"]
    )
    expect(work.nth(0).locator(".badge")).to_have_count(0)
    anna.reload()
    expect(work).to_have_count(2)
    expect(work.locator(".badge")).to_have_count(0)


@sqlite_only
def test_offer_alerts_with_a_desktop_notification_and_a_sound(team, browsers) -> None:  # noqa: ANN001
    anna = browsers("anna")
    anna.context.grant_permissions(["notifications"])
    # Watch what the page does (the real APIs still run) and pretend the agent is in another window.
    anna.add_init_script(
        """
        window.__alerts = { notes: [], sounds: 0 };
        const RealNotification = window.Notification;
        window.Notification = class extends RealNotification {
          constructor(title, options) { super(title, options); window.__alerts.notes.push([title, options.body]); }
        };
        Object.defineProperty(window.Notification, 'permission', { get: () => RealNotification.permission });
        const realStart = OscillatorNode.prototype.start;
        OscillatorNode.prototype.start = function (...a) { window.__alerts.sounds += 1; return realStart.apply(this, a); };
        document.hasFocus = () => false;
        """
    )
    sign_in(anna, "anna")
    customer = browsers("customer")
    open_widget(customer)
    customer_sends(customer, "ring ring")
    expect(anna.locator("#offers li.offer")).to_have_count(1)
    alerts = anna.evaluate("window.__alerts")
    assert alerts["sounds"] == 1
    assert len(alerts["notes"]) == 1
    title, body = alerts["notes"][0]
    assert title.startswith("New chat offer") and body.endswith("ring ring")


# -- wrap-up and transfer ---------------------------------------------------------------------------


@sqlite_only
def test_wrap_up_with_a_disposition_and_notes(team, browsers) -> None:  # noqa: ANN001
    anna = sign_in(browsers("anna"), "anna")
    customer = browsers("customer")
    open_widget(customer)
    customer_sends(customer, "thanks, bye")
    take_offer(anna)
    anna.locator("#conversation .btn-close").click()
    wrap = anna.locator("#conversation .wrapup")
    expect(wrap).to_be_visible()
    expect(wrap.locator(".wrapup-left")).to_have_text("until you are done")
    expect(anna.locator("#conversation .composer")).to_be_hidden()
    expect(wrap.locator("select[name=disposition] option")).to_have_text(
        ["Disposition…", "resolved", "follow-up", "no-answer", "spam"]
    )
    wrap.locator("button[type=submit]").click()  # no disposition: the form does not go
    expect(wrap).to_be_visible()
    wrap.locator("select[name=disposition]").select_option("follow-up")
    wrap.locator("textarea[name=notes]").fill("send the manual")
    wrap.locator("button[type=submit]").click()
    expect(anna.locator("#work li.work")).to_have_count(0)
    expect(anna.locator("#conversation .placeholder")).to_contain_text("Wrapped up")
    # The disposition and notes are in the interaction's history.
    anna.locator("#open-search").click()
    anna.locator("#overlay .search-form button[type=submit]").click()
    anna.locator("#overlay .search-result").first.click()
    expect(anna.locator("#overlay .peek-meta")).to_contain_text("follow-up")
    expect(anna.locator("#overlay .log")).to_contain_text("wrapped up follow-up — send the manual")


def test_transfer_to_another_agent_with_a_note(team, browsers) -> None:  # noqa: ANN001
    anna = sign_in(browsers("anna"), "anna")
    customer = browsers("customer")
    open_widget(customer)
    customer_sends(customer, "I need billing help")
    take_offer(anna)
    bob = sign_in(browsers("bob"), "bob")
    anna.locator("#conversation .btn-transfer").click()
    form = anna.locator("#conversation .transfer-form")
    expect(form.locator("select[name=agent] option", has_text="Bob (available)")).to_have_count(1)
    form.locator("select[name=agent]").select_option("bob")
    form.locator("input[name=note]").fill("Wants a refund for order 42 " + XSS)
    form.locator("button[type=submit]").click()
    expect(anna.locator("#work li.work")).to_have_count(0)

    offer = bob.locator("#offers li.offer")
    expect(offer.locator(".transfer-note")).to_have_text("From Anna: Wants a refund for order 42 " + XSS)
    offer.locator("button.accept").click()
    expect(bob.locator("#conversation .workbar .transfer-note")).to_contain_text(
        "Wants a refund for order 42"
    )
    bob.locator("#conversation .composer textarea").fill("Bob here, refunding now")
    bob.locator("#conversation .composer button[type=submit]").click()
    expect(customer.locator("#callyard-chat ol.messages li.out")).to_contain_text("Bob here, refunding now")
    not_pwned(anna, bob)


# -- contact card, stages, labels, search ----------------------------------------------------------


@sqlite_only
def test_contact_card_history_notes_and_merge(team, kernel, browsers) -> None:  # noqa: ANN001
    anna = sign_in(browsers("anna"), "anna")
    earlier = email_in(kernel, "kim@example.com", "my old question", subject="Old order", name="Kim Lee")
    take_offer(anna, "my old question")
    customer = browsers("customer")
    open_widget(customer)
    customer_sends(customer, "Hi, Kim again, from the website")
    card = anna.locator("#tab-contact")
    # The card opens with the offer? Anna is busy with the email, so it opens when she takes it.
    offer = anna.locator("#offers li.offer")
    expect(offer).to_have_count(1)
    offer.click()
    expect(card.locator(".identities")).to_contain_text("chat_visitor")
    offer.locator("button.accept").click()
    # The chat open, its card shown: the card the merge starts from is the chat visitor's.
    expect(anna.locator("#conversation .conv-meta")).to_contain_text("active")
    expect(anna.locator("#conversation .msg-body")).to_contain_text(["Hi, Kim again, from the website"])
    expect(card.locator(".identities")).to_contain_text("chat_visitor")
    expect(card.locator(".history .history-item")).to_have_count(1)
    card.locator(".merge-box summary").click()
    card.locator(".merge-query").fill("k")  # refused: the reason, not "nobody found"
    card.locator(".merge-query").press("Enter")
    expect(anna.locator("#toast")).to_contain_text("type at least 2 characters")
    expect(card.locator(".merge-results li")).to_have_count(0)
    card.locator(".merge-query").fill("kim@")
    expect(card.locator(".merge-query")).to_have_value("kim@")
    card.locator(".merge-query").press("Enter")
    expect(card.locator(".merge-results li")).to_contain_text(["Kim Lee"])
    anna.once("dialog", lambda dialog: dialog.accept())
    card.locator(".merge-results button.merge").click()
    expect(card.locator(".card-name")).to_have_text("Kim Lee")
    expect(card.locator(".identities li")).to_have_count(2)
    expect(card.locator(".history .history-item")).to_have_count(2)
    card.locator(".note-form textarea").fill("Prefers email; VIP")
    card.locator(".note-form button").click()
    expect(card.locator(".notes .note-body")).to_have_text(["Prefers email; VIP"])
    # Every earlier interaction can be looked at from the card.
    card.locator(f".history-item[data-id='{earlier}']").click()
    expect(anna.locator("#overlay .peek-messages .msg-body")).to_have_text(["my old question"])


@sqlite_only
def test_stages_and_labels_are_filterable_and_kept_in_history(team, browsers) -> None:  # noqa: ANN001
    anna = sign_in(browsers("anna"), "anna")
    customer = browsers("customer")
    open_widget(customer)
    customer_sends(customer, "where is my parcel")
    take_offer(anna)
    workbar = anna.locator("#conversation .workbar")
    expect(workbar.locator("select.stage")).to_have_value("new")
    workbar.locator("select.stage").select_option("waiting-for-customer")
    workbar.locator("input[name=label]").fill("Parcel")
    workbar.locator("input[name=label]").press("Enter")
    workbar.locator("input[name=label]").fill("urgent")
    workbar.locator("input[name=label]").press("Enter")
    expect(anna.locator("#work li.work .label")).to_have_text(["parcel", "urgent"])
    expect(anna.locator("#work li.work .state")).to_have_text("active · waiting-for-customer")
    workbar.locator(".label", has_text="urgent").locator(".label-remove").click()
    expect(anna.locator("#work li.work .label")).to_have_text(["parcel"])
    # My work filtered by stage.
    anna.locator("#work-filter").select_option("resolved")
    expect(anna.locator("#work li.work")).to_have_count(0)
    expect(anna.locator("#work")).to_have_text("Nothing in resolved.")
    anna.locator("#work-filter").select_option("waiting-for-customer")
    expect(anna.locator("#work li.work")).to_have_count(1)

    anna.locator("#open-search").click()
    search = anna.locator("#overlay .search-form")
    search.locator("select[name=stage]").select_option("waiting-for-customer")
    search.locator("input[name=label]").fill("parcel")
    search.locator("button[type=submit]").click()
    expect(anna.locator("#overlay .search-result")).to_have_count(1)
    search.locator("input[name=label]").fill("urgent")
    search.locator("button[type=submit]").click()
    expect(anna.locator("#overlay .search-result")).to_have_count(0)
    expect(anna.locator("#overlay .search-results")).to_have_text("Nothing found.")
    search.locator("input[name=label]").fill("")
    search.locator("input[name=text]").fill("PARCEL")
    search.locator("button[type=submit]").click()
    anna.locator("#overlay .search-result").click()
    expect(anna.locator("#overlay .log li")).to_have_count(4)
    expect(anna.locator("#overlay .log")).to_contain_text("stage waiting-for-customer")
    expect(anna.locator("#overlay .log")).to_contain_text("label removed urgent")


@sqlite_only
def test_agents_see_their_queues_supervisors_see_everything(team, kernel, browsers) -> None:  # noqa: ANN001
    email_in(kernel, "pay@example.com", "invoice is wrong", queue="billing")
    email_in(kernel, "help@example.com", "cannot log in", queue="support")
    anna = sign_in(browsers("anna"), "anna", available=False)
    sam = sign_in(browsers("sam"), "sam", available=False)
    for page, expected in ((anna, ["cannot log in"]), (sam, ["cannot log in", "invoice is wrong"])):
        page.locator("#open-search").click()
        page.locator("#overlay .search-form button[type=submit]").click()
        expect(page.locator("#overlay .search-result .preview")).to_have_text(expected)


# -- composer tools ---------------------------------------------------------------------------------


@sqlite_only
def test_canned_responses_knowledge_base_and_script_in_the_composer(team, browsers) -> None:  # noqa: ANN001
    sam = sign_in(browsers("sam"), "sam", available=False)
    sam.locator("#open-library").click()
    form = sam.locator("#overlay .canned-form")
    form.locator("input[name=title]").fill("Greeting")
    form.locator("textarea[name=body]").fill("Hello {{contact.name}}, this is {{agent.first_name}}.")
    form.locator("input[name=shared]").check()
    form.locator("button[type=submit]").click()
    expect(sam.locator("#overlay .canned-list li")).to_contain_text(["Greeting shared"])

    anna = sign_in(browsers("anna"), "anna")
    anna.locator("#open-library").click()
    expect(anna.locator("#overlay .canned-form input[name=shared]")).to_have_count(0)  # agents: personal only
    kb = anna.locator("#overlay .kb-form")
    kb.locator("input[name=title]").fill("Returns")
    kb.locator("textarea[name=body]").fill("Returns are free within 30 days.")
    kb.locator("button[type=submit]").click()
    expect(anna.locator("#toast")).to_have_text("Article saved.")
    anna.locator("#overlay .overlay-close").click()

    customer = browsers("customer")
    open_widget(customer)
    customer_sends(customer, "can I return it?")
    take_offer(anna)
    composer = anna.locator("#conversation .composer")
    box = composer.locator("textarea")
    composer.locator("select.canned").select_option(label="Greeting")
    expect(box).to_have_value(re.compile(r"^Hello Visitor [\w-]{6}, this is Anna\.$"))
    composer.locator(".kb-query").fill("return")
    composer.locator(".kb-query").press("Enter")
    composer.locator(".kb-results button.kb-insert").click()
    expect(box).to_have_value(re.compile(r"this is Anna\.Returns are free within 30 days\.$"))
    # The support queue's script from the config, beside the conversation.
    anna.locator(".tabs .tab[data-tab=script]").click()
    expect(anna.locator("#tab-script ol.script li")).to_contain_text(["Greet the customer by name."])


# -- layout -------------------------------------------------------------------------------------------


@sqlite_only
def test_usable_on_a_1366x768_laptop(team, browsers) -> None:  # noqa: ANN001
    anna = browsers("anna")
    anna.set_viewport_size({"width": 1366, "height": 768})
    sign_in(anna, "anna")
    customer = browsers("customer")
    open_widget(customer)
    customer_sends(customer, "small screen test")
    take_offer(anna)
    assert anna.evaluate("document.documentElement.scrollWidth") <= 1366
    assert anna.evaluate("document.documentElement.scrollHeight") <= 768
    for selector in (
        "#presence",
        "#open-search",
        ".logout button",
        "#work li.work",
        "#conversation .btn-close",
        "#conversation .btn-transfer",
        "#conversation .composer textarea",
        "#conversation .composer button[type=submit]",
        "#tab-contact .card-name",
    ):
        box = anna.locator(selector).bounding_box()
        assert box is not None, selector
        assert box["x"] >= 0 and box["y"] >= 0, selector
        assert box["x"] + box["width"] <= 1366 and box["y"] + box["height"] <= 768, selector


@sqlite_only
def test_the_agent_sees_the_customer_typing(team, browsers) -> None:  # noqa: ANN001
    anna = sign_in(browsers("anna"), "anna")
    customer = browsers("customer")
    open_widget(customer)
    customer_sends(customer, "question")
    take_offer(anna)
    typing = anna.locator("#conversation .typing")
    expect(typing).to_be_hidden()
    customer.locator("#callyard-chat textarea").press_sequentially("and another th")
    expect(typing).to_have_text("Customer is typing…")
    expect(typing).to_be_visible()
    customer.locator("#callyard-chat textarea").press_sequentially("ing")
    customer.locator("#callyard-chat form button[type=submit]").click()
    expect(anna.locator("#conversation li.msg-in .msg-body")).to_have_text(["question", "and another thing"])
    expect(typing).to_be_hidden()
