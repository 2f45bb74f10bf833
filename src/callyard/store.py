"""The store: one peewee database, opened from a URL, with its schema kept up to date."""

from __future__ import annotations

import contextlib
import logging
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

    def atomic(self):  # noqa: ANN201 - peewee's transaction context
        """A transaction (a savepoint when nested).

        On SQLite it takes the write lock at BEGIN (IMMEDIATE): a transaction that reads and
        then writes would otherwise fail with "database is locked" when another writer got
        there in between, instead of waiting its turn.
        """
        if self.dialect == "sqlite" and not self.db.in_transaction():
            return self.db.atomic(lock_type="IMMEDIATE")
        return self.db.atomic()

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
