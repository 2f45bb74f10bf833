"""The `token` and `webhook` commands: help, a whole life cycle, and clean refusals."""

from __future__ import annotations

import pytest

from harness import Server, init_workdir
from test_cli import fails_cleanly

COMMANDS = [
    ("token",),
    ("token", "create"),
    ("token", "list"),
    ("token", "revoke"),
    ("webhook",),
    ("webhook", "add"),
    ("webhook", "list"),
    ("webhook", "remove"),
    ("webhook", "enable"),
    ("webhook", "disable"),
    ("webhook", "deliveries"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_integration_command_has_help(tmp_path, command):  # noqa: ANN001
    server = Server(tmp_path, f"sqlite:///{tmp_path / 'callyard.db'}")
    result = server.cli(*command, "--help", check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(" ".join(("Usage: python -m callyard", *command)) + " [OPTIONS]")
    assert not (tmp_path / "callyard.db").exists(), "--help touched the database"


def test_tokens_and_webhooks_from_the_command_line(tmp_path, db_url):  # noqa: ANN001
    workdir = init_workdir(tmp_path, db_url)
    created = workdir.cli("token", "create", "--role", "integrator", "--name", "crm sync")
    secret = created.stdout.strip()
    assert secret.startswith("cya_") and "shown only now" in created.stderr
    listed = workdir.cli("token", "list").stdout
    assert "crm sync" in listed and "integrator" in listed and "never used" in listed
    assert secret not in listed and secret[:12] in listed
    workdir.cli("token", "revoke", "1")
    assert "[revoked]" in workdir.cli("token", "list").stdout
    fails_cleanly(workdir.cli("token", "revoke", "99", check=False), "no token with id 99")
    fails_cleanly(workdir.cli("token", "create", "--role", "root", check=False), "root", status=2)

    added = workdir.cli("webhook", "add", "https://example.org/hook", "--event", "message.created")
    assert added.stdout.strip().startswith("whsec_")
    assert "https://example.org/hook" in workdir.cli("webhook", "list").stdout
    assert "webhook 1 disabled" in workdir.cli("webhook", "disable", "1").stdout
    assert "DISABLED" in workdir.cli("webhook", "list").stdout
    assert "webhook 1 enabled" in workdir.cli("webhook", "enable", "1").stdout
    assert "no deliveries yet" in workdir.cli("webhook", "deliveries", "1").stdout
    fails_cleanly(
        workdir.cli("webhook", "add", "ftp://example.org", "--event", "message.created", check=False),
        "http:// or https://",
    )
    fails_cleanly(
        workdir.cli("webhook", "add", "https://example.org", "--event", "party", check=False), "unknown event"
    )
    workdir.cli("webhook", "remove", "1")
    assert "no webhooks" in workdir.cli("webhook", "list").stdout
    fails_cleanly(workdir.cli("webhook", "remove", "1", check=False), "no webhook subscription with id 1")
