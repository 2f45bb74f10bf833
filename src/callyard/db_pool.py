"""Pooled PostgreSQL connections that are handed out without a round trip.

peewee's PostgreSQL pool checks every connection it hands out with a ``SELECT 1``, and it does
so holding the pool's locks: under gevent (psycopg2 made cooperative) that round trip yields
with the locks held, so every borrow and every return in the process waited for it. At a
couple of hundred socket events a second the borrows queued up behind each other and the
pool ran dry with connections still waiting to be given back (issue 8's push benchmark).

Here a connection that was given back a moment ago is handed out on what the driver already
knows (closed, or its link in an unknown state); only one that sat in the pool for
``PING_AFTER_SECONDS`` is checked on the server first, as a restarted database or a dropped
link is likely then. A connection that died in between fails the one unit of work that uses
it, which rolls back and is reported; the pool then discards it (peewee does not reuse a
connection whose link is in an unknown state).

A transaction's ``BEGIN`` goes out with its first statement (``BEGIN; <statement>``, one
round trip), not on its own: peewee sends it alone, and a round trip on a loopback socket
costs the core more CPU than building the statement (an email's ingest is a handful of
statements, each transaction one round trip fewer). A transaction that sends nothing sends
no ``BEGIN`` and no ``COMMIT`` either. Every statement of the core goes through
``execute_sql``; one sent on a raw cursor inside a transaction would run outside it, so
nothing does that (see the test).
"""

from __future__ import annotations

import time
from typing import Any

import psycopg2.extensions
from playhouse.pool import PooledPostgresqlDatabase

# A connection idle in the pool longer than this is checked with a round trip before use.
PING_AFTER_SECONDS = 5.0


class PostgresqlPool(PooledPostgresqlDatabase):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # When each connection was given back, by id(connection); read and written under the
        # pool's lock (``_connect`` and ``_close`` hold it).
        self._returned_at: dict[int, float] = {}
        super().__init__(*args, **kwargs)

    def _is_closed(self, conn: Any) -> bool:
        returned = self._returned_at.pop(id(conn), None)
        if conn.closed or self._adapter.txn_status(conn) == self._adapter.txn_unknown:
            return True
        if returned is not None and time.monotonic() - returned < PING_AFTER_SECONDS:
            return False
        return super()._is_closed(conn)

    def begin(self, isolation_level: Any = None) -> None:
        if isolation_level or self._isolation_level:
            super().begin(isolation_level)
            return
        # Remembered with the connection it is for: one given back and replaced in between
        # (a unit of work that failed) must not start a transaction on the next one.
        self._state.begin_with = self.connection()

    def _take_begin(self) -> bool:
        pending = getattr(self._state, "begin_with", None)
        if pending is None:
            return False
        self._state.begin_with = None
        return pending is self._state.conn

    def execute_sql(self, sql: str, params: Any = None) -> Any:
        if self._take_begin():
            sql = "BEGIN; " + sql
        return super().execute_sql(sql, params)

    def commit(self) -> None:
        if not self._take_begin():  # a transaction that sent nothing has nothing to commit
            super().commit()

    def rollback(self) -> None:
        if not self._take_begin():
            super().rollback()

    def close(self) -> bool:
        self._state.begin_with = None  # the connection goes back: a BEGIN not sent is dropped
        return super().close()

    def _close(self, conn: Any, close_conn: bool = False) -> None:
        with self._pool_lock:
            super()._close(conn, close_conn)
            if not close_conn and not conn.closed:
                self._returned_at[id(conn)] = time.monotonic()

    def close_all(self) -> None:
        """Close this unit's connection and the idle ones; those in use too, unless they could be
        waiting on the server for a greenlet.

        Under gevent (psycogreen's wait callback) a connection in use may be mid-query for a
        suspended greenlet, holding its own lock: closing it from another greenlet blocks the
        whole process on that lock, for ever (a stopping core hung until it was killed). Such
        connections are left to close when their greenlet gives them back, or at exit.
        """
        if psycopg2.extensions.get_wait_callback() is None:
            super().close_all()
            return
        self.close()
        with self._pool_lock:
            self.close_idle()

    def _close_raw(self, conn: Any) -> None:
        self._returned_at.pop(id(conn), None)
        super()._close_raw(conn)
