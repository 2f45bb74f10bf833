"""The agent inbox's services: the event journal, accept races, transfer, wrap-up, stages and
labels, contact cards and merging, canned responses, the knowledge base, search and who sees what.

Runs on SQLite and PostgreSQL (the ``services`` fixture), like test_services.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from test_services import (
    active_with,
    add_agent,
    ingest,
    offered_to,
)

from callyard import events as ev
from callyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from callyard.models import (
    ACTIVE,
    CLOSED,
    OFFERED,
    QUEUED,
    AgentEvent,
    Contact,
    ContactCrm,
    Identity,
    Interaction,
    InteractionLog,
    Offer,
    Queue,
)
from callyard.services.agent_events import AgentEventLog
from callyard.services.library import fill_placeholders
from callyard.services.views import interaction_dict

pytestmark = pytest.mark.usefixtures("cheap_passwords")


@pytest.fixture
def published(services):  # noqa: ANN001, ANN201
    seen: list[ev.Event] = []
    services.bus.subscribe(seen.append)
    return seen


# -- the event journal -------------------------------------------------------------------------


def test_journal_numbers_each_agents_events_from_one_and_catches_up_exactly(services):
    anna = add_agent(services, "anna")
    bob = add_agent(services, "bob")
    journal = services.journal
    assert [journal.record(anna.id, "message", {"n": n}) for n in range(3)] == [1, 2, 3]
    assert journal.record(bob.id, "offer", {}) == 1  # numbers are per agent
    missed = journal.since(anna.id, 1)
    assert missed.complete and missed.last_seq == 3
    assert [(e["seq"], e["data"]) for e in missed.events] == [(2, {"n": 1}), (3, {"n": 2})]
    assert journal.since(anna.id, 3).events == [] and journal.since(anna.id, 3).complete


@pytest.mark.parametrize("since", [1, 3])
def test_a_catch_up_says_the_last_number_it_sent_when_a_push_is_journalled_while_it_reads(
    services, monkeypatch, since
):  # noqa: ANN001
    """The number a catch-up answers with is where the tab resumes: it must be that of the last
    event it holds, not one read before (or after) the events were."""
    anna = add_agent(services, "anna")
    journal = services.journal
    for n in range(3):
        journal.record(anna.id, "message", {"n": n})
    db = services.store.db
    execute_sql = db.execute_sql
    pushed: list[int] = []

    def with_a_push_in_between(sql, params=None, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        cursor = execute_sql(sql, params, *args, **kwargs)
        if not pushed and sql.lstrip().upper().startswith("SELECT") and "agent_event" in sql:
            pushed.append(0)  # the first read of the catch-up is done; another push comes now
            pushed.append(journal.record(anna.id, "message", {"n": 3}))
        return cursor

    monkeypatch.setattr(db, "execute_sql", with_a_push_in_between)
    missed = journal.since(anna.id, since)
    assert pushed == [0, 4] and missed.complete
    sent = [e["seq"] for e in missed.events]
    assert missed.last_seq == (sent[-1] if sent else since)
    assert sent == list(range(since + 1, missed.last_seq + 1))  # no gap up to it


def test_journal_numbers_stay_unique_when_another_process_journals_for_the_same_agent(services):
    """Numbers are taken from the store in the statement that writes them: a second journal (as
    in another process) interleaving with this one continues the same sequence."""
    anna = add_agent(services, "anna")
    journal = services.journal
    other = AgentEventLog(services.store, services.clock, retention_seconds=3600)  # another process
    assert journal.record(anna.id, "message", {"n": 1}) == 1
    assert journal.record(anna.id, "message", {"n": 2}) == 2
    assert other.record(anna.id, "message", {"n": 3}) == 3
    assert journal.record(anna.id, "message", {"n": 4}) == 4
    with services.store.atomic():  # inside a caller's transaction too
        assert other.record(anna.id, "message", {"n": 5}) == 5
    seqs = [e.seq for e in AgentEvent.select().where(AgentEvent.agent == anna.id).order_by(AgentEvent.seq)]
    assert seqs == [1, 2, 3, 4, 5]
    assert [e["data"]["n"] for e in journal.since(anna.id, 0).events] == [1, 2, 3, 4, 5]


def test_journal_pushes_for_one_agent_at_the_same_moment_get_distinct_consecutive_numbers(services):
    """Writers racing for the same agent's next number: the unique index refuses all but one,
    and the others take the following numbers; none is lost, none is numbered twice."""
    anna = add_agent(services, "anna")
    writers, each = 6, 5
    barrier = threading.Barrier(writers)
    got: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def write(w: int) -> None:
        try:
            with services.store.connection():
                barrier.wait(timeout=10)
                got[w] = [services.journal.record(anna.id, "message", {"w": w, "k": k}) for k in range(each)]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    numbers = sorted(n for seqs in got.values() for n in seqs)
    assert numbers == list(range(1, writers * each + 1))
    for seqs in got.values():  # one writer's pushes are numbered in the order it made them
        assert seqs == sorted(seqs)
    stored = {
        (e.payload["w"], e.payload["k"]): e.seq
        for e in AgentEvent.select().where(AgentEvent.agent == anna.id)
    }
    assert len(stored) == writers * each
    assert all(stored[(w, k)] == got[w][k] for w in got for k in range(each))


def test_journal_numbers_a_burst_of_pushes_in_one_go_per_agent_in_the_order_given(services):
    anna = add_agent(services, "anna")
    bob = add_agent(services, "bob")
    journal = services.journal
    other = AgentEventLog(services.store, services.clock, retention_seconds=3600)  # another process
    assert journal.record(anna.id, "message", {"n": 0}) == 1
    burst = [(anna.id, "message", {"n": 1}), (bob.id, "offer", {"n": 1}), (anna.id, "message", {"n": 2})]
    assert journal.record_many(burst) == [2, 1, 3]
    assert other.record_many([(bob.id, "message", {"n": 2}), (bob.id, "message", {"n": 3})]) == [2, 3]
    with services.store.atomic():  # inside a caller's transaction too
        assert journal.record_many([(anna.id, "message", {"n": 3}), (bob.id, "message", {"n": 4})]) == [4, 4]
    assert [(e["seq"], e["name"], e["data"]["n"]) for e in journal.since(anna.id, 0).events] == [
        (1, "message", 0),
        (2, "message", 1),
        (3, "message", 2),
        (4, "message", 3),
    ]
    assert [e["data"]["n"] for e in journal.since(bob.id, 0).events] == [1, 2, 3, 4]


def test_a_burst_numbered_while_another_writer_takes_the_next_number_takes_the_ones_after(
    services, monkeypatch
):
    anna = add_agent(services, "anna")
    journal = services.journal
    other = AgentEventLog(services.store, services.clock, retention_seconds=3600)
    db = services.store.db
    real = db.execute_sql
    raced: list[int] = []

    def execute_sql(sql, params=None, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if "FROM (VALUES" in sql and not raced:  # another process writes number 1 just before
            raced.append(other.record(anna.id, "message", {"n": "other"}))
        return real(sql, params, *args, **kwargs)

    monkeypatch.setattr(db, "execute_sql", execute_sql)
    assert journal.record_many([(anna.id, "message", {"n": 1}), (anna.id, "message", {"n": 2})]) == [2, 3]
    assert raced == [1]
    assert [e["data"]["n"] for e in journal.since(anna.id, 0).events] == ["other", 1, 2]


def test_work_items_read_together_are_those_read_one_by_one(services):
    anna = add_agent(services, "anna")
    bob = add_agent(services, "bob")
    first = active_with(services, anna)
    services.agents.set_presence(anna.id, "break", "lunch")  # the second chat goes to bob
    second = active_with(services, bob, thread="v2")
    services.interactions.reply(anna.id, first, "an answer")
    ingest(services, thread="v2", n=2, body="a question")
    with services.store.atomic():
        ContactCrm.create(
            contact=Interaction.get_by_id(second).contact_id,
            data={"tier": "gold"},
            fetched_at=services.clock(),
        )
    services.workdesk.add_label(anna, first, "vip")
    services.workdesk.add_label(anna, first, "billing")
    wanted = [(Interaction.get_by_id(first), anna.id), (Interaction.get_by_id(second), bob.id)]
    wanted.append((Interaction.get_by_id(first), bob.id))  # the same interaction, another agent's count
    together = services.inbox.work_items(wanted)
    assert together == [services.inbox.work_item(i, agent_id) for i, agent_id in wanted]
    assert together[0]["labels"] == ["billing", "vip"] and together[1]["labels"] == []
    assert together[1]["contact"]["crm"]["data"] == {"tier": "gold"} and together[0]["contact"]["crm"] is None
    assert together[1]["preview"] == "a question"
    assert services.inbox.work_items([]) == []  # a burst whose messages no agent sees yet


def test_work_item_reads_contact_crm_and_preview_as_the_plain_interaction_view_does(services):
    """The work item reads the contact's identities, CRM card and the preview in its own two
    queries; what it shows must be what ``interaction_dict`` shows reading them one by one."""
    anna = add_agent(services, "anna")
    interaction_id = active_with(services, anna)
    interaction = Interaction.get_by_id(interaction_id)
    with services.store.atomic():
        services.contacts.add_identity(interaction.contact_id, "phone", "+79990001122")
        ContactCrm.create(
            contact=interaction.contact_id, data={"tier": "gold", "n": 3}, fetched_at=services.clock()
        )
    services.interactions.reply(anna.id, interaction_id, "x" * 200)  # the preview is its start
    fresh = Interaction.get_by_id(interaction_id)
    item = services.inbox.work_item(fresh, anna.id)
    plain = interaction_dict(fresh)
    assert item["contact"] == plain["contact"]
    assert item["preview"] == plain["preview"] == "x" * 140
    assert item["contact"]["crm"]["data"] == {"tier": "gold", "n": 3}
    assert [i["kind"] for i in item["contact"]["identities"]] == ["chat_visitor", "phone"]
    empty = ingest(services, thread="v2").interaction_id  # no CRM card: None, as before
    assert services.inbox.work_item(Interaction.get_by_id(empty), anna.id)["contact"]["crm"] is None


def test_journal_cursor_from_the_future_or_beyond_retention_asks_for_a_reload(services, clock):
    anna = add_agent(services, "anna")
    journal = services.journal
    for n in range(3):
        journal.record(anna.id, "message", {"n": n})
    assert not journal.since(anna.id, 99).complete  # another database, or the journal was reset
    clock.advance(services.config.inbox.event_retention_seconds + 1)
    journal.record(anna.id, "message", {"n": 3})
    assert journal.prune(clock()) == 3
    assert not journal.since(anna.id, 1).complete  # 2 and 3 are gone: reload
    assert journal.since(anna.id, 3).complete  # but a tab that saw 3 still catches up
    clock.advance(services.config.inbox.event_retention_seconds + 1)
    journal.prune(clock())
    # The newest event is never pruned, so numbering never restarts (old tabs would drop new events).
    assert AgentEvent.select().where(AgentEvent.agent == anna.id).count() == 1
    assert journal.record(anna.id, "message", {}) == 5


# -- accept races ------------------------------------------------------------------------------


def test_two_agents_accepting_the_same_offer_at_once_exactly_one_wins(services, published):
    anna = add_agent(services, "anna")
    bob = add_agent(services, "bob")
    interaction_id = offered_to(services, anna)
    # As ring-all routing does: the same work offered to a second agent too.
    now = services.clock()
    Offer.create(
        interaction=interaction_id, agent=bob.id, created_at=now, expires_at=now + dt.timedelta(seconds=30)
    )
    # Rung at several agents, the interaction belongs to none of them until one accepts.
    Interaction.update(agent=None).where(Interaction.id == interaction_id).execute()
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def accept(agent) -> None:  # noqa: ANN001
        with services.store.connection():
            barrier.wait(timeout=10)
            try:
                results[agent.login] = services.interactions.accept(agent.id, interaction_id).agent_id
            except Conflict as exc:
                results[agent.login] = exc.error_id

    threads = [threading.Thread(target=accept, args=(a,)) for a in (anna, bob)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    winners = [login for login, r in results.items() if isinstance(r, int)]
    assert len(winners) == 1, results
    loser = "bob" if winners == ["anna"] else "anna"
    assert results[loser] == "offer-taken"
    current = Interaction.get_by_id(interaction_id)
    assert current.state == ACTIVE and current.agent.login == winners[0]
    states = {o.agent.login: o.state for o in Offer.select().where(Offer.interaction == interaction_id)}
    assert states == {winners[0]: "accepted", loser: "withdrawn"}
    withdrawn = [e for e in published if isinstance(e, ev.OfferWithdrawn)]
    assert [(e.agent_id, e.reason) for e in withdrawn] == [
        (anna.id if loser == "anna" else bob.id, "another agent accepted it")
    ]


# -- stale tabs --------------------------------------------------------------------------------


def test_acting_on_a_closed_interaction_is_refused_with_its_state(services):
    anna = add_agent(services, "anna")
    interaction_id = active_with(services, anna)
    services.interactions.close(anna.id, interaction_id)
    services.workdesk.wrap_up(anna.id, interaction_id, "resolved")
    for act in (
        lambda: services.interactions.reply(anna.id, interaction_id, "still there?"),
        lambda: services.interactions.close(anna.id, interaction_id),
        lambda: services.workdesk.wrap_up(anna.id, interaction_id, "resolved"),
        lambda: services.workdesk.transfer(anna.id, interaction_id, to_queue="support"),
    ):
        with pytest.raises(Conflict) as info:
            act()
        assert info.value.details["state"] == CLOSED


# -- wrap-up -----------------------------------------------------------------------------------


def test_wrap_up_needs_a_configured_disposition_and_keeps_it_with_the_notes(services):
    anna = add_agent(services, "anna")
    interaction_id = active_with(services, anna)
    services.interactions.close(anna.id, interaction_id)
    with pytest.raises(InvalidInput) as info:
        services.workdesk.wrap_up(anna.id, interaction_id, "made-up")
    assert info.value.error_id == "invalid-disposition"
    closed = services.workdesk.wrap_up(anna.id, interaction_id, "follow-up", "call back on Monday")
    assert closed.state == CLOSED
    item = services.inbox.work_item(closed, anna.id)
    assert item["disposition"] == "follow-up"
    entry = InteractionLog.get(
        InteractionLog.interaction == interaction_id, InteractionLog.kind == "wrapped_up"
    )
    assert (entry.value, entry.note, entry.agent_id) == ("follow-up", "call back on Monday", anna.id)


def test_wrap_up_deadline_follows_the_queue_wrap_up_time(services, clock):
    Queue.update(wrap_up_seconds=30).where(Queue.name == "support").execute()
    anna = add_agent(services, "anna")
    interaction_id = active_with(services, anna)
    closed = services.interactions.close(anna.id, interaction_id)
    item = services.inbox.work_item(closed, anna.id)
    assert item["wrap_up_until"] == (clock() + dt.timedelta(seconds=30)).isoformat() + "Z"


# -- transfer ----------------------------------------------------------------------------------


def test_transfer_to_an_agent_offers_it_to_them_with_the_note(services, published):
    anna = add_agent(services, "anna")
    bob = add_agent(services, "bob")
    interaction_id = active_with(services, anna)
    services.workdesk.transfer(anna.id, interaction_id, to_agent="bob", note="wants a refund")
    current = Interaction.get_by_id(interaction_id)
    assert (current.state, current.agent_id) == (OFFERED, bob.id)
    offered = [e for e in published if isinstance(e, ev.InteractionOffered)][-1]
    assert offered.agent_id == bob.id
    item = services.inbox.work_item(current, bob.id, Offer.get_by_id(offered.offer_id))
    assert item["transfer"]["note"] == "wants a refund" and item["transfer"]["agent_name"] == "Anna"
    assert services.interactions.accept(bob.id, interaction_id).agent_id == bob.id
    # Anna no longer holds it.
    with pytest.raises(Forbidden):
        services.interactions.reply(anna.id, interaction_id, "hi")


def test_transfer_to_an_unavailable_or_unknown_agent_is_refused_and_changes_nothing(services):
    anna = add_agent(services, "anna")
    add_agent(services, "carl", presence="break")
    interaction_id = active_with(services, anna)
    with pytest.raises(Conflict) as info:
        services.workdesk.transfer(anna.id, interaction_id, to_agent="carl")
    assert info.value.error_id == "agent-unavailable"
    with pytest.raises(NotFound):
        services.workdesk.transfer(anna.id, interaction_id, to_agent="nobody")
    with pytest.raises(InvalidInput):
        services.workdesk.transfer(anna.id, interaction_id, to_agent="anna")
    with pytest.raises(InvalidInput):
        services.workdesk.transfer(anna.id, interaction_id)
    assert Interaction.get_by_id(interaction_id).state == ACTIVE


def test_transfer_to_a_queue_requeues_there_for_routing(services):
    services.queues.add("billing", skills={"billing": 1})
    anna = add_agent(services, "anna")
    bea = add_agent(services, "bea", skills={"billing": 3})
    interaction_id = active_with(services, anna)
    services.workdesk.transfer(anna.id, interaction_id, to_queue="billing", note="invoice question")
    current = Interaction.get_by_id(interaction_id)
    assert (current.state, current.queue.name, current.agent_id) == (QUEUED, "billing", None)
    services.router.route()
    assert Interaction.get_by_id(interaction_id).agent_id == bea.id


# -- stages, labels, unread, SLA ----------------------------------------------------------------


def test_stages_and_labels_are_kept_with_their_history(services):
    anna = add_agent(services, "anna")
    interaction_id = active_with(services, anna)
    workdesk = services.workdesk
    assert services.inbox.work_item(Interaction.get_by_id(interaction_id), anna.id)["stage"] == "new"
    workdesk.set_stage(anna, interaction_id, "waiting-for-customer")
    workdesk.add_label(anna, interaction_id, "  VIP ")
    workdesk.add_label(anna, interaction_id, "refund")
    workdesk.remove_label(anna, interaction_id, "refund")
    with pytest.raises(InvalidInput):
        workdesk.set_stage(anna, interaction_id, "done-ish")
    with pytest.raises(InvalidInput):
        workdesk.add_label(anna, interaction_id, "<b>")
    item = services.inbox.work_item(Interaction.get_by_id(interaction_id), anna.id)
    assert (item["stage"], item["labels"]) == ("waiting-for-customer", ["vip"])
    assert [(e["kind"], e["value"]) for e in services.inbox.log(interaction_id)] == [
        ("stage", "waiting-for-customer"),
        ("label_added", "vip"),
        ("label_added", "refund"),
        ("label_removed", "refund"),
    ]
    bob = add_agent(services, "bob")
    with pytest.raises(Forbidden):
        workdesk.add_label(bob, interaction_id, "mine-now")


def test_unread_counts_and_the_sla_clock(services, clock):
    anna = add_agent(services, "anna")
    interaction_id = active_with(services, anna)
    started = clock()
    clock.advance(5)
    ingest(services, n=2, body="are you there?")
    current = Interaction.get_by_id(interaction_id)
    item = services.inbox.work_item(current, anna.id)
    assert item["unread"] == 2
    assert item["waiting_since"] == started.isoformat() + "Z"
    services.workdesk.mark_read(anna.id, interaction_id)
    services.interactions.reply(anna.id, interaction_id, "yes!")
    item = services.inbox.work_item(current, anna.id)
    assert item["unread"] == 0 and item["waiting_since"] is None
    clock.advance(5)
    ingest(services, n=3, body="great")
    item = services.inbox.work_item(Interaction.get_by_id(interaction_id), anna.id)
    assert item["unread"] == 1 and item["waiting_since"] == clock().isoformat() + "Z"


# -- contact cards -----------------------------------------------------------------------------


def test_contact_card_history_notes_and_merge(services):
    anna = add_agent(services, "anna")
    first = active_with(services, anna, thread="web-1")
    second_ingest = ingest(services, thread="web-2", identity=("email", "kim@example.com"))
    cards = services.contact_cards
    one = Interaction.get_by_id(first).contact_id
    two = Interaction.get_by_id(second_ingest.interaction_id).contact_id
    cards.add_note(anna, one, "prefers email")
    assert [c["id"] for c in cards.find(anna, "kim@")] == [two]
    card = cards.merge(anna, one, two)
    assert {(i["kind"], i["value"]) for i in card["contact"]["identities"]} == {
        ("chat_visitor", "web-1"),
        ("email", "kim@example.com"),
    }
    assert {h["id"] for h in card["history"]} == {first, second_ingest.interaction_id}
    assert [n["body"] for n in card["notes"]] == ["prefers email"]
    assert Contact.get_or_none(Contact.id == two) is None
    # The identity now leads to the kept contact: the next email joins their history.
    assert Identity.get(Identity.value == "kim@example.com").contact_id == one


def test_agents_see_only_their_and_their_queues_contacts(services):
    services.queues.add("billing", skills={"billing": 1})
    anna = add_agent(services, "anna")
    boss = add_agent(services, "boss", skills={}, role="supervisor")
    billing = ingest(services, thread="b-1", queue="billing")
    contact = Interaction.get_by_id(billing.interaction_id).contact_id
    with pytest.raises(Forbidden):
        services.contact_cards.card(anna, contact)
    with pytest.raises(Forbidden):
        services.inbox.peek(anna, billing.interaction_id)
    assert services.contact_cards.card(boss, contact)["contact"]["id"] == contact
    assert services.inbox.peek(boss, billing.interaction_id)["interaction"]["queue"] == "billing"


# -- canned responses and the knowledge base ---------------------------------------------------


def test_placeholders_fill_known_names_and_leave_the_rest():
    values = {"contact.name": "Kim Lee", "agent.name": "Anna"}
    assert fill_placeholders("Hi {{contact.name}}, {{ agent.name }} here. {{order.id}}", values) == (
        "Hi Kim Lee, Anna here. {{order.id}}"
    )


def test_canned_responses_shared_and_personal(services):
    anna = add_agent(services, "anna")
    bob = add_agent(services, "bob")
    boss = add_agent(services, "boss", role="supervisor")
    library = services.library
    with pytest.raises(Forbidden):
        library.add_canned(anna, "Hello", "Hi", shared=True)
    shared = library.add_canned(
        boss, "Greeting", "Hello {{contact.first_name}}, I am {{agent.name}}.", shared=True
    )
    mine = library.add_canned(anna, "Sign-off", "Bye!", shared=False)
    assert [c["title"] for c in library.canned(anna)] == ["Greeting", "Sign-off"]
    assert [c["title"] for c in library.canned(bob)] == ["Greeting"]
    with pytest.raises(NotFound):
        library.render_canned(bob, mine, None)
    with pytest.raises(Forbidden):
        library.delete_canned(anna, shared)
    interaction_id = active_with(services, anna)
    Contact.update(name="Kim Lee").execute()
    text = library.render_canned(anna, shared, Interaction.get_by_id(interaction_id))
    assert text == "Hello Kim, I am Anna."


def test_knowledge_base_search_and_edit_rights(services):
    anna = add_agent(services, "anna")
    bob = add_agent(services, "bob")
    library = services.library
    article = library.save_article(anna, "Refunds", "Refunds take 5 working days.")
    library.save_article(bob, "Shipping", "We ship within 24 hours.")
    assert [a["title"] for a in library.search_articles("refund")] == ["Refunds"]
    assert [a["title"] for a in library.search_articles("WORKING")] == ["Refunds"]
    with pytest.raises(Forbidden):
        library.save_article(bob, "Refunds", "Never.", article)
    library.save_article(anna, "Refunds", "Refunds take 3 working days.", article)
    assert library.search_articles("3 working")[0]["id"] == article


# -- search ------------------------------------------------------------------------------------


def test_search_by_each_criterion_within_what_the_agent_may_see(services, clock):
    services.queues.add("billing", skills={"billing": 1})
    anna = add_agent(services, "anna")
    bob = add_agent(services, "bob")
    boss = add_agent(services, "boss", skills={}, role="supervisor")
    mine = active_with(services, anna, thread="kim")
    services.workdesk.add_label(anna, mine, "vip")
    services.workdesk.set_stage(anna, mine, "resolved")
    clock.advance(86400)
    team = ingest(services, thread="lee", body="my invoice is wrong", identity=("email", "lee@example.com"))
    elsewhere = ingest(services, thread="zed", queue="billing", body="invoice please")
    search = services.inbox.search

    def ids(agent, **criteria):  # noqa: ANN001, ANN202
        return [r["id"] for r in search(agent, criteria)]

    assert ids(anna) == [team.interaction_id, mine]  # newest first; billing is not anna's
    assert ids(boss) == [elsewhere.interaction_id, team.interaction_id, mine]
    assert ids(anna, scope="mine") == [mine]
    assert ids(anna, contact="lee@") == [team.interaction_id]
    assert ids(anna, text="INVOICE") == [team.interaction_id]
    assert ids(anna, label="VIP") == [mine]
    assert ids(anna, stage="resolved") == [mine]
    assert ids(anna, stage="new") == [team.interaction_id]  # never staged: still new
    assert ids(anna, state="queued") == [team.interaction_id]
    assert ids(anna, channel="email") == []
    day_one = (clock() - dt.timedelta(days=1)).date().isoformat()
    assert ids(anna, date_from=day_one, date_to=day_one) == [mine]
    assert ids(bob, label="vip") == [mine]  # bob shares the support queue: team work
    with pytest.raises(InvalidInput):
        search(anna, {"date_from": "yesterday"})


class _Socket:
    """Flask-SocketIO's ``emit``, kept: what each room was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict]] = []

    def emit(self, event: str, data: dict, to: str, namespace: str) -> None:  # noqa: ARG002
        self.sent.append((to, event, data))


class _Pushes:
    """The push queue's ``defer``, kept: each event type's handler and the ``many`` it shares."""

    def __init__(self) -> None:
        self.deferred: list[tuple] = []

    def defer(self, handler, key=None, many=None):  # noqa: ANN001, ANN201
        self.deferred.append((handler, key, many))
        return lambda _e: None


def test_a_run_of_call_and_interaction_pushes_made_together_is_what_each_alone_would_send(services):
    from callyard.web import push

    anna, bob = add_agent(services, "anna"), add_agent(services, "bob")
    boss = add_agent(services, "boss", role="supervisor", presence="offline")
    first = active_with(services, anna)
    services.agents.set_presence(anna.id, "break", "lunch")
    second = active_with(services, bob, thread="v2")
    run = [
        ev.CallStateChanged(first, anna.id, "talking"),
        ev.InteractionAssigned(second, bob.id),
        ev.CallStateChanged(second, bob.id, "talking"),
        ev.CallStateChanged(first, None, "ended"),  # nobody's any more: the supervisor's alone
        ev.InteractionWrappedUp(first, anna.id),
    ]
    socket, pushes = _Socket(), _Pushes()
    push.init(socket, services, pushes)  # type: ignore[arg-type]
    # The pushes about interactions and about calls: two handlers sharing one ``many``.
    shares = [m for _h, _k, m in pushes.deferred if m is not None]
    moved = next(m for m in shares if shares.count(m) == 2)
    alone_handler = next(h for h, _k, m in pushes.deferred if m is moved)
    for event in run:
        alone_handler(event)
    alone = [(to, name, {k: v for k, v in data.items() if k != "seq"}) for to, name, data in socket.sent]
    socket.sent.clear()
    journal_before = {a.id: services.journal.last_seq(a.id) for a in (anna, bob, boss)}
    moved(run)
    together = [(to, name, {k: v for k, v in data.items() if k != "seq"}) for to, name, data in socket.sent]
    assert together == alone
    assert [(to, name) for to, name, _d in together] == [
        (push.room(anna.id), "call"),
        (push.room(boss.id), "call"),
        (push.room(bob.id), "interaction"),
        (push.room(bob.id), "call"),
        (push.room(boss.id), "call"),
        (push.room(boss.id), "call"),
        (push.room(anna.id), "interaction"),
    ]
    # numbered on in each journal, in order, one number per push
    seqs = [(to, data["seq"]) for to, _name, data in socket.sent]
    for agent in (anna, bob, boss):
        mine = [seq for to, seq in seqs if to == push.room(agent.id)]
        start = journal_before[agent.id]
        assert mine == list(range(start + 1, start + 1 + len(mine)))
