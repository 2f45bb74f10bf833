"""SQLite's write-ahead log checkpoints, done in a thread of their own.

In WAL mode every commit appends pages to the log, and by default the commit that takes the log
past 1,000 pages also copies them back into the database file and syncs both: a checkpoint.
In the core that commit is on the event loop, which stops for it: the voice benchmark's p99
(calls/s x the pages each call writes is ~2,500 pages a second, so a checkpoint or three every
second) was offers whose commit happened to be that one, 4 to 8 ms each.

So the core's connections never checkpoint (``wal_autocheckpoint = 0``) and a real thread from
gevent's pool does, every ``every`` seconds, on a connection of its own. SQLite lets the
thread's I/O run while the loop goes on (Python releases its lock around SQLite's work), and a
PASSIVE checkpoint never waits for a reader or a writer: it copies what it can, and the log
starts over from its beginning once a checkpoint got all of it. Other processes (the CLI) keep
SQLite's default; when the last connection to a database closes, SQLite checkpoints it anyway.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

log = logging.getLogger(__name__)

NO_AUTOCHECKPOINT = ("wal_autocheckpoint", 0)


class WalCheckpointer:
    def __init__(self, db: Any, every: float = 0.2) -> None:
        """``db``: the store's (pooled) peewee SqliteDatabase."""
        self._db = db
        self._every = every
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one checkpoint at a time, whichever thread runs it
        self.checkpoints = 0

    def take_over(self) -> None:
        """From now on the store's connections leave checkpoints to this one. Call it before
        anything else uses the store: pooled connections opened before are closed, so that
        every connection in use has the setting."""
        pragmas = [p for p in self._db._pragmas if p[0] != NO_AUTOCHECKPOINT[0]]  # noqa: SLF001
        self._db._pragmas = [*pragmas, NO_AUTOCHECKPOINT]  # noqa: SLF001
        self._db.close_idle()

    def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (1 if it could not finish, pages in the log, pages copied)."""
        with self._lock:
            if self._conn is None:
                # Used from whichever thread of the pool runs it, never two at once (the lock).
                self._conn = sqlite3.connect(self._db.database, check_same_thread=False, isolation_level=None)
            busy, pages, copied = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.checkpoints += 1
            return busy, pages, copied

    def run(self) -> None:
        """The core's greenlet: a checkpoint in a pool thread every ``every`` seconds."""
        import gevent  # here, not with the module: processes that never run the core stay gevent-free

        pool = gevent.get_hub().threadpool
        failures = 0
        while True:
            gevent.sleep(self._every * (2 ** min(failures, 6)))
            try:
                pool.apply(self.checkpoint)
                failures = 0
            except Exception:  # a full disk, say: writers still work, the log grows meanwhile
                failures += 1
                log.exception("checkpointing the SQLite log failed (%d in a row); trying again", failures)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
