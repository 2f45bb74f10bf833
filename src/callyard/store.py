"""The store: one peewee database, opened from a URL, with its schema kept up to date."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import peewee as pw
from playhouse.db_url import parse as parse_db_url
from playhouse.pool import PooledSqliteDatabase

from . import migrations, models
from .db_pool import PostgresqlPool
from .errors import ConfigError, Unavailable

log = logging.getLogger(__name__)

SQLITE_PRAGMAS = {
    # WAL lets the web server read while the router writes.
    "journal_mode": "wal",
    "foreign_keys": 1,
    # Wait for a competing writer instead of failing at once.
    "busy_timeout": 10_000,
    "synchronous": "normal",
}


# Every request, socket event and background loop borrows a connection and gives it back.
POOL = {"max_connections": 32, "stale_timeout": 300, "timeout": 10}


def open_database(url: str) -> pw.Database:
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return PooledSqliteDatabase(path, pragmas=SQLITE_PRAGMAS, **POOL)
    if url.startswith(("postgresql://", "postgres://")):
        params = parse_db_url(url)
        return PostgresqlPool(params.pop("database"), **POOL, **params)
    raise ConfigError(f"database.url: {url!r} is not supported; use sqlite:/// or postgresql://")


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.db = open_database(url)
        models.database.initialize(self.db)
        # Per greenlet (gevent patches threading.local), like peewee's own connection state.
        self._local = threading.local()

    @property
    def dialect(self) -> str:
        return migrations.dialect_of(self.db)

    def check(self) -> None:
        """Connect once, so a wrong URL or a down server is reported at start, clearly."""
        try:
            with self.db.connection_context():
                self.db.execute_sql("SELECT 1")
        except pw.OperationalError as exc:
            raise Unavailable(
                f"cannot reach the database at {_redact(self.url)}: {exc}".strip(),
                error_id="database-unavailable",
            ) from exc

    def upgrade(self, progress: Callable[[str], None] | None = None) -> list[int]:
        return migrations.upgrade(self.db, progress)

    def version(self) -> int:
        with self.db.connection_context():
            return migrations.current_version(self.db)

    @contextlib.contextmanager
    def connection(self) -> Iterator[None]:
        """Borrow a connection for a unit of work (a request, an event, a loop iteration).

        Re-entrant: inside a unit that already holds one, it uses that one and leaves it open.
        """
        if not self.db.is_closed():
            yield
            return
        self.db.connect()
        try:
            yield
        finally:
            if not self.db.is_closed():
                self.db.close()

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """A transaction (a savepoint when nested).

        On SQLite it takes the write lock at BEGIN (IMMEDIATE): a transaction that reads and
        then writes would otherwise fail with "database is locked" when another writer got
        there in between, instead of waiting its turn.

        What ``after_commit`` registered inside runs once the outermost transaction has
        committed, and is dropped when it rolls back.
        """
        if self.db.in_transaction():
            pending = getattr(self._local, "after_commit", None)
            kept = len(pending) if pending is not None else 0
            try:
                with self.db.atomic():
                    yield
            except BaseException:
                if pending is not None:  # what the rolled-back savepoint registered goes with it
                    del pending[kept:]
                raise
            return
        begin = self.db.atomic(lock_type="IMMEDIATE") if self.dialect == "sqlite" else self.db.atomic()
        self._local.after_commit = pending = []
        try:
            with begin:
                yield
        finally:
            self._local.after_commit = None
        for callback in pending:
            callback()

    def in_transaction(self) -> bool:
        return self.db.in_transaction()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the transaction in progress has committed (at once outside one).

        For what must not happen unless the change is kept, and not before others can read it:
        the bus's listeners push to browsers and dial agents.
        """
        if not self.db.in_transaction():
            callback()
            return
        pending = getattr(self._local, "after_commit", None)
        if pending is None:
            # A transaction opened around Store.atomic (db.atomic() directly): its commit cannot be seen.
            raise RuntimeError("after_commit inside a transaction not opened with Store.atomic()")
        pending.append(callback)

    def lock(self, key: str) -> None:
        """Serialise transactions about the same thing (e.g. one conversation) until commit.

        PostgreSQL takes a transaction-scoped advisory lock; SQLite needs nothing more, as its
        write transactions already run one at a time.
        """
        if self.dialect == "postgresql":
            self.db.execute_sql("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))

    def close(self) -> None:
        """Give back this unit's connection and close every pooled one."""
        if not self.db.is_closed():
            self.db.close()
        self.db.close_all()


def _redact(url: str) -> str:
    """Hide a password in a URL before it is logged or shown."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url
