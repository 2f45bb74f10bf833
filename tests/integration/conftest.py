from __future__ import annotations

import pytest

from harness import running


@pytest.fixture
def server(tmp_path, db_url):  # noqa: ANN001, ANN201
    """A running Callyard on a fresh database (SQLite and PostgreSQL), with agents anna and bob."""
    with running(tmp_path, db_url, agents=("anna", "bob")) as srv:
        yield srv
