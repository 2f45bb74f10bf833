"""callyard.bus: handlers run in order; a failing one is logged and never stops the others."""

from __future__ import annotations

import logging

from callyard.bus import Bus
from callyard.events import ALL, AgentPresenceChanged, InteractionCreated, InteractionQueued


def test_handlers_get_their_event_types_in_subscription_order():
    bus = Bus()
    seen = []
    bus.subscribe(lambda e: seen.append(("created", e)), InteractionCreated)
    bus.subscribe(lambda e: seen.append(("any", e)))
    bus.subscribe(lambda e: seen.append(("queued", e)), InteractionQueued)
    created, queued = InteractionCreated(1, "chat"), InteractionQueued(1, "support")
    bus.publish([created, queued])
    assert seen == [("created", created), ("any", created), ("queued", queued), ("any", queued)]


def test_a_failing_handler_is_logged_and_does_not_stop_later_handlers(caplog):
    bus = Bus()
    seen = []

    def broken(event):  # noqa: ANN001, ANN202
        raise RuntimeError("listener bug")

    bus.subscribe(broken, InteractionCreated)
    bus.subscribe(lambda e: seen.append(("typed", e)), InteractionCreated)
    bus.subscribe(lambda e: seen.append(("any", e)))
    first, second = InteractionCreated(1, "chat"), InteractionCreated(2, "email")
    with caplog.at_level(logging.ERROR, logger="callyard.bus"):
        bus.publish([first, second])  # does not raise
    # later handlers ran, and so did the rest of the batch
    assert seen == [("typed", first), ("any", first), ("typed", second), ("any", second)]
    failures = [r for r in caplog.records if r.name == "callyard.bus"]
    assert len(failures) == 2
    for record in failures:
        assert record.levelno == logging.ERROR
        assert "interaction.created" in record.getMessage()
        assert record.exc_info is not None
        assert isinstance(record.exc_info[1], RuntimeError)


def test_a_failing_catch_all_handler_does_not_stop_typed_ones_on_the_next_event(caplog):
    bus = Bus()
    seen = []
    bus.subscribe(lambda e: 1 / 0)
    bus.subscribe(seen.append, AgentPresenceChanged)
    event = AgentPresenceChanged(1, "break", "lunch")
    with caplog.at_level(logging.ERROR, logger="callyard.bus"):
        bus.publish([event, event])
    assert seen == [event, event]
    assert sum(r.name == "callyard.bus" for r in caplog.records) == 2


def test_publish_with_no_handlers_is_fine():
    Bus().publish([InteractionCreated(1, "chat")])


def test_event_wire_names_are_noun_dot_past_verb_and_unique():
    names = [e.name for e in ALL]
    assert len(set(names)) == len(names)
    for name in names:
        noun, _, verb = name.partition(".")
        assert noun and verb and name == name.lower(), name


def test_a_handler_subscribed_first_runs_before_those_already_there():
    bus = Bus()
    seen = []
    bus.subscribe(lambda e: seen.append("push"), InteractionQueued)
    bus.subscribe(lambda e: seen.append("later"), InteractionQueued)
    bus.subscribe(lambda e: seen.append("dial"), InteractionQueued, first=True)
    bus.subscribe(lambda e: seen.append("other type"), InteractionCreated, first=True)
    bus.publish([InteractionQueued(1, "support")])
    assert seen == ["dial", "push", "later"]
