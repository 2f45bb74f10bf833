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


if __name__ == "__main__":
    run_in_child()
