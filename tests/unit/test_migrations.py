"""callyard.migrations: the versioned chain builds exactly the schema the models describe.

Runs on SQLite and PostgreSQL (the ``db_url`` fixture), since each has its own DDL.
"""

from __future__ import annotations

import peewee as pw
import pytest

from callyard import migrations
from callyard.models import MODELS
from callyard.store import Store


@pytest.fixture
def store(db_url):  # noqa: ANN001, ANN201
    store = Store(db_url)
    yield store
    store.close()


def type_family(data_type: str) -> str:
    """A column type as the database reports it, reduced to what both dialects can agree on."""
    t = data_type.lower()
    if t.startswith(("varchar", "character varying")):
        return "varchar"
    if t == "text":
        return "text"
    if t.startswith(("timestamp", "datetime")):
        return "datetime"
    if t == "boolean":
        return "bool"
    if t in ("integer", "int", "bigint", "serial"):
        return "int"
    return t


def expected_family(field: pw.Field, dialect: str) -> str:
    field_type = field.rel_field.field_type if isinstance(field, pw.ForeignKeyField) else field.field_type
    return {
        "AUTO": "int",
        "INT": "int",
        "BIGINT": "int",
        "VARCHAR": "varchar",
        "TEXT": "text",
        "DATETIME": "datetime",
        # SQLite has no boolean type: peewee stores booleans as INTEGER there
        "BOOL": "bool" if dialect == "postgresql" else "int",
    }[field_type]


def expected_indexes(model: type[pw.Model]) -> set[tuple[tuple[str, ...], bool]]:
    meta = model._meta
    found = set()
    for field in meta.sorted_fields:
        if field.primary_key:
            continue
        if field.unique:
            found.add(((field.column_name,), True))
        elif field.index:
            found.add(((field.column_name,), False))
    for names, unique in meta.indexes:
        found.add((tuple(meta.fields[n].column_name for n in names), unique))
    return found


def test_upgrade_on_an_empty_database_applies_every_version(store):
    assert store.version() == 0
    messages = []
    chain = migrations.discover()
    assert store.upgrade(messages.append) == [m.version for m in chain]
    assert store.version() == migrations.head() == len(chain)
    assert messages[:2] == ["applying migration 0001 initial", "applying migration 0002 agent_session_epoch"]
    assert messages == [f"applying migration {m.version:04d} {m.name}" for m in chain]
    with store.db.connection_context():
        rows = store.db.execute_sql("SELECT version, name FROM schema_version ORDER BY version").fetchall()
    assert [tuple(r) for r in rows] == [(m.version, m.name) for m in chain]


def test_upgrade_is_idempotent(store):
    head = migrations.head()
    assert store.upgrade() == list(range(1, head + 1))
    assert store.upgrade() == []
    assert store.upgrade() == []
    assert store.version() == head
    with store.db.connection_context():
        (count,) = store.db.execute_sql("SELECT COUNT(*) FROM schema_version").fetchone()
    assert count == head


def test_migrated_tables_are_exactly_the_models(store):
    store.upgrade()
    with store.db.connection_context():
        tables = set(store.db.get_tables())
    assert tables == {m._meta.table_name for m in MODELS}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_migrated_columns_equal_the_model_fields(store, model):
    store.upgrade()
    with store.db.connection_context():
        columns = store.db.get_columns(model._meta.table_name)
    actual = {c.name: (type_family(c.data_type), c.null, c.primary_key) for c in columns}
    expected = {
        f.column_name: (expected_family(f, store.dialect), f.null, f.primary_key)
        for f in model._meta.sorted_fields
    }
    assert actual == expected


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_migrated_indexes_and_foreign_keys_equal_the_model(store, model):
    store.upgrade()
    table = model._meta.table_name
    with store.db.connection_context():
        indexes = store.db.get_indexes(table)
        foreign_keys = store.db.get_foreign_keys(table)
    pk = model._meta.primary_key.column_name
    actual_indexes = {
        (tuple(i.columns), i.unique)
        for i in indexes
        if tuple(i.columns) != (pk,)  # PostgreSQL lists the pkey
    }
    assert actual_indexes == expected_indexes(model)
    actual_fks = {(fk.column, fk.dest_table, fk.dest_column) for fk in foreign_keys}
    expected_fks = {
        (f.column_name, f.rel_model._meta.table_name, f.rel_field.column_name)
        for f in model._meta.sorted_fields
        if isinstance(f, pw.ForeignKeyField)
    }
    assert actual_fks == expected_fks


def test_migration_versions_run_from_1_without_gaps():
    found = migrations.discover()
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert found[0].name == "initial"
