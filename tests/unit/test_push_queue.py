"""Live pushes run from a queue of their own, in order; pushes about the same thing that are
still waiting are made once; one handler's events never stand in for another's."""

from __future__ import annotations

import subprocess
import sys

from callyard.events import CallStateChanged, Event


def test_pushes_run_in_order_and_waiting_ones_about_the_same_thing_are_made_once() -> None:
    # The queue is gevent code; it runs in a child process so this one stays gevent-free (the
    # browser tests that may run in this worker next need that).
    child = subprocess.run([sys.executable, __file__], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stdout + child.stderr
    assert "pushes in order" in child.stdout


def test_waiting_pushes_of_a_handler_that_makes_many_are_made_together_in_order() -> None:
    child = subprocess.run([sys.executable, __file__, "many"], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stdout + child.stderr
    assert "pushes together" in child.stdout


def test_importing_the_web_layer_does_not_import_gevent() -> None:
    # Only the core, a gevent process, makes a push queue; the browser tests' process imports
    # the web layer's modules and must stay gevent-free.
    code = "import sys, callyard.web, callyard.web.push_queue; print('gevent' in sys.modules)"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "False"


def run_in_child() -> None:
    import gevent

    from callyard.web.push_queue import PushQueue

    queue = PushQueue()
    seen: list[tuple] = []

    def call(e: Event) -> None:
        seen.append(("call", e.interaction_id, e.state))  # type: ignore[attr-defined]

    def agent(e: Event) -> None:
        seen.append(("agent", e.agent_id))  # type: ignore[attr-defined]

    def broken(_e: Event) -> None:
        raise RuntimeError("a push that fails")

    def every(e: Event) -> None:
        seen.append(("every", e.interaction_id, e.state))  # type: ignore[attr-defined]

    def with_db(handler):  # noqa: ANN001, ANN202 - like web.push's wrapper: one name for all
        def guarded(e: Event) -> None:
            handler(e)

        return guarded

    by_call = queue.defer(with_db(call), key=lambda e: e.interaction_id)  # type: ignore[attr-defined]
    # Keyed by agent: agent 1 and interaction 1 are different things.
    by_agent = queue.defer(with_db(agent), key=lambda e: e.agent_id)  # type: ignore[attr-defined]
    failing, unkeyed = queue.defer(broken), queue.defer(every)
    try:
        # Published without yielding, as a burst is: nothing has run yet.
        by_call(CallStateChanged(1, 1, "ringing"))
        by_agent(CallStateChanged(1, 1, "ringing"))
        failing(CallStateChanged(1, 1, "ringing"))
        by_call(CallStateChanged(2, 2, "ringing"))
        by_call(CallStateChanged(1, 1, "talking"))
        unkeyed(CallStateChanged(3, 3, "ringing"))
        unkeyed(CallStateChanged(3, 3, "talking"))
        assert seen == []
        with gevent.Timeout(5):
            while queue.waiting or len(seen) < 5:
                gevent.sleep(0.01)
        assert seen == [
            ("call", 1, "talking"),  # in the first one's place, made once, with the latest event
            ("agent", 1),
            ("call", 2, "ringing"),
            ("every", 3, "ringing"),
            ("every", 3, "talking"),
        ]
    finally:
        queue.stop()
    print("pushes in order")


def run_many_in_child() -> None:
    import gevent

    from callyard.web.push_queue import BATCH, PushQueue

    queue = PushQueue()
    calls: list[tuple] = []

    def one(e: Event) -> None:
        if e.state == "bad":  # type: ignore[attr-defined]
            raise RuntimeError("a push that fails")
        calls.append(("one", e.interaction_id))  # type: ignore[attr-defined]

    def many(events: list[Event]) -> None:
        if any(e.state == "bad" for e in events):  # type: ignore[attr-defined]
            raise RuntimeError("a batch with a push that fails")
        calls.append(("many", [e.interaction_id for e in events]))  # type: ignore[attr-defined]

    def other(e: Event) -> None:
        calls.append(("other", e.interaction_id))  # type: ignore[attr-defined]

    messages, others = queue.defer(one, many=many), queue.defer(other)

    def wait_until_done() -> None:
        with gevent.Timeout(5):
            while queue.waiting:
                gevent.sleep(0.01)
        gevent.sleep(0.05)

    try:
        for n in (1, 2, 3):
            messages(CallStateChanged(n, 1, "ok"))
        others(CallStateChanged(4, 1, "ok"))  # breaks the run: order is kept
        messages(CallStateChanged(5, 1, "ok"))
        messages(CallStateChanged(6, 1, "ok"))
        wait_until_done()
        assert calls == [("many", [1, 2, 3]), ("other", 4), ("many", [5, 6])], calls

        calls.clear()
        messages(CallStateChanged(7, 1, "ok"))  # alone: the one-event handler
        wait_until_done()
        assert calls == [("one", 7)], calls

        calls.clear()
        for n in range(BATCH + 2):
            messages(CallStateChanged(100 + n, 1, "ok"))
        wait_until_done()
        assert calls == [("many", list(range(100, 100 + BATCH))), ("many", [100 + BATCH, 101 + BATCH])]

        calls.clear()
        messages(CallStateChanged(8, 1, "ok"))
        messages(CallStateChanged(9, 1, "bad"))
        messages(CallStateChanged(10, 1, "ok"))
        wait_until_done()
        # The batch failed: each is pushed alone, and only the bad one is lost.
        assert calls == [("one", 8), ("one", 10)], calls

        # Two handlers deferred with one ``many`` share their runs (calls and interactions
        # come interleaved); a failed run falls back to each event's own handler.
        def two(e: Event) -> None:
            calls.append(("two", e.interaction_id))  # type: ignore[attr-defined]

        also = queue.defer(two, key=lambda e: e.interaction_id, many=many)  # type: ignore[attr-defined]
        calls.clear()
        messages(CallStateChanged(11, 1, "ok"))
        also(CallStateChanged(12, 1, "ok"))
        messages(CallStateChanged(13, 1, "ok"))
        wait_until_done()
        assert calls == [("many", [11, 12, 13])], calls
        calls.clear()
        also(CallStateChanged(14, 1, "ok"))
        messages(CallStateChanged(15, 1, "bad"))
        also(CallStateChanged(16, 1, "ok"))
        wait_until_done()
        assert calls == [("two", 14), ("two", 16)], calls
    finally:
        queue.stop()
    print("pushes together")


if __name__ == "__main__":
    if sys.argv[1:] == ["many"]:
        run_many_in_child()
    else:
        run_in_child()
