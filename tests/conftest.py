"""Shared fixtures: a fresh database (SQLite file or a PostgreSQL schema) per test, a settable clock.

Tests marked with the ``db_url`` fixture run twice, once on SQLite and once on PostgreSQL.
PostgreSQL comes from CALLYARD_TEST_POSTGRES_URL (default: the local `test` database); when it
cannot be reached those runs are skipped, unless CALLYARD_REQUIRE_POSTGRES=1 (CI sets it),
which turns the skip into a failure.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import threading
import uuid

import psycopg2
import pytest
from werkzeug.security import generate_password_hash

from callyard import config as config_mod
from callyard import services as services_mod
from callyard.services import agents as agents_module
from callyard.store import Store

PG_URL = os.environ.get("CALLYARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_available() -> str | None:
    try:
        psycopg2.connect(PG_URL.replace("postgresql://", "postgres://", 1), connect_timeout=3).close()
    except psycopg2.OperationalError as exc:
        return str(exc).strip()
    return None


@pytest.fixture(scope="session")
def pg_problem() -> str | None:
    return _pg_available()


class PgSchema:
    """A throwaway schema in the test database, so tests never see each other's rows."""

    def __init__(self) -> None:
        self.name = "cy_" + uuid.uuid4().hex[:12]
        self._conn = psycopg2.connect(PG_URL)
        self._conn.autocommit = True
        with self._conn.cursor() as cur:
            cur.execute(f'CREATE SCHEMA "{self.name}"')

    @property
    def url(self) -> str:
        sep = "&" if "?" in PG_URL else "?"
        return f"{PG_URL}{sep}options=-csearch_path%3D{self.name}"

    def drop(self) -> None:
        with self._conn.cursor() as cur:
            cur.execute(f'DROP SCHEMA "{self.name}" CASCADE')
        self._conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path, pg_problem):  # noqa: ANN001, ANN201
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'callyard.db'}"
        return
    if pg_problem:
        if os.environ.get("CALLYARD_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required but unreachable at {PG_URL}: {pg_problem}")
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {pg_problem}")
    schema = PgSchema()
    try:
        yield schema.url
    finally:
        schema.drop()


class FakeClock:
    """A clock tests move by hand; starts at a fixed, ordinary moment."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 2, 9, 0, 0)
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> dt.datetime:
        with self._lock:
            self.now += dt.timedelta(seconds=seconds)
            return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config(tmp_path) -> config_mod.Config:  # noqa: ANN001
    cfg = config_mod.load(None, env={})
    cfg.data_dir = str(tmp_path)  # attachments and other files stay inside the test
    cfg.queues = [config_mod.QueueConfig(name="support", skills={"support": 1})]
    return cfg


@pytest.fixture
def services(db_url, config, clock):  # noqa: ANN001, ANN201
    store = Store(db_url)
    store.upgrade()
    store.db.connect(reuse_if_open=True)
    svc = services_mod.build(config, store=store, clock=clock)
    svc.queues.sync(config.queues)
    yield svc
    store.close()


@pytest.fixture(autouse=True)
def no_leaked_threads():  # noqa: ANN201
    """Fail a test that leaves a non-daemon thread running: it would hang or haunt later tests."""
    before = set(threading.enumerate())
    yield
    leaked = []
    for thread in set(threading.enumerate()) - before:
        if not thread.daemon:
            thread.join(timeout=5)
            if thread.is_alive():
                leaked.append(thread.name)
    assert not leaked, f"threads left running: {leaked}"


@pytest.fixture
def cheap_passwords(monkeypatch):  # noqa: ANN001, ANN201
    """Real hashes, but with a low work factor: the default costs ~0.1 s per agent.

    check_password_hash reads the method from the stored hash, so authentication is unchanged.
    """
    monkeypatch.setattr(
        agents_module,
        "generate_password_hash",
        functools.partial(generate_password_hash, method="pbkdf2:sha256:1000"),
    )
