"""Live pushes off the path of the change that caused them.

A bus handler that pushes to browsers reads the work item from the store, journals it and
sends it: several queries for every step of every call. Run inline, that work sat between a
call entering a queue and its agent's phone being dialled, and under load it came first. Here
the handlers run in a greenlet of their own, in the order their events came, as soon as the
publishing greenlet lets go; routing and dialling never wait for them.

When pushes fall behind (a burst of calls), the ones still waiting about the same thing (the
same interaction for the same agent, say) are made once: each reads the state as it is when
it runs, so the last one says all the others would have, in one journal entry and one send.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Hashable
from typing import Any

from callyard.events import Event

log = logging.getLogger(__name__)

Handler = Callable[[Event], None]


class PushQueue:
    def __init__(self) -> None:
        # gevent is imported here, not with the module: only the core (a gevent process) makes a
        # queue, and importing the web layer must not pull gevent into other processes (the
        # browser tests' process must stay gevent-free).
        import gevent
        import gevent.event

        self._gevent = gevent
        # key -> (handler, event), oldest first; a new event under a waiting key takes its place
        self._pending: dict[Hashable, tuple[Handler, Event]] = {}
        self._wake = gevent.event.Event()
        self._worker: Any = None  # the greenlet running the handlers
        self._unique = itertools.count()

    def defer(self, handler: Handler, key: Callable[[Event], Hashable] | None = None) -> Handler:
        """``handler`` run from the queue. ``key``: events with equal keys while one waits are
        pushed once (the latest); without it every event is pushed."""
        # Keys are per handler: one handler's events never stand in for another's.
        token = next(self._unique)

        def put(event: Event) -> None:
            k = (token, key(event)) if key is not None else (token, -next(self._unique))
            self._pending[k] = (handler, event)
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
                handler, event = self._pending.pop(k)
                try:
                    handler(event)
                except Exception:  # one failed push never stops the others
                    log.exception(
                        "push %s failed on %s", getattr(handler, "__qualname__", handler), event.name
                    )
                self._gevent.sleep(0)  # dialling and routing go first
