"""start_now (callyard.greenlets): a greenlet started at once runs before what was already ready
to run, and its starter carries on after that, as from a gevent.sleep(0)."""

from __future__ import annotations

import subprocess
import sys


def test_a_greenlet_started_now_runs_ahead_of_what_was_ready_and_its_starter_after() -> None:
    # gevent code: run in a child process, so this one stays gevent-free (see test_push_queue).
    child = subprocess.run([sys.executable, __file__], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stdout + child.stderr
    assert "start_now: ok" in child.stdout


def run_in_child() -> None:
    import gevent
    import gevent.event

    from callyard.greenlets import start_now

    order: list[str] = []
    answer = gevent.event.Event()

    def dial() -> None:
        order.append("dial sent")
        answer.wait()  # waits for the phone: the starter goes on meanwhile
        order.append("dial answered")

    def round_() -> None:
        gevent.spawn(order.append, "was ready")  # queued before the dial starts
        dialling = start_now(dial)
        order.append("round goes on")
        answer.set()
        dialling.join()

    gevent.spawn(round_).join()
    assert order == ["dial sent", "was ready", "round goes on", "dial answered"], order
    # One that ends without waiting returns its result, and its starter still carries on.
    done = gevent.spawn(lambda: start_now(lambda: 42)).get()
    assert done.dead and done.value == 42
    # From the hub itself (a callback) it is a plain spawn.
    from_hub: list[gevent.Greenlet] = []
    gevent.get_hub().loop.run_callback(lambda: from_hub.append(start_now(order.append, "from the hub")))
    gevent.sleep(0.01)
    assert from_hub and from_hub[0].dead and order[-1] == "from the hub"
    print("start_now: ok")


if __name__ == "__main__":
    run_in_child()
