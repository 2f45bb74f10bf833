"""Live pushes off the path of the change that caused them.

A bus handler that pushes to browsers reads the work item from the store, journals it and
sends it: several queries for every step of every call. Run inline, that work sat between a
call entering a queue and its agent's phone being dialled, and under load it came first. Here
the handlers run in a greenlet of their own, in the order their events came, as soon as the
publishing greenlet lets go; routing and dialling never wait for them.

When pushes fall behind (a burst of calls), the ones still waiting about the same thing (the
same interaction for the same agent, say) are made once: each reads the state as it is when
it runs, so the last one says all the others would have, in one journal entry and one send.
A handler that can make many pushes at once (``many``) is given the run of its events that wait
one after the other, up to ``BATCH``: each read and the journal entries then cost one round
trip for all, where each push alone waited its turn for three (issue 8's push benchmark: the
queue, not the CPU, held messages back). Handlers deferred with the same ``many`` share their
runs: the pushes about calls and about interactions, which come interleaved, go together.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Hashable
from typing import Any

from callyard.events import Event

log = logging.getLogger(__name__)

Handler = Callable[[Event], None]
Many = Callable[[list[Event]], None]

BATCH = 50


class PushQueue:
    def __init__(self) -> None:
        # gevent is imported here, not with the module: only the core (a gevent process) makes a
        # queue, and importing the web layer must not pull gevent into other processes (the
        # browser tests' process must stay gevent-free).
        import gevent
        import gevent.event

        self._gevent = gevent
        # key -> (handler, event, many), oldest first; a new event under a waiting key takes its place
        self._pending: dict[Hashable, tuple[Handler, Event, Many | None]] = {}
        self._wake = gevent.event.Event()
        self._worker: Any = None  # the greenlet running the handlers
        self._unique = itertools.count()

    def defer(
        self, handler: Handler, key: Callable[[Event], Hashable] | None = None, many: Many | None = None
    ) -> Handler:
        """``handler`` run from the queue. ``key``: events with equal keys while one waits are
        pushed once (the latest); without it every event is pushed. ``many``: does what
        ``handler`` does for each of a list of events, in order (the events of every handler
        deferred with this ``many``)."""
        # Keys are per handler: one handler's events never stand in for another's.
        token = next(self._unique)

        def put(event: Event) -> None:
            k = (token, key(event)) if key is not None else (token, -next(self._unique))
            self._pending[k] = (handler, event, many)
            self._wake.set()
            if self._worker is None or self._worker.dead:
                self._worker = self._gevent.spawn(self._run)

        return put

    @property
    def waiting(self) -> int:
        return len(self._pending)

    def stop(self) -> None:
        """Drop what waits and end the worker (a new push starts it again)."""
        self._pending.clear()
        if self._worker is not None:
            self._worker.kill(timeout=2)
            self._worker = None

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while self._pending:
                k = next(iter(self._pending))
                handler, event, many = self._pending.pop(k)
                if many is None:
                    self._call(handler, event)
                else:
                    self._call_many(many, [(handler, event), *self._same_next(many)])
                self._gevent.sleep(0)  # dialling and routing go first

    def _same_next(self, many: Many) -> list[tuple[Handler, Event]]:
        """The events for ``many`` that wait next in line, taken off the queue (up to BATCH)."""
        taken: list[tuple[Handler, Event]] = []
        while self._pending and len(taken) < BATCH - 1:
            k = next(iter(self._pending))
            handler, event, its_many = self._pending[k]
            if its_many is not many:
                break
            del self._pending[k]
            taken.append((handler, event))
        return taken

    def _call_many(self, many: Many, run: list[tuple[Handler, Event]]) -> None:
        if len(run) == 1:
            self._call(*run[0])
            return
        try:
            many([event for _handler, event in run])
        except Exception:  # one bad event must not cost the others their push: one by one
            log.exception("pushes of %d events failed together; pushing them one by one", len(run))
            for handler, event in run:
                self._call(handler, event)

    @staticmethod
    def _call(handler: Handler, event: Event) -> None:
        try:
            handler(event)
        except Exception:  # one failed push never stops the others
            log.exception("push %s failed on %s", getattr(handler, "__qualname__", handler), event.name)
