"""SQLite's log checkpoints, taken off the core's commits (callyard.wal): the store's connections
never checkpoint once the checkpointer took over, and the checkpointer does, from a thread."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from callyard.store import Store
from callyard.wal import WalCheckpointer

PAGES = 1500  # more than SQLite's default autocheckpoint (1,000 pages)


def write_pages(store: Store, count: int) -> None:
    # One 4 KiB row per transaction: each commit appends about a page to the log.
    store.db.execute_sql("CREATE TABLE IF NOT EXISTS filler (body BLOB)")
    for _ in range(count):
        with store.atomic():
            store.db.execute_sql("INSERT INTO filler (body) VALUES (randomblob(4000))")


def test_after_take_over_commits_leave_the_log_to_the_checkpointer(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'callyard.db'}")
    store.upgrade()
    with store.connection():  # a pooled connection opened before (the core's start makes some)
        assert store.db.execute_sql("PRAGMA wal_autocheckpoint").fetchone() == (1000,)
    checkpointer = WalCheckpointer(store.db)
    checkpointer.take_over()
    try:
        with store.connection():
            assert store.db.execute_sql("PRAGMA wal_autocheckpoint").fetchone() == (0,)
            write_pages(store, PAGES)
        # No commit checkpointed: the log holds every page since, and one checkpoint copies them all.
        busy, pages, copied = checkpointer.checkpoint()
        assert (busy, copied) == (0, pages) and pages > PAGES
        # Copied back, the log starts over: the next writes are the only pages in it.
        with store.connection():
            write_pages(store, 10)
        busy, pages, copied = checkpointer.checkpoint()
        assert busy == 0 and 10 <= pages < 100 and copied == pages
        with store.connection():
            assert store.db.execute_sql("SELECT count(*) FROM filler").fetchone() == (PAGES + 10,)
    finally:
        checkpointer.close()
        store.close()


def test_without_a_checkpointer_commits_checkpoint_as_sqlite_does_by_default(tmp_path: Path) -> None:
    # What the core avoids: the commit that takes the log past 1,000 pages copies it back itself.
    store = Store(f"sqlite:///{tmp_path / 'callyard.db'}")
    store.upgrade()
    try:
        with store.connection():
            write_pages(store, PAGES)
        checkpointer = WalCheckpointer(store.db)
        _busy, pages, _copied = checkpointer.checkpoint()
        checkpointer.close()
        assert pages < 1000
    finally:
        store.close()


def test_the_core_s_greenlet_checkpoints_from_a_thread_and_outlives_a_failure(tmp_path: Path) -> None:
    # gevent code: run in a child process, so this one stays gevent-free (see test_push_queue).
    child = subprocess.run(
        [sys.executable, __file__, str(tmp_path / "callyard.db")], capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stdout + child.stderr
    assert "checkpointing the SQLite log failed (1 in a row)" in child.stderr
    assert "checkpoints from a thread: ok" in child.stdout


def run_in_child(path: str) -> None:
    from gevent import monkey

    monkey.patch_all()
    import logging
    import threading

    import gevent

    logging.basicConfig(level=logging.INFO)
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    checkpointer = WalCheckpointer(store.db, every=0.01)
    checkpointer.take_over()
    threads: list[str] = []
    real = checkpointer.checkpoint

    def checkpoint() -> tuple[int, int, int]:
        threads.append(threading.current_thread().name)
        if len(threads) == 1:
            raise OSError("disk full")  # the first fails: logged, and the loop goes on
        return real()

    checkpointer.checkpoint = checkpoint  # type: ignore[method-assign]
    worker = gevent.spawn(checkpointer.run)
    with store.connection():
        write_pages(store, 50)
    deadline = gevent.get_hub().loop.now() + 30
    while checkpointer.checkpoints < 2 and gevent.get_hub().loop.now() < deadline:
        gevent.sleep(0.01)
    worker.kill()
    main = threading.main_thread().name
    assert checkpointer.checkpoints >= 2, checkpointer.checkpoints
    assert threads and main not in threads, threads  # never on the loop's own thread
    checkpointer.close()
    store.close()
    print("checkpoints from a thread: ok")


if __name__ == "__main__":
    run_in_child(sys.argv[1])
