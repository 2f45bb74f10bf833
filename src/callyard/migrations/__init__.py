"""Versioned schema migrations.

Each migration is a module ``mNNNN_<name>.py`` with ``VERSION``, ``NAME`` and
``upgrade(db, dialect)``. Migrations are frozen: once released, a migration's SQL never
changes, so a database built by the chain is the same whichever version it started from.
A model change is a new migration; ``tests/unit/test_migrations.py`` fails when the models
and the migrated schema disagree.

``upgrade()`` runs at start and from ``callyard db upgrade``. On PostgreSQL it holds an
advisory lock so two processes starting together do not migrate twice.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

import peewee as pw

from ..clock import utcnow

log = logging.getLogger(__name__)

# An arbitrary constant that names "the Callyard migration lock" among advisory locks.
_PG_LOCK_KEY = 0x43414C4C


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    upgrade: Callable[[pw.Database, str], None]


def discover() -> list[Migration]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("m"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.append(Migration(module.VERSION, module.NAME, module.upgrade))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migration versions must be 1..N without gaps, found {versions}")
    return found


def dialect_of(db: pw.Database) -> str:
    return "postgresql" if isinstance(db, pw.PostgresqlDatabase) else "sqlite"


def current_version(db: pw.Database) -> int:
    if "schema_version" not in db.get_tables():
        return 0
    row = db.execute_sql("SELECT MAX(version) FROM schema_version").fetchone()
    return row[0] or 0


def head() -> int:
    return discover()[-1].version


def upgrade(db: pw.Database, progress: Callable[[str], None] | None = None) -> list[int]:
    """Apply every pending migration, each in its own transaction. Returns what was applied."""
    dialect = dialect_of(db)
    applied: list[int] = []
    with db.connection_context():
        if dialect == "postgresql":
            db.execute_sql("SELECT pg_advisory_lock(%s)", (_PG_LOCK_KEY,))
        try:
            start = current_version(db)
            for migration in discover():
                if migration.version <= start:
                    continue
                if progress:
                    progress(f"applying migration {migration.version:04d} {migration.name}")
                log.info("applying migration %04d %s", migration.version, migration.name)
                with db.atomic():
                    migration.upgrade(db, dialect)
                    db.execute_sql(
                        "INSERT INTO schema_version (version, name, applied_at) VALUES (%s, %s, %s)"
                        if dialect == "postgresql"
                        else "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                        (migration.version, migration.name, utcnow()),
                    )
                applied.append(migration.version)
        finally:
            if dialect == "postgresql":
                db.execute_sql("SELECT pg_advisory_unlock(%s)", (_PG_LOCK_KEY,))
    return applied
