"""Starting a greenlet at once, ahead of what else is ready to run.

``gevent.spawn`` queues the new greenlet's start behind every greenlet and callback already
ready to run; under load (a core at half a core's CPU) that is several milliseconds of pushes,
switch events and chores. For the few things a person is waiting on (an agent's phone to ring
for a caller) ``start_now`` runs the new greenlet at once, until it first waits (sends its
command and waits for the answer, say), and the caller carries on afterwards, after what was
ready before it: it yields, in exchange.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gevent


def start_now(fn: Callable[..., Any], *args: Any) -> gevent.Greenlet:
    """Run ``fn(*args)`` in a new greenlet now, and return here once it waits or ends (and
    what was ready before has run). From the hub itself (a callback) it is a plain spawn."""
    greenlet = gevent.Greenlet(fn, *args)
    hub = gevent.get_hub()
    current = gevent.getcurrent()
    if current is hub:
        greenlet.start()
        return greenlet
    # The caller's turn comes back like a gevent.sleep(0)'s: queued behind what is ready now.
    hub.loop.run_callback(current.switch)
    # Into the new greenlet: its parent is the hub, which takes over when it waits or ends.
    greenlet.switch()
    return greenlet
