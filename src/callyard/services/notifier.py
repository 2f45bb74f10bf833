"""Publishes the services' domain events: durable writers inside the change's transaction, the
bus's listeners once it has committed.

A service publishes from inside the transaction that made the change. Writers (the webhook
deliveries, the CRM lookup) then put their outbox rows in that same transaction, so a crash
right after the commit cannot lose them: the change and what must follow from it are kept or
lost together. The bus's listeners (pushes to browsers, the router, the voice dial) run after
the commit, when others can read the change. Published outside a transaction, the writers get a
transaction of their own and the listeners run at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from ..bus import Bus
from ..events import Event
from ..store import Store

log = logging.getLogger(__name__)

Writer = Callable[[list[Event]], None]


class Notifier:
    def __init__(self, bus: Bus, store: Store) -> None:
        self._bus = bus
        self._store = store
        self._writers: list[Writer] = []

    def add_writer(self, writer: Writer) -> None:
        """``writer`` gets every published batch inside the transaction that made the change; if
        it fails there, the change is rolled back with it."""
        self._writers.append(writer)

    def publish(self, events: Iterable[Event]) -> None:
        events = list(events)
        if not events:
            return
        store = self._store
        if store.in_transaction():
            for writer in self._writers:
                writer(events)
            store.after_commit(lambda: self._bus.publish(events))
            return
        if self._writers:
            self._write_alone(store, events)
        self._bus.publish(events)

    def _write_alone(self, store: Store, events: list[Event]) -> None:
        """Writers for events published after their change committed, in a transaction of their own."""
        for writer in self._writers:
            try:
                with store.connection(), store.atomic():
                    writer(events)
            except Exception:  # as a failing bus listener: logged, and the others still run
                log.exception("event writer %r failed on %s", writer, ", ".join(e.name for e in events))
