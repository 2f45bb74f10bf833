"""The core keeps long-lived objects out of the collector's full walks, and hands them back
now and then so garbage cycles among them are still freed. Run in a child process: freezing
objects in the test process would change it for the tests after."""

from __future__ import annotations

import subprocess
import sys


def test_survivors_of_a_full_collection_are_frozen_and_handed_back_later() -> None:
    child = subprocess.run([sys.executable, __file__], capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stdout + child.stderr
    assert "gc ok" in child.stdout


def run_in_child() -> None:
    import gc
    import weakref

    from callyard.gc_tuning import YOUNG_MOST, YOUNG_THRESHOLD, LongLivedObjects

    class Node:
        pass

    now = [0.0]
    policy = LongLivedObjects(refresh_seconds=60, clock=lambda: now[0])
    policy.start()
    at_start = gc.get_freeze_count()
    assert at_start > 0
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD > 700

    young = [Node() for _ in range(1000)]
    gc.collect(0)  # a young collection freezes nothing
    policy.check()
    assert gc.get_freeze_count() == at_start

    kept = young
    gc.collect()  # a full collection: the nodes survive it, and are frozen at once
    assert gc.get_freeze_count() >= at_start + 1000
    assert not any(gc.is_tracked(n) and n in gc.get_objects(generation=2) for n in kept[:3])

    # A cycle among frozen objects becomes garbage: not freed while frozen...
    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    gc.collect()  # a and b were live at that collection: frozen now
    del a, b
    gc.collect()
    assert gone() is not None
    # ... but once the frozen objects are handed back, the next full collection frees it.
    now[0] = 61
    policy.check()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert gone() is None

    # The timed look at the youngest generation: a few objects stay there; past YOUNG_MOST they
    # are collected now (and move on a generation), not only when the allocation count says so.
    gc.collect()
    few = [[n] for n in range(100)]
    policy.collect_young()
    assert any(o is few[0] for o in gc.get_objects(generation=0))
    gc.disable()  # as in the core, the allocation count does not trigger a collection meanwhile
    piled = [[n] for n in range(YOUNG_MOST + 1000)]
    assert len(gc.get_objects(generation=0)) > YOUNG_MOST
    policy.collect_young()
    gc.enable()
    assert len(gc.get_objects(generation=0)) < 100
    assert any(o is piled[0] for o in gc.get_objects(generation=1))
    print("gc ok")


if __name__ == "__main__":
    run_in_child()
