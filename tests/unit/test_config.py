"""callyard.config: defaults, then the TOML file, then the environment; every error names its key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from callyard import config
from callyard.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "callyard.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str = "", env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, text), env=env or {})
    assert info.value.error_id == "invalid-config"
    return str(info.value)


# -- loading ---------------------------------------------------------------------------------


def test_defaults_load_without_a_file():
    cfg = config.load(None, env={})
    assert cfg.source is None
    assert cfg.server.host == "127.0.0.1"
    assert cfg.server.port == 8080
    assert cfg.database.url == "sqlite:///callyard.db"
    assert cfg.routing.offer_timeout == 30
    assert cfg.outbox.max_attempts == 8
    assert cfg.channels.chat.queue == "support"
    assert cfg.capacity.voice == 1
    assert cfg.queues == []


def test_defaults_do_not_read_the_process_environment(monkeypatch):
    monkeypatch.setenv("CALLYARD_SERVER__PORT", "9999")
    assert config.load(None, env={}).server.port == 8080
    assert config.load(None).server.port == 9999


def test_toml_file_loads(tmp_path):
    path = write(
        tmp_path,
        """
        log_level = "debug"
        [server]
        host = "10.1.2.3"
        port = 9000
        widget_origins = ["https://shop.example"]
        [routing]
        offer_timeout = 12
        [channels.chat]
        queue = "sales"
        max_message_bytes = 100
        [capacity]
        chat = 2
        [[queues]]
        name = "sales"
        priority = 5
        skills = { sales = 3, german = 1 }
        wrap_up_seconds = 20
        """,
    )
    cfg = config.load(path, env={})
    assert cfg.source == str(path.resolve())
    assert cfg.log_level == "debug"
    assert (cfg.server.host, cfg.server.port) == ("10.1.2.3", 9000)
    assert cfg.server.widget_origins == ["https://shop.example"]
    assert cfg.routing.offer_timeout == 12
    assert cfg.channels.chat.queue == "sales"
    assert cfg.channels.chat.max_message_bytes == 100
    assert cfg.capacity.chat == 2
    assert cfg.capacity.email == 5  # untouched keys keep their defaults
    assert cfg.queues == [
        config.QueueConfig(name="sales", priority=5, skills={"sales": 3, "german": 1}, wrap_up_seconds=20)
    ]


def test_the_sample_config_is_valid(tmp_path):
    path = write(tmp_path, config.SAMPLE.format(secret_key="s3cret"))
    cfg = config.load(path, env={})
    assert cfg.server.secret_key == "s3cret"
    assert [q.name for q in cfg.queues] == ["support"]


def test_relative_sqlite_url_is_resolved_against_the_config_file(tmp_path):
    path = write(tmp_path, 'data_dir = "var"\n[database]\nurl = "sqlite:///cy.db"\n')
    cfg = config.load(path, env={})
    assert cfg.database_url() == f"sqlite:///{(tmp_path / 'var' / 'cy.db').resolve()}"


# -- environment -----------------------------------------------------------------------------


def test_env_overrides_nested_keys_with_double_underscore(tmp_path):
    path = write(tmp_path, '[server]\nport = 9000\nhost = "10.1.2.3"\n')
    cfg = config.load(
        path,
        env={
            "CALLYARD_SERVER__PORT": "9100",
            "CALLYARD_CHANNELS__CHAT__MAX_MESSAGE_BYTES": "77",
            "CALLYARD_ROUTING__TICK_SECONDS": "0.5",
            "CALLYARD_SERVER__DEMO_PAGE": "false",
            "CALLYARD_SERVER__WIDGET_ORIGINS": "https://a.example, https://b.example",
            "CALLYARD_LOG_LEVEL": "warning",
            "CALLYARD_CONFIG": "/somewhere/else.toml",  # names the file, is not a key
            "UNRELATED": "x",
        },
    )
    assert cfg.server.port == 9100  # the environment wins over the file
    assert cfg.server.host == "10.1.2.3"  # the rest of the section comes from the file
    assert cfg.channels.chat.max_message_bytes == 77
    assert cfg.routing.tick_seconds == 0.5
    assert cfg.server.demo_page is False
    assert cfg.server.widget_origins == ["https://a.example", "https://b.example"]
    assert cfg.log_level == "warning"


def test_database_url_env_sets_database_url():
    url = "postgresql://cy:pw@db.example:5432/callyard"
    cfg = config.load(None, env={"DATABASE_URL": url})
    assert cfg.database.url == url
    assert cfg.database_url() == url


def test_env_value_of_the_wrong_type_names_the_key():
    with pytest.raises(ConfigError, match=r"server\.port"):
        config.load(None, env={"CALLYARD_SERVER__PORT": "eighty"})


def test_env_unknown_key_names_the_key():
    with pytest.raises(ConfigError, match=r"server\.prot"):
        config.load(None, env={"CALLYARD_SERVER__PROT": "1"})


def test_bad_database_url_from_env_names_the_key():
    with pytest.raises(ConfigError, match=r"database\.url"):
        config.load(None, env={"DATABASE_URL": "mysql://localhost/cy"})


# -- validation errors name the key ---------------------------------------------------------


def test_unknown_top_level_key(tmp_path):
    message = load_error(tmp_path, 'colour = "blue"\n')
    assert "'colour'" in message


def test_unknown_key_in_a_section(tmp_path):
    message = load_error(tmp_path, "[routing]\noffer_timout = 5\n")
    assert "routing.offer_timout" in message
    assert "offer_timeout" in message  # lists the known keys, so the typo is easy to fix


def test_unknown_key_in_a_queue(tmp_path):
    message = load_error(tmp_path, '[[queues]]\nname = "support"\nskils = {}\n')
    assert "queues[0].skils" in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[server]\nport = "eighty"\n', "server.port"),
        ("[server]\nhost = 127\n", "server.host"),
        ('[server]\ndemo_page = "maybe"\n', "server.demo_page"),
        ("[server]\nwidget_origins = 5\n", "server.widget_origins"),
        ("[routing]\noffer_timeout = true\n", "routing.offer_timeout"),
        ('[outbox]\nretry_base_seconds = "soon"\n', "outbox.retry_base_seconds"),
        ('server = "localhost"\n', "server"),
        ('[[queues]]\nname = "support"\nskills = { support = "high" }\n', "queues[0].skills.support"),
    ],
)
def test_wrong_type_names_the_key(tmp_path, text, key):
    assert key in load_error(tmp_path, text)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[server]\nport = 8080.5\n", "server.port"),
        ("[routing]\noffer_timeout = 2.5\n", "routing.offer_timeout"),
    ],
)
def test_a_fraction_is_not_an_integer(tmp_path, text, key):
    # A float where an integer is expected must be refused, not silently truncated.
    assert key in load_error(tmp_path, text)


@pytest.mark.parametrize("port", [-1, 65536, 100000])
def test_bad_port(tmp_path, port):
    message = load_error(tmp_path, f"[server]\nport = {port}\n")
    assert "server.port" in message
    assert str(port) in message


@pytest.mark.parametrize("port", [0, 1, 65535])
def test_edge_ports_are_fine(tmp_path, port):
    assert config.load(write(tmp_path, f"[server]\nport = {port}\n"), env={}).server.port == port


def test_unknown_strategy(tmp_path):
    message = load_error(tmp_path, '[[queues]]\nname = "support"\nstrategy = "round-the-world"\n')
    assert "queues.support.strategy" in message
    assert "round-the-world" in message
    assert "longest-idle" in message


@pytest.mark.parametrize("level", [0, 11, -3])
def test_skill_level_out_of_range(tmp_path, level):
    message = load_error(tmp_path, f'[[queues]]\nname = "support"\nskills = {{ billing = {level} }}\n')
    assert "queues.support.skills.billing" in message


@pytest.mark.parametrize("level", [1, 10])
def test_skill_level_edges_are_fine(tmp_path, level):
    path = write(tmp_path, f'[[queues]]\nname = "support"\nskills = {{ billing = {level} }}\n')
    assert config.load(path, env={}).queues[0].skills == {"billing": level}


def test_duplicate_queue(tmp_path):
    message = load_error(tmp_path, '[[queues]]\nname = "support"\n[[queues]]\nname = "support"\n')
    assert "queues[1].name" in message
    assert "support" in message


def test_queue_without_a_name(tmp_path):
    assert "queues[0].name" in load_error(tmp_path, "[[queues]]\npriority = 1\n")


def test_chat_queue_not_defined(tmp_path):
    message = load_error(tmp_path, '[channels.chat]\nqueue = "help"\n[[queues]]\nname = "support"\n')
    assert "channels.chat.queue" in message
    assert "'help'" in message


def test_chat_queue_not_checked_when_chat_is_disabled(tmp_path):
    path = write(tmp_path, '[channels.chat]\nenabled = false\nqueue = "help"\n[[queues]]\nname = "support"\n')
    assert config.load(path, env={}).channels.chat.enabled is False


@pytest.mark.parametrize("url", ["mysql://localhost/cy", "sqlite://relative.db", "callyard.db", ""])
def test_bad_database_url(tmp_path, url):
    message = load_error(tmp_path, f'[database]\nurl = "{url}"\n')
    assert "database.url" in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('log_level = "loud"\n', "log_level"),
        ("[routing]\noffer_timeout = 0\n", "routing.offer_timeout"),
        ("[routing]\ntick_seconds = 0\n", "routing.tick_seconds"),
        ("[routing]\ngather_seconds = -0.1\n", "routing.gather_seconds"),
        ("[outbox]\nmax_attempts = 0\n", "outbox.max_attempts"),
        ("[outbox]\nretry_base_seconds = -1.0\n", "outbox.retry_base_seconds"),
        ("[channels.chat]\nmax_message_bytes = 0\n", "channels.chat.max_message_bytes"),
        ("[capacity]\nchat = -1\n", "capacity.chat"),
        ('[[queues]]\nname = "bad name"\n', "queues[0].name"),
        ('[[queues]]\nname = "support"\nwrap_up_seconds = -5\n', "queues.support.wrap_up_seconds"),
    ],
)
def test_other_range_checks_name_the_key(tmp_path, text, key):
    assert key in load_error(tmp_path, text)


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        config.load(missing, env={})
    assert str(missing) in str(info.value)
    assert "callyard init" in str(info.value)  # says how to fix it


def test_invalid_toml(tmp_path):
    path = write(tmp_path, "[server\nport = 1\n")
    with pytest.raises(ConfigError) as info:
        config.load(path, env={})
    assert str(path) in str(info.value)
    assert "not valid TOML" in str(info.value)


def test_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "callyard.toml"
    path.write_bytes(b'log_level = "\xff\xfe"\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(path, env={})


# -- email channel and gateways --------------------------------------------------------------


def test_email_and_gateway_from_the_environment():
    cfg = config.load(
        None,
        env={
            "CALLYARD_CHANNELS__EMAIL__ENABLED": "true",
            "CALLYARD_CHANNELS__EMAIL__ADDRESSES": "support@shop.test, sales@shop.test",
            "CALLYARD_CHANNELS__EMAIL__RELAY_PASSWORD": "pw",
            "CALLYARD_CHANNELS__EMAIL__RELAY_USERNAME": "user",
            "CALLYARD_GATEWAY__SECRET": "x" * 32,
            "CALLYARD_GATEWAY__LEASE_SECONDS": "30",
        },
    )
    assert cfg.channels.email.addresses == ["support@shop.test", "sales@shop.test"]
    assert cfg.channels.email.port == 2525 and cfg.channels.email.max_message_bytes == 25 * 1024 * 1024
    assert (cfg.gateway.secret, cfg.gateway.lease_seconds) == ("x" * 32, 30)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[channels.email]\nenabled = true\n", "channels.email.addresses"),
        ('[channels.email]\naddresses = ["not-an-address"]\n', "channels.email.addresses[0]"),
        ('[channels.email]\ndomains = ["a@b"]\n', "channels.email.domains[0]"),
        ("[channels.email]\nport = 70000\n", "channels.email.port"),
        ("[channels.email]\nrelay_port = 0\n", "channels.email.relay_port"),
        ("[channels.email]\nmax_message_bytes = 10\n", "channels.email.max_message_bytes"),
        ("[channels.email]\nmax_attachments = -1\n", "channels.email.max_attachments"),
        ('[channels.email]\ntls_cert = "c.pem"\n', "channels.email.tls_key"),
        ('[channels.email]\nrelay_username = "u"\n', "channels.email.relay_password"),
        (
            '[channels.email]\nenabled = true\naddresses = ["a@b.c"]\nqueue = "nope"\n'
            '[[queues]]\nname = "support"\n',
            "channels.email.queue",
        ),
        ('[gateway]\nsecret = "short"\n', "gateway.secret"),
        ('[gateway]\ncore_url = "localhost:8080"\n', "gateway.core_url"),
        ("[gateway]\nlease_seconds = 0\n", "gateway.lease_seconds"),
        ("[gateway]\npoll_seconds = 0\n", "gateway.poll_seconds"),
        ("[channels.email]\nmax_message_bytes = 100000000\n", "channels.email.max_message_bytes"),
    ],
)
def test_bad_email_and_gateway_values_name_the_key(tmp_path, text, key):
    assert key in load_error(tmp_path, text)
