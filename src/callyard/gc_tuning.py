"""Garbage collection for a server that holds thousands of live connections.

CPython's full collection walks every object the collector tracks. With 2,000 agents and their
customers connected the core holds about 700,000 of them, and each full collection took 0.3 to
0.9 s, every few seconds under load, holding up every push meanwhile (issue 8's push benchmark:
its p99 latency was those pauses).

What survives a full collection is long-lived (the app, connections, caches), so it is frozen
(``gc.freeze``): later collections walk only what came since. A frozen object that later
becomes part of a garbage cycle (a connection that closed) would never be freed, so every
``refresh_seconds`` the frozen objects are handed back (``gc.unfreeze``) and the next full
collection walks everything once. (Frozen objects also stay out of the collections at exit,
which took a stopping server 0.3 s and more.)

The youngest generation is collected after 7,000 new objects instead of 700: most of what a
push or a request makes is freed by its reference count before then, so fewer collections
run and fewer objects live long enough to be walked again. On the push benchmark this was not
clearly better than 700 (p99 51-130 ms over seven runs against 87-120 ms over four: runs vary a
lot on a shared 2-core machine); CPU per message was no worse.

Every ``YOUNG_EVERY`` seconds the core also looks at the youngest generation and collects it
when more than ``YOUNG_MOST`` objects piled up there, whatever the count. The count that
triggers its collections is allocations less deallocations, and a core pushing steadily frees
about what it makes: on the push benchmark a young collection came only now and then, found
100,000 objects (101,062 once) and took 60-70 ms, every push waiting meanwhile (max latency
170-184 ms, p99 35-50 ms; with the look: max 34-46 ms, p99 23-26 ms). Not a collection at every
look: survivors move up a generation each time, and the sooner they reach the oldest, the more
short-lived garbage a full collection freezes (the voice benchmark's memory grew 50 MiB a minute).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

YOUNG_THRESHOLD = 7000  # new objects between collections of the youngest generation (CPython: 700)
YOUNG_EVERY = 0.1  # seconds between the core's looks at the youngest generation
YOUNG_MOST = 10_000  # objects in it that make the look a collection


class LongLivedObjects:
    """``start()`` once the process has started; ``check()`` every second or so (the core
    calls it from a greenlet) for the periodic hand-back."""

    def __init__(self, refresh_seconds: float = 3600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._refresh = refresh_seconds
        self._clock = clock
        self._since = clock()

    def start(self) -> None:
        """Freeze what the start made (modules, the app): it lives as long as the process."""
        gc.collect()
        gc.freeze()
        gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        gc.callbacks.append(self._after_collection)
        self._since = self._clock()
        log.debug("gc: %d objects frozen at start", gc.get_freeze_count())

    @staticmethod
    def _after_collection(phase: str, info: dict[str, int]) -> None:
        # What a full collection kept is long-lived: frozen at once, rather than by a poll up to a
        # second later (the collection is over when the "stop" callbacks run). Measured on the
        # push benchmark, the difference was within the noise of a shared 2-core machine.
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()

    @staticmethod
    def collect_young() -> None:
        """Collect the youngest generation if more than ``YOUNG_MOST`` objects piled up in it
        (the core asks every ``YOUNG_EVERY`` s)."""
        if len(gc.get_objects(generation=0)) > YOUNG_MOST:
            gc.collect(0)

    def check(self) -> None:
        now = self._clock()
        if now - self._since >= self._refresh:
            frozen = gc.get_freeze_count()
            gc.unfreeze()  # the next full collection walks everything, and frees dead cycles
            self._since = now
            log.debug("gc: %d frozen objects handed back to the collector", frozen)
