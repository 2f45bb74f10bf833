"""The in-process event bus: tells listeners (web pushes, the router, the outbox) what changed.

Handlers run synchronously, in subscription order, after the change was committed. A failing
handler is logged and never stops the others: one broken listener must not break a reply.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable

from .events import Event

log = logging.getLogger(__name__)

Handler = Callable[[Event], None]


class Bus:
    def __init__(self) -> None:
        self._handlers: dict[type[Event] | None, list[Handler]] = defaultdict(list)

    def subscribe(self, handler: Handler, *event_types: type[Event], first: bool = False) -> None:
        """Call ``handler`` for the given event types, or for every event when none are given.

        ``first`` puts it before the handlers already there, for one that someone is waiting on
        (the voice controller dials an agent while the caller listens to hold music; the inbox
        pushes can come a moment later)."""
        for event_type in event_types or (None,):
            if first:
                self._handlers[event_type].insert(0, handler)
            else:
                self._handlers[event_type].append(handler)

    def publish(self, events: Iterable[Event]) -> None:
        events = list(events)
        for event in events:
            for handler in (*self._handlers.get(type(event), ()), *self._handlers.get(None, ())):
                try:
                    handler(event)
                except Exception:
                    log.exception("event handler %r failed on %s", handler, event.name)
