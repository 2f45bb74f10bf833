"""A customer who leaves before an agent takes their work: the interaction is abandoned."""

from __future__ import annotations

from callyard import events as ev
from callyard.models import Interaction, Offer


def _ingest(services, visitor="v1", text="hello"):  # noqa: ANN001, ANN202
    return services.interactions.ingest(
        channel="chat",
        identity=("chat_visitor", visitor),
        body=text,
        queue="support",
        thread_key=visitor,
    )


def test_queued_interaction_is_abandoned_when_the_customer_leaves(services):  # noqa: ANN001
    seen = []
    services.bus.subscribe(seen.append, ev.InteractionAbandoned)
    result = _ingest(services)

    assert services.interactions.customer_left("chat", "v1") == result.interaction_id

    interaction = Interaction.get_by_id(result.interaction_id)
    assert interaction.state == "abandoned" and interaction.ended_at is not None
    assert [e.interaction_id for e in seen] == [result.interaction_id]
    # Nothing is left for the router, and a new message opens a new interaction.
    assert services.router.route() == []
    assert _ingest(services, text="back again").interaction_id != result.interaction_id


def test_offered_interaction_is_abandoned_and_its_offer_withdrawn(services):  # noqa: ANN001
    anna = services.agents.add("anna", "Anna", "password1", skills={"support": 5})
    services.agents.set_presence(anna.id, "available")
    result = _ingest(services)
    services.router.route()
    withdrawn = []
    services.bus.subscribe(withdrawn.append, ev.OfferWithdrawn)

    services.interactions.customer_left("chat", "v1")

    assert Interaction.get_by_id(result.interaction_id).state == "abandoned"
    assert Offer.get(Offer.interaction == result.interaction_id).state == "withdrawn"
    assert [(e.agent_id, e.reason) for e in withdrawn] == [(anna.id, "customer left")]


def test_active_interaction_stays_with_its_agent(services):  # noqa: ANN001
    anna = services.agents.add("anna", "Anna", "password1", skills={"support": 5})
    services.agents.set_presence(anna.id, "available")
    result = _ingest(services)
    services.router.route()
    services.interactions.accept(anna.id, result.interaction_id)

    assert services.interactions.customer_left("chat", "v1") is None
    assert Interaction.get_by_id(result.interaction_id).state == "active"
