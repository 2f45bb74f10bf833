from __future__ import annotations

import pytest
from harness import init_workdir


@pytest.fixture
def server(tmp_path, db_url):  # noqa: ANN001, ANN201
    """A running Callyard on a fresh database (SQLite and PostgreSQL), with agents anna and bob."""
    srv = init_workdir(tmp_path, db_url)
    srv.add_agent("anna")
    srv.add_agent("bob")
    srv.start()
    yield srv
    srv.stop()
