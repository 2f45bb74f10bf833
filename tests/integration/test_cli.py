"""The ``callyard`` command line, run as a real process on a scratch directory.

The commands only talk to the database through the kernel, so SQLite is enough here.
"""

from __future__ import annotations

import socket
import subprocess

import pytest

from harness import PASSWORD, Server, init_workdir

COMMANDS = [
    (),
    ("run",),
    ("init",),
    ("db",),
    ("db", "upgrade"),
    ("db", "status"),
    ("agent",),
    ("agent", "add"),
    ("agent", "list"),
    ("agent", "order"),
    ("agent", "passwd"),
    ("agent", "disable"),
    ("agent", "enable"),
    ("queue",),
    ("queue", "add"),
    ("queue", "list"),
]


@pytest.fixture
def workdir(tmp_path) -> Server:  # noqa: ANN001
    """A config file and an initialised SQLite database, no server running."""
    return init_workdir(tmp_path, f"sqlite:///{tmp_path / 'callyard.db'}")


def fails_cleanly(result: subprocess.CompletedProcess[str], *expected: str, status: int = 1) -> str:
    """The command failed with ``status`` and a line saying why, not a traceback. A refused
    value (status 1) is that one line; a usage error (status 2) comes after click's usage hint."""
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("Error: "), result.stderr
    if status == 1:
        assert len(lines) == 1, result.stderr
    for text in expected:
        assert text in lines[-1], (text, lines[-1])
    return lines[-1]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "callyard")
def test_every_command_has_help(tmp_path, command):  # noqa: ANN001
    server = Server(tmp_path, f"sqlite:///{tmp_path / 'callyard.db'}")
    result = server.cli(*command, "--help", check=False)
    assert result.returncode == 0, result.stderr
    # `python -m callyard` (how the harness runs it) names itself so; the installed script `callyard`.
    usage = " ".join(("Usage: python -m callyard", *command))
    assert result.stdout.startswith(usage + " [OPTIONS]"), result.stdout
    assert result.stderr == ""
    assert not (tmp_path / "callyard.db").exists(), "--help touched the database"


def test_init_twice_keeps_the_config_and_the_agents(workdir):  # noqa: ANN001
    config = workdir.config.read_text()
    assert 'secret_key = "' in config and 'secret_key = ""' not in config
    again = workdir.cli("init")
    assert "keeping it" in again.stdout and "no demo agent created" in again.stdout
    assert workdir.config.read_text() == config  # same secret: nobody is logged out
    logins = [line.split()[0] for line in workdir.cli("agent", "list").stdout.splitlines()]
    assert logins == ["demo"]


def test_agent_add_refuses_bad_input_with_one_line(workdir):  # noqa: ANN001
    added = workdir.cli(
        "agent",
        "add",
        "anna",
        "--name",
        "Anna Smith",
        "--skill",
        "support:5",
        "--skill",
        "billing:2",
        password=PASSWORD,
    )
    assert "agent anna added" in added.stdout

    fails_cleanly(workdir.cli("agent", "add", "carl", password="short", check=False), "at least 8 characters")
    fails_cleanly(workdir.cli("agent", "add", "Bad Login!", password=PASSWORD, check=False), "login")
    fails_cleanly(workdir.cli("agent", "add", "-x", password=PASSWORD, check=False), status=2)
    fails_cleanly(workdir.cli("agent", "add", "anna", password=PASSWORD, check=False), "already exists")
    fails_cleanly(workdir.cli("agent", "add", "ANNA", password=PASSWORD, check=False), "already exists")
    fails_cleanly(
        workdir.cli("agent", "add", "dora", "--skill", "support:11", password=PASSWORD, check=False),
        "level must be 1-10",
    )
    fails_cleanly(
        workdir.cli("agent", "add", "dora", "--skill", "support", password=PASSWORD, check=False),
        "NAME:LEVEL",
        status=2,
    )
    fails_cleanly(
        workdir.cli("agent", "add", "dora", "--capacity", "fax=2", password=PASSWORD, check=False),
        "unknown channel",
    )

    # Nothing of the failed ones was stored; the good one is listed with what it was given.
    rows = {line.split()[0]: line for line in workdir.cli("agent", "list").stdout.splitlines()}
    assert sorted(rows) == ["anna", "demo"]
    assert "Anna Smith" in rows["anna"] and "billing:2, support:5" in rows["anna"]
    assert "offline" in rows["anna"] and " agent " in rows["anna"]

    assert (
        "password of anna changed" in workdir.cli("agent", "passwd", "anna", password="a new long one").stdout
    )
    fails_cleanly(
        workdir.cli("agent", "passwd", "anna", password="short", check=False), "at least 8 characters"
    )
    fails_cleanly(
        workdir.cli("agent", "passwd", "nobody", password=PASSWORD, check=False), "no agent with login"
    )


def test_queues_are_added_checked_and_listed(workdir):  # noqa: ANN001
    added = workdir.cli(
        "queue", "add", "billing", "--priority", "5", "--skill", "billing:3", "--wrap-up", "30"
    )
    assert "queue billing added" in added.stdout

    fails_cleanly(
        workdir.cli("queue", "add", "vip", "--strategy", "fastest", check=False),
        "unknown strategy 'fastest'",
        "longest-idle",
        "most-skilled",
    )
    assert "queue lottery added" in workdir.cli("queue", "add", "lottery", "--strategy", "random").stdout
    fails_cleanly(workdir.cli("queue", "add", "billing", check=False), "already exists")
    fails_cleanly(workdir.cli("queue", "add", "no spaces", check=False), "'no spaces'")
    fails_cleanly(workdir.cli("queue", "add", "vip", "--skill", "vip:0", check=False), "level must be 1-10")
    fails_cleanly(workdir.cli("queue", "add", "vip", "--wrap-up", "-1", check=False), status=2)

    rows = {line.split()[0]: line for line in workdir.cli("queue", "list").stdout.splitlines()}
    assert sorted(rows) == ["billing", "lottery", "support"]  # support comes from the config file
    assert "random" in rows["lottery"]
    assert (
        "longest-idle" in rows["billing"]
        and "priority 5" in rows["billing"]
        and "billing:3" in rows["billing"]
    )


def test_db_upgrade_and_status(tmp_path):  # noqa: ANN001
    server = init_workdir(tmp_path, f"sqlite:///{tmp_path / 'callyard.db'}")
    server.env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'fresh.db'}"

    before = server.cli("db", "status").stdout
    assert before.startswith("database: 0, code: ")
    head = before.split("code: ")[1].strip()
    first = server.cli("db", "upgrade").stdout
    assert "applying migration 0001 initial" in first and f"schema at version {head}" in first
    assert "nothing to do" not in first
    second = server.cli("db", "upgrade").stdout
    assert second.strip() == f"schema at version {head} (nothing to do)"
    assert server.cli("db", "status").stdout.strip() == f"database: {head}, code: {head}"


@pytest.mark.parametrize(
    ("env", "config_file", "expected"),
    [
        pytest.param({"CALLYARD_SERVER__PORT": "notaport"}, None, "server.port", id="port not a number"),
        pytest.param({"CALLYARD_SERVER__PORT": "70000"}, None, "server.port", id="port out of range"),
        pytest.param(
            {"CALLYARD_ROUTING__OFFER_TIMEOUT": "0"}, None, "routing.offer_timeout", id="no offer time"
        ),
        pytest.param(
            {"CALLYARD_CHANNELS__CHAT__ENABLED": "maybe"},
            None,
            "channels.chat.enabled",
            id="boolean not a boolean",
        ),
        pytest.param(
            {"DATABASE_URL": "mysql://db/callyard"}, None, "database.url", id="database unsupported"
        ),
        pytest.param({}, "[server]\ncolour = 'blue'", "server.colour", id="unknown key"),
        pytest.param({}, "[routng]\noffer_timeout = 5", "'routng'", id="unknown section"),
        pytest.param({}, "[server", "not valid TOML", id="not TOML"),
    ],
)
def test_run_with_a_bad_config_exits_with_a_message(workdir, env, config_file, expected):  # noqa: ANN001
    if config_file is not None:
        path = workdir.workdir / "bad.toml"
        path.write_text(config_file + "\n")
        workdir.env["CALLYARD_CONFIG"] = str(path)
    workdir.env.update(env)
    fails_cleanly(workdir.cli("run", "--port", "0", check=False), expected)


def test_unreachable_database_is_reported_without_the_password(workdir):  # noqa: ANN001
    workdir.env["DATABASE_URL"] = "postgresql://callyard:s3cret-pw@127.0.0.1:1/callyard"
    for command in (("agent", "list"), ("run", "--port", "0")):
        result = workdir.cli(*command, check=False)
        # One message (psycopg2's own reason may add a hint line), no traceback, no password.
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith(
            "Error: cannot reach the database at postgresql://callyard:***@127.0.0.1:1/"
        )
        assert "Traceback" not in result.stderr and "s3cret-pw" not in result.stdout + result.stderr


def test_run_on_a_taken_port_says_so_and_starts_nothing(workdir):  # noqa: ANN001
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = fails_cleanly(workdir.cli("run", "--port", str(port), check=False), f"127.0.0.1:{port}")
    assert "--port" in line


def test_agent_order_sets_the_top_down_position(workdir):  # noqa: ANN001
    workdir.cli("agent", "add", "anna", "--skill", "support:5", password=PASSWORD)
    assert "position 3" in workdir.cli("agent", "order", "anna", "3").stdout
    fails_cleanly(workdir.cli("agent", "order", "nobody", "1", check=False), "no agent with login 'nobody'")
    fails_cleanly(workdir.cli("agent", "order", "anna", "-1", check=False), status=2)
