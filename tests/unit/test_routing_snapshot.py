"""What the router reads from the store, on SQLite and PostgreSQL: agents and waiting work as the
brain sees them, read for a few ids as for all; and which rows changed since the last look,
without reading back what the router itself just did."""

from __future__ import annotations

import pytest

from callyard import services as services_mod
from callyard.config import QueueConfig
from callyard.models import QUEUED, Agent, Interaction, Offer
from callyard.services import router as router_mod
from callyard.services.routing_snapshot import StoreWatch, agent_states, work_items

PASSWORD = "correct horse"

pytestmark = pytest.mark.usefixtures("cheap_passwords")


def add_agent(services, login, *, skills=None, capacity=None):  # noqa: ANN001, ANN201
    agent = services.agents.add(
        login, login.title(), PASSWORD, skills=skills or {"support": 5}, capacity=capacity
    )
    services.agents.set_presence(agent.id, "available")
    return agent


def ingest(services, thread: str, **kwargs) -> int:  # noqa: ANN001, ANN003
    return services.interactions.ingest(
        channel=kwargs.pop("channel", "chat"),
        identity=("chat_visitor", thread),
        body="hello",
        queue="support",
        thread_key=thread,
        external_id=f"{thread}:1",
        **kwargs,
    ).interaction_id


def pending(interaction_id: int) -> list[int]:
    return sorted(
        o.agent_id
        for o in Offer.select().where(Offer.interaction == interaction_id, Offer.state == "pending")
    )


def test_a_few_agents_and_items_read_as_in_a_full_read(services, clock):  # noqa: ANN001
    services.queues.sync([QueueConfig(name="support", strategy="ring-all", skills={"support": 1})])
    services.router.invalidate()
    anna = add_agent(services, "anna", skills={"support": 5, "billing": 2}, capacity={"chat": 2, "email": 3})
    ben = add_agent(services, "ben", capacity={"chat": 1})
    cleo = add_agent(services, "cleo")
    first = ingest(services, "v1")
    services.router.route()  # rings all three
    services.interactions.accept(anna.id, first)  # anna holds it: ben's and cleo's offers end
    clock.advance(60)
    services.interactions.close(anna.id, first)  # anna in wrap-up, one contact answered today
    second = ingest(services, "v2")
    services.router.route()  # rings ben and cleo (anna is in wrap-up)
    assert pending(second) == sorted([ben.id, cleo.id])
    now = clock()

    everyone = agent_states(None, now)
    for ids in ([anna.id], [ben.id, cleo.id], [cleo.id, anna.id, ben.id]):
        assert agent_states(set(ids), now) == {i: everyone[i] for i in ids}
    assert everyone[anna.id].skills == {"support": 5, "billing": 2}
    assert (everyone[anna.id].capacity["chat"], everyone[anna.id].capacity["email"]) == (2, 3)
    assert everyone[anna.id].wrap_up and everyone[anna.id].load == {"chat": 1}
    assert everyone[anna.id].contacts_today == 1 and everyone[anna.id].talk_seconds_today == 60.0
    assert everyone[ben.id].load == {"chat": 1}  # ringing counts

    Agent.update(enabled=False).where(Agent.id == cleo.id).execute()
    assert agent_states({cleo.id}, now) == {}
    assert set(agent_states(None, now)) == {anna.id, ben.id}

    services.interactions.reject(ben.id, second)
    services.interactions.reject(cleo.id, second)  # every ring ended: back in the queue
    third = ingest(services, "v3")
    items = work_items(None)
    for ids in ([second], [third], [third, second, first]):
        assert work_items(set(ids)) == {i: items[i] for i in ids if i in items}
    assert set(items) == {second, third}  # the first is not waiting any more
    assert items[second].tried_agents == frozenset({ben.id, cleo.id})


def test_the_watch_does_not_report_back_what_the_router_wrote(services, clock):  # noqa: ANN001
    add_agent(services, "anna")
    interaction_id = ingest(services, "v1")
    watch = StoreWatch()
    watch.mark_now()
    clock.advance(1)
    at = clock()
    Interaction.update(state="offered", updated_at=at).where(Interaction.id == interaction_id).execute()
    watch.wrote(interaction_id, at)
    items: set[int] = set()
    agents: set[int] = set()
    watch.changed_since(items, agents)
    assert (items, agents) == (set(), set())

    # Anyone writing the same row later (another process: no event) is reported as usual.
    watch.wrote(interaction_id, at)
    clock.advance(1)
    Interaction.update(state=QUEUED, updated_at=clock()).where(Interaction.id == interaction_id).execute()
    watch.changed_since(items, agents)
    assert items == {interaction_id}


def test_a_round_does_not_read_back_the_offer_it_made(services, clock, monkeypatch):  # noqa: ANN001
    anna = add_agent(services, "anna")
    services.router.route()  # index built
    clock.advance(1)
    interaction_id = ingest(services, "v1")
    read: list[tuple[str, set[int]]] = []

    def spy(name, real):  # noqa: ANN001, ANN202
        def read_and_note(ids, *args):  # noqa: ANN001, ANN002, ANN202
            read.append((name, set(ids or ())))
            return real(ids, *args)

        return read_and_note

    monkeypatch.setattr(router_mod, "agent_states", spy("agents", agent_states))
    monkeypatch.setattr(router_mod, "work_items", spy("items", work_items))
    clock.advance(1)  # the offer is the newest change the watch will meet
    services.router.route(chores=False)
    assert pending(interaction_id) == [anna.id]
    assert read == [("items", {interaction_id})]
    read.clear()
    clock.advance(1)
    services.router.route(chores=False)  # nothing changed but what this router did itself
    assert read == []


def test_another_process_changing_work_just_offered_is_picked_up(services, config, clock):  # noqa: ANN001
    anna = add_agent(services, "anna")
    clock.advance(1)
    ben = add_agent(services, "ben")
    interaction_id = ingest(services, "v1")
    services.router.route()
    assert pending(interaction_id) == [anna.id]
    # Another process (no event reaches this bus) hands it back: anna rejects it.
    clock.advance(1)
    other = services_mod.build(config, store=services.store, clock=clock)
    other.interactions.reject(anna.id, interaction_id)
    services.router.route()
    assert pending(interaction_id) == [ben.id]
