"""An agent's phone rings only for an offer still open: under load the controller's dial can come
after the router timed the offer out, and then ringing that phone would call an agent for a call
routing has already given to someone else (or queued again)."""

from __future__ import annotations

import pytest

from callyard.models import CallRecord, Offer

pytestmark = pytest.mark.usefixtures("cheap_passwords")


def offered_call(services):  # noqa: ANN001, ANN201
    anna = services.agents.add("anna", "Anna", "correct horse", skills={"support": 5})
    services.agents.set_presence(anna.id, "available")
    record = services.calls.enter("call-1", "79161234567", queue="support")
    services.calls.enqueue("call-1", "support")
    services.router.route()
    offer = Offer.get(Offer.interaction == record.interaction_id)
    assert (offer.agent_id, offer.state) == (anna.id, "pending")
    return anna, offer


def test_a_phone_rings_for_an_open_offer(services) -> None:  # noqa: ANN001
    anna, _ = offered_call(services)
    assert services.calls.ringing("call-1", anna.id, "leg-1") is True
    record = CallRecord.get(CallRecord.uuid == "call-1")
    assert (record.state, record.agent_id, record.agent_uuid) == ("ringing", anna.id, "leg-1")


def test_no_phone_rings_for_an_offer_ended_before_the_dial(services) -> None:  # noqa: ANN001
    anna, offer = offered_call(services)
    services.agents.set_presence(anna.id, "break", "lunch")  # as the dial waited its turn
    assert Offer.get_by_id(offer.id).state == "withdrawn"

    assert services.calls.ringing("call-1", anna.id, "leg-1") is False
    record = CallRecord.get(CallRecord.uuid == "call-1")
    assert (record.state, record.agent_id, record.agent_uuid) == ("queued", None, None)


def test_an_offer_that_timed_out_and_came_back_rings_one_phone_once(services, clock, config) -> None:  # noqa: ANN001
    anna, offer = offered_call(services)
    clock.advance(config.routing.offer_timeout + 1)
    services.router.route()  # the offer lapses and, a call's lapse not being her miss, comes back
    assert Offer.get_by_id(offer.id).state == "expired"
    again = Offer.get((Offer.interaction == offer.interaction_id) & (Offer.state == "pending"))
    assert again.agent_id == anna.id
    # Two dials now wait for her phone (the lapsed offer's and the new one's): one rings.
    assert services.calls.ringing("call-1", anna.id, "leg-1") is True
    assert services.calls.ringing("call-1", anna.id, "leg-2") is False
    assert CallRecord.get(CallRecord.uuid == "call-1").agent_uuid == "leg-1"


def test_no_phone_rings_for_another_agents_offer(services) -> None:  # noqa: ANN001
    _, _ = offered_call(services)
    bob = services.agents.add("bob", "Bob", "correct horse", skills={"support": 5})
    assert services.calls.ringing("call-1", bob.id, "leg-1") is False
    assert CallRecord.get(CallRecord.uuid == "call-1").state == "queued"
