"""The [api], [webhooks], [crm] and [channels.api] sections: defaults, overrides, clear errors."""

from __future__ import annotations

import pytest

from callyard import config as config_mod
from callyard.errors import ConfigError


def test_defaults_and_environment_overrides():
    config = config_mod.load(None, env={})
    assert config.api.max_body_bytes == 65536
    assert (config.webhooks.timeout_seconds, config.webhooks.disable_after) == (5.0, 20)
    assert config.crm.url == "" and config.channels.api.queue == ""
    config = config_mod.load(
        None,
        env={
            "CALLYARD_WEBHOOKS__DISABLE_AFTER": "3",
            "CALLYARD_CRM__URL": "https://crm.example/lookup",
            "CALLYARD_CHANNELS__API__ENABLED": "false",
        },
    )
    assert config.webhooks.disable_after == 3
    assert config.crm.url == "https://crm.example/lookup"
    assert config.channels.api.enabled is False


def test_the_sample_file_loads(tmp_path):  # noqa: ANN001
    path = tmp_path / "callyard.toml"
    path.write_text(config_mod.SAMPLE.format(secret_key="s"), encoding="utf-8")
    config = config_mod.load(path, env={})
    assert config.webhooks.per_endpoint == 2 and config.channels.api.max_message_bytes == 65536


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"CALLYARD_API__MAX_BODY_BYTES": "10"}, "api.max_body_bytes"),
        ({"CALLYARD_WEBHOOKS__TIMEOUT_SECONDS": "0"}, "webhooks.timeout_seconds"),
        ({"CALLYARD_WEBHOOKS__DISABLE_AFTER": "0"}, "webhooks.disable_after"),
        ({"CALLYARD_WEBHOOKS__PER_ENDPOINT": "99"}, "webhooks.per_endpoint"),
        ({"CALLYARD_WEBHOOKS__CONCURRENCY": "many"}, "webhooks.concurrency"),
        ({"CALLYARD_CRM__URL": "ftp://crm"}, "crm.url"),
        ({"CALLYARD_CHANNELS__API__MAX_MESSAGE_BYTES": "0"}, "channels.api.max_message_bytes"),
    ],
)
def test_bad_values_name_their_key(env, key):  # noqa: ANN001
    with pytest.raises(ConfigError) as caught:
        config_mod.load(None, env=env)
    assert key in str(caught.value)


def test_the_api_channel_queue_must_exist(tmp_path):  # noqa: ANN001
    path = tmp_path / "callyard.toml"
    path.write_text('[[queues]]\nname = "support"\n\n[channels.api]\nqueue = "sms"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="channels.api.queue"):
        config_mod.load(path, env={})
