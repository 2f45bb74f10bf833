"""The PostgreSQL pool hands out a connection that was just given back without a round trip
(peewee's pool sent ``SELECT 1`` first, holding the pool's locks: every borrow in the process
waited for it), and still replaces connections the server has dropped."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import peewee as pw
import psycopg2
import psycopg2.extensions
import pytest

from callyard import db_pool
from callyard.store import open_database

# The SQLite pool checks a connection without a round trip already: PostgreSQL only.
pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

SENT: list[str] = []


class CountingCursor(psycopg2.extensions.cursor):
    """Records every statement a connection of the pool sends."""

    def execute(self, query, vars=None):  # noqa: ANN001, ANN201, A002 - psycopg2's signature
        SENT.append(query if isinstance(query, str) else query.decode())
        return super().execute(query, vars)


@pytest.fixture
def pool(db_url: str) -> Iterator[pw.Database]:
    db = open_database(db_url)
    db.connect_params["cursor_factory"] = CountingCursor
    SENT.clear()
    yield db
    db.close_all()


def backend_pid(db: pw.Database) -> int:
    return db.connection().get_backend_pid()


def terminate(db_url: str, pid: int) -> None:
    """Drop a connection from the server's side, as a database restart does."""
    admin = psycopg2.connect(db_url)
    try:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
    finally:
        admin.close()


def test_a_connection_given_back_a_moment_ago_is_handed_out_without_a_round_trip(pool) -> None:  # noqa: ANN001
    pool.connect()
    first = backend_pid(pool)
    pool.close()
    SENT.clear()

    pool.connect()
    assert SENT == []  # nothing was sent to hand it out
    assert backend_pid(pool) == first  # the same connection, reused
    pool.close()


def test_a_connection_idle_for_a_while_is_checked_and_replaced_when_the_server_dropped_it(
    pool,
    db_url,
    monkeypatch,  # noqa: ANN001
) -> None:
    pool.connect()
    dropped = backend_pid(pool)
    pool.close()
    terminate(db_url, dropped)
    monkeypatch.setattr(db_pool, "PING_AFTER_SECONDS", 0.0)  # it has been idle "long enough"

    pool.connect()
    assert pool.execute_sql("SELECT 41 + 1").fetchone()[0] == 42
    assert backend_pid(pool) != dropped
    pool.close()


def test_a_connection_dropped_right_after_it_was_given_back_fails_once_and_is_discarded(
    pool,
    db_url,  # noqa: ANN001
) -> None:
    pool.connect()
    dropped = backend_pid(pool)
    pool.close()
    terminate(db_url, dropped)

    pool.connect()
    with pytest.raises((pw.OperationalError, pw.InterfaceError)):
        pool.execute_sql("SELECT 1")
    pool.close()

    pool.connect()
    assert pool.execute_sql("SELECT 41 + 1").fetchone()[0] == 42
    assert backend_pid(pool) != dropped
    pool.close()


def _scratch(pool: pw.Database) -> None:
    pool.execute_sql("CREATE TABLE IF NOT EXISTS pool_scratch (n integer)")


def _rows(db_url: str) -> list[int]:
    """What another connection sees: only what was committed."""
    other = psycopg2.connect(db_url)
    try:
        with other.cursor() as cur:
            cur.execute("SELECT n FROM pool_scratch ORDER BY n")
            return [n for (n,) in cur.fetchall()]
    finally:
        other.close()


def test_a_transaction_sends_its_begin_with_its_first_statement(pool, db_url) -> None:  # noqa: ANN001
    _scratch(pool)
    SENT.clear()
    with pool.atomic():
        pool.execute_sql("INSERT INTO pool_scratch VALUES (%s)", (1,))
        # Inside the transaction: another connection does not see it yet.
        assert _rows(db_url) == []
        pool.execute_sql("INSERT INTO pool_scratch VALUES (%s)", (2,))
    assert _rows(db_url) == [1, 2]
    assert SENT == [
        "BEGIN; INSERT INTO pool_scratch VALUES (%s)",
        "INSERT INTO pool_scratch VALUES (%s)",
        "COMMIT",
    ]


def test_a_rolled_back_transaction_leaves_nothing_and_an_empty_one_sends_nothing(pool, db_url) -> None:  # noqa: ANN001
    _scratch(pool)
    with pytest.raises(RuntimeError), pool.atomic():
        pool.execute_sql("INSERT INTO pool_scratch VALUES (%s)", (1,))
        with pool.atomic():  # a savepoint, rolled back with the rest
            pool.execute_sql("INSERT INTO pool_scratch VALUES (%s)", (2,))
        raise RuntimeError("the unit of work failed")
    assert _rows(db_url) == []
    SENT.clear()
    with pool.atomic():
        pass
    assert SENT == []
    conn = pool.connection()
    assert conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    # A statement after it runs on its own, outside any transaction.
    pool.execute_sql("INSERT INTO pool_scratch VALUES (%s)", (3,))
    assert conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    assert _rows(db_url) == [3]


def test_a_begin_not_sent_goes_with_the_connection_given_back(pool, db_url) -> None:  # noqa: ANN001
    _scratch(pool)
    first = backend_pid(pool)
    pool.begin()  # a transaction begun and abandoned (its unit of work ended)
    pool.close()
    pool.connect()
    assert backend_pid(pool) == first  # the same connection, handed out again
    pool.execute_sql("INSERT INTO pool_scratch VALUES (%s)", (4,))
    assert pool.connection().get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    assert _rows(db_url) == [4]


def test_closing_the_pool_while_a_greenlet_waits_on_the_database_does_not_hang(db_url) -> None:  # noqa: ANN001
    # A stopping core closed every pooled connection, in use or not. Under gevent a connection in
    # use may be waiting on the server for its greenlet (psycogreen); closing it from another
    # greenlet blocked the whole process on the connection's lock, for ever (servers were killed
    # after 10 s). Run in a child process: gevent and psycogreen patch what they load.
    child = subprocess.run(
        [sys.executable, "-c", _WAITING_GREENLET, db_url], capture_output=True, text=True, timeout=30
    )
    assert child.returncode == 0, child.stdout + child.stderr
    assert child.stdout.split() == ["closed", "done"]


_WAITING_GREENLET = """
from gevent import monkey
monkey.patch_all()
import sys
import gevent
from psycogreen.gevent import patch_psycopg
patch_psycopg()
from callyard.store import Store

store = Store(sys.argv[1])

def waits_on_the_database():
    with store.connection():
        store.db.execute_sql("SELECT pg_sleep(1)")

worker = gevent.spawn(waits_on_the_database)
gevent.sleep(0.3)  # the query is out; its greenlet waits
with gevent.Timeout(20):
    store.close()
print("closed")
worker.join(timeout=20)
print("done")
"""
