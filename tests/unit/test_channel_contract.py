"""Every registered channel keeps the adapter contract of ``callyard.channels.base``."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from callyard.channels.base import Adapter
from callyard.config import load


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_registered_channel_builds_an_adapter_that_keeps_the_contract(services):  # noqa: ANN001
    registered = {e.name: e for e in entry_points(group="callyard.channels")}
    assert "chat" in registered
    # Every channel switched on, so each builds its adapter (nothing starts here).
    env = {"CALLYARD_SERVER__SECRET_KEY": "k" * 32, "CALLYARD_CHANNELS__VOICE__ENABLED": "true"}
    config = load(None, env=env)
    for name, entry in registered.items():
        adapter = entry.load()(config, services)
        assert isinstance(adapter, Adapter), name
        assert adapter.name == name


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_switched_off_channel_builds_nothing(services):  # noqa: ANN001
    config = load(None, env={"CALLYARD_CHANNELS__CHAT__ENABLED": "false"})
    (chat,) = [e for e in entry_points(group="callyard.channels") if e.name == "chat"]
    assert chat.load()(config, services) is None
