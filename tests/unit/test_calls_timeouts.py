"""CallService when routing timed a call out to voicemail or callback: once the caller left the
message or asked for the callback, the interaction waits in line again (same arrival time)."""

from __future__ import annotations

import pytest

from callyard import events as ev
from callyard.models import QUEUED, CallRecord, Interaction


@pytest.fixture
def published(services):  # noqa: ANN001, ANN201
    seen: list[ev.Event] = []
    services.bus.subscribe(seen.append)
    return seen


def queued_call(services, uuid: str = "call-1") -> CallRecord:  # noqa: ANN001
    services.calls.enter(uuid, "79161234567", queue="support")
    return services.calls.enqueue(uuid, "support")


@pytest.mark.parametrize("action", ["voicemail", "callback"])
def test_a_timed_out_call_goes_back_in_line_once_the_caller_did_it(services, published, action) -> None:  # noqa: ANN001
    record = queued_call(services)
    arrived = Interaction.get_by_id(record.interaction_id).queued_at
    assert services.interactions.time_out(record.interaction_id, action, "", "nobody could take it in time")
    assert Interaction.get_by_id(record.interaction_id).state == action
    published.clear()
    if action == "voicemail":
        done = services.calls.voicemail(record.uuid, "/tmp/voicemail-call-1.wav")
        assert (done.state, done.outcome) == ("ended", "voicemail")
    else:
        done = services.calls.callback(record.uuid)
        assert (done.state, done.outcome) == ("callback", "callback")
    interaction = Interaction.get_by_id(record.interaction_id)
    assert interaction.state == QUEUED and interaction.queued_at == arrived and interaction.ended_at is None
    assert [e for e in published if isinstance(e, ev.InteractionQueued)] == [
        ev.InteractionQueued(record.interaction_id, "support")
    ]


def test_back_in_line_is_only_for_timed_out_calls(services) -> None:  # noqa: ANN001
    record = queued_call(services)
    assert services.calls.back_in_line(record.interaction_id) is False  # still queued: nothing to do
    services.interactions.time_out(record.interaction_id, "callback", "", "queue closed")
    assert services.calls.back_in_line(record.interaction_id) is True
    assert Interaction.get_by_id(record.interaction_id).state == QUEUED
