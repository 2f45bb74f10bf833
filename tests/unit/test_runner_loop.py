"""The core's work loops (callyard.runner.loop): a woken router round first gathers what else
wakes it, so one round routes a burst; a wake after a quiet moment runs at once; nothing that
wakes it is missed."""

from __future__ import annotations

import subprocess
import sys


def test_a_burst_of_wakes_is_one_run_and_a_wake_during_a_run_is_another() -> None:
    # gevent code: run in a child process, so this one stays gevent-free (see test_push_queue).
    child = subprocess.run([sys.executable, __file__], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stdout + child.stderr
    assert "loop gathers" in child.stdout


def run_in_child() -> None:
    from gevent import monkey

    monkey.patch_all()
    import threading

    import gevent

    from callyard.runner import loop

    wake = threading.Event()
    runs: list[int] = []
    woken_in_run = threading.Event()

    def work() -> None:
        runs.append(len(runs) + 1)
        if len(runs) == 1:
            wake.set()  # something happens while the first run works: it gets a run of its own
            woken_in_run.set()

    # An hour between ticks: every run here is a woken one.
    worker = gevent.spawn(loop, "test", work, wake, 3600.0, 0.2)
    try:
        # A burst, published without yielding, and more during the gathering wait.
        for _ in range(5):
            wake.set()
        gevent.sleep(0.05)
        wake.set()
        with gevent.Timeout(10):
            while len(runs) < 2:
                gevent.sleep(0.01)
        gevent.sleep(0.5)  # longer than a gathering wait: a third run would have started
        assert woken_in_run.is_set()
        assert runs == [1, 2], runs
    finally:
        worker.kill()

    # A wake after a quiet moment runs at once, even with an hour to gather; the next wake,
    # right after that run, is gathered (it waits out the hour).
    quiet = threading.Event()
    later: list[int] = []
    worker = gevent.spawn(loop, "test", lambda: later.append(1), quiet, 3600.0, 3600.0)
    try:
        gevent.sleep(0.05)
        quiet.set()
        with gevent.Timeout(10):
            while not later:
                gevent.sleep(0.01)
        quiet.set()
        gevent.sleep(0.3)
        assert later == [1], later
    finally:
        worker.kill()
    print("loop gathers")


if __name__ == "__main__":
    run_in_child()
