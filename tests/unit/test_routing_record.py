"""What the router writes for a decision, on SQLite and PostgreSQL: an offer only while the store
still says what the brain saw (else the decision is stale: nothing written, the item and agents
read again), and every decision with the agents it looked at, stored as JSON with sorted keys."""

from __future__ import annotations

import json

import pytest

from callyard.config import QueueConfig
from callyard.models import ACTIVE, QUEUED, Agent, Interaction, Offer, Queue, RoutingDecision

PASSWORD = "correct horse"

pytestmark = pytest.mark.usefixtures("cheap_passwords")


def add_agent(services, login):  # noqa: ANN001, ANN201
    agent = services.agents.add(login, login.title(), PASSWORD, skills={"support": 5})
    services.agents.set_presence(agent.id, "available")
    return agent


def ingest(services, thread: str = "v1", queue: str = "support") -> int:  # noqa: ANN001
    return services.interactions.ingest(
        channel="chat",
        identity=("chat_visitor", thread),
        body="hello",
        queue=queue,
        thread_key=thread,
        external_id=f"{thread}:1",
    ).interaction_id


def offers(interaction_id: int) -> list[int]:
    return sorted(o.agent_id for o in Offer.select().where(Offer.interaction == interaction_id))


def decisions(interaction_id: int) -> list[str]:
    rows = RoutingDecision.select().where(RoutingDecision.interaction == interaction_id)
    return [d.action for d in rows.order_by(RoutingDecision.id)]


@pytest.fixture
def two_queues(services):  # noqa: ANN001, ANN201
    services.queues.sync(
        [QueueConfig(name="support", skills={"support": 1}), QueueConfig(name="sales", skills={"sales": 1})]
    )
    services.router.invalidate()
    services.router.route()  # the index is built before the store changes behind its back


def test_an_agent_gone_behind_the_routers_back_gets_no_offer(services, two_queues):  # noqa: ANN001
    anna = add_agent(services, "anna")
    services.router.route()
    # presence changed with no event and no presence_since (nothing tells the router)
    Agent.update(presence="break").where(Agent.id == anna.id).execute()
    interaction_id = ingest(services)
    services.router.route()  # the brain offers it to anna: stale, nothing written
    assert (offers(interaction_id), decisions(interaction_id)) == ([], [])
    assert Interaction.get_by_id(interaction_id).state == QUEUED
    services.router.route()  # anna and the item read again: anna is not there to offer to
    assert offers(interaction_id) == []
    assert services.router._brain.agent(anna.id).presence == "break"  # noqa: SLF001


def test_work_moved_to_another_queue_behind_the_routers_back_is_routed_there(services, two_queues):  # noqa: ANN001
    anna = add_agent(services, "anna")
    ben = services.agents.add("ben", "Ben", PASSWORD, skills={"sales": 5})
    services.agents.set_presence(ben.id, "available")
    services.agents.set_presence(anna.id, "break")
    interaction_id = ingest(services)
    services.router.route()  # waits in support: nobody there
    assert offers(interaction_id) == [] and decisions(interaction_id) == ["wait"]
    sales = Queue.get(Queue.name == "sales")
    # moved with no event and no updated_at: the router's index still has it in support
    Interaction.update(queue=sales.id).where(Interaction.id == interaction_id).execute()
    services.agents.set_presence(anna.id, "available")
    services.router.route()  # anna takes the most urgent work of support: stale
    assert offers(interaction_id) == [] and decisions(interaction_id) == ["wait"]
    services.router.route()  # read again: it waits in sales
    assert offers(interaction_id) == [ben.id]


def test_work_taken_behind_the_routers_back_is_not_offered(services, two_queues):  # noqa: ANN001
    add_agent(services, "anna")
    services.router.route()
    interaction_id = ingest(services)
    Interaction.update(state=ACTIVE).where(Interaction.id == interaction_id).execute()
    services.router.route()
    services.router.route()
    assert (offers(interaction_id), decisions(interaction_id)) == ([], [])
    assert Interaction.get_by_id(interaction_id).state == ACTIVE


def test_candidates_are_stored_as_json_with_sorted_keys(services):  # noqa: ANN001
    anna = add_agent(services, "anna")
    interaction_id = ingest(services)
    services.router.route()
    assert offers(interaction_id) == [anna.id]
    # the column's text as stored, not through JSONField
    (text,) = (
        RoutingDecision.select(RoutingDecision.candidates.cast("TEXT"))
        .where(RoutingDecision.interaction == interaction_id)
        .tuples()
        .get()
    )
    stored = json.loads(text)
    assert stored[0]["agent_id"] == anna.id and stored[0]["reason"] == "chosen"
    assert text == json.dumps(stored, sort_keys=True)  # what JSONField itself writes


def test_a_wait_is_stored_once_and_again_only_when_what_it_says_changes(services):  # noqa: ANN001
    anna = add_agent(services, "anna")
    services.agents.set_presence(anna.id, "break")
    interaction_id = ingest(services)
    services.router.route()
    services.router.invalidate()
    services.router.route()  # the same wait, decided again from a fresh index
    assert decisions(interaction_id) == ["wait"]

    # One written by the model itself (JSONField) reads the same as the router's own.
    first = RoutingDecision.get(RoutingDecision.interaction == interaction_id)
    RoutingDecision.delete().execute()
    RoutingDecision.create(**{**first.__data__, "id": None})
    services.router.invalidate()
    services.router.route()
    assert decisions(interaction_id) == ["wait"]

    # A new agent who cannot take it either: the candidates changed, so it is stored again.
    ben = services.agents.add("ben", "Ben", PASSWORD, skills={"sales": 5})
    services.agents.set_presence(ben.id, "available")
    services.router.invalidate()
    services.router.route()
    assert decisions(interaction_id) == ["wait", "wait"]
    names = [
        c["name"] for c in RoutingDecision.select().order_by(RoutingDecision.id.desc()).first().candidates
    ]
    assert sorted(names) == ["Anna", "Ben"]
