"""callyard.config [inbox]: break reasons, dispositions, stages, SLA, retention and scripts."""

from __future__ import annotations

import pytest

from callyard import config
from callyard.errors import ConfigError


def load(tmp_path, text: str) -> config.Config:  # noqa: ANN001
    path = tmp_path / "callyard.toml"
    path.write_text(text, encoding="utf-8")
    return config.load(path, env={})


def test_defaults_and_not_ready_is_always_a_break_reason(tmp_path):  # noqa: ANN001
    inbox = config.load(None, env={}).inbox
    assert inbox.stages[0] == "new" and "resolved" in inbox.dispositions
    custom = load(tmp_path, '[inbox]\nbreak_reasons = ["lunch"]\n').inbox
    assert custom.all_break_reasons() == ["lunch", "not-ready"]


def test_the_sample_config_has_a_script_for_support(tmp_path):  # noqa: ANN001
    cfg = load(tmp_path, config.SAMPLE.format(secret_key="s3cret"))
    assert cfg.inbox.scripts["support"].splitlines()[0] == "Greet the customer by name."


def test_environment_overrides_lists(tmp_path):  # noqa: ANN001
    cfg = config.load(None, env={"CALLYARD_INBOX__DISPOSITIONS": "sale, no-sale"})
    assert cfg.inbox.dispositions == ["sale", "no-sale"]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[inbox]\ndispositions = []\n", "inbox.dispositions"),
        ('[inbox]\nstages = ["new", "new"]\n', "inbox.stages"),
        ('[inbox]\nbreak_reasons = ["<b>lunch</b>"]\n', "inbox.break_reasons"),
        ("[inbox]\nsla_seconds = 0\n", "inbox.sla_seconds"),
        ("[inbox]\nevent_retention_seconds = 5\n", "inbox.event_retention_seconds"),
        ('[inbox.scripts]\n"bad queue" = "hi"\n', "inbox.scripts.bad queue"),
        ("[inbox]\nsla = 5\n", "inbox.sla"),
        ("[inbox]\nmax_upload_bytes = 0\n", "inbox.max_upload_bytes"),
    ],
)
def test_bad_values_name_the_key(tmp_path, text, key):  # noqa: ANN001
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert key in str(info.value)


def test_the_upload_cap_is_configurable(tmp_path):  # noqa: ANN001
    assert config.load(None, env={}).inbox.max_upload_bytes == 10 * 1024 * 1024
    cfg = config.load(None, env={"CALLYARD_INBOX__MAX_UPLOAD_BYTES": "2048"})
    assert cfg.inbox.max_upload_bytes == 2048
