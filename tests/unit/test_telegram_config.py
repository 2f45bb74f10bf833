"""The [channels.telegram] section: a gateway only with a token, and clear errors for bad values."""

from __future__ import annotations

import pytest

from callyard import config
from callyard.channels.telegram import from_config
from callyard.errors import ConfigError

TOKEN = "123456:ABC-def_ghi"


def load(**env: str) -> config.Config:
    return config.load(None, {f"CALLYARD_CHANNELS__TELEGRAM__{k.upper()}": v for k, v in env.items()})


def test_no_token_no_gateway():
    assert from_config(load()) is None
    assert from_config(load(token=TOKEN)).name == "telegram"


@pytest.mark.parametrize(
    "env,key",
    [
        ({"token": "not a token"}, "channels.telegram.token"),
        ({"poll_timeout": "0"}, "channels.telegram.poll_timeout"),
        (
            {"webhook_url": "http://plain.example.com/hook", "webhook_secret": "s" * 20},
            "channels.telegram.webhook_url",
        ),
        (
            {"webhook_url": "https://x.example.com/hook", "webhook_secret": "short"},
            "channels.telegram.webhook_secret",
        ),
        (
            {"webhook_url": "https://x.example.com/hook", "webhook_secret": "bad secret with spaces"},
            "webhook_secret",
        ),
        ({"webhook_port": "70000"}, "channels.telegram.webhook_port"),
        ({"max_file_bytes": "-1"}, "channels.telegram.max_file_bytes"),
        ({"api_url": "ftp://x"}, "channels.telegram.api_url"),
    ],
)
def test_bad_values_name_their_key(env, key):
    with pytest.raises(ConfigError) as error:
        load(**env)
    assert key in str(error.value)


def test_webhook_mode_with_a_good_secret_loads():
    loaded = load(token=TOKEN, webhook_url="https://x.example.com/hook", webhook_secret="abc_DEF-0123456789")
    assert loaded.channels.telegram.webhook_url == "https://x.example.com/hook"


def test_an_unknown_queue_is_named(tmp_path):
    path = tmp_path / "callyard.toml"
    path.write_text(
        '[[queues]]\nname = "support"\n\n[channels.telegram]\ntoken = "1:a"\nqueue = "sales"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as error:
        config.load(path, {})
    assert "channels.telegram.queue" in str(error.value) and "'sales'" in str(error.value)
