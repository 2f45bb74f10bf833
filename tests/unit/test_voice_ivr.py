"""callyard.channels.voice.ivr: menus from the config as pure decisions, and their validation."""

from __future__ import annotations

import pytest

from callyard import config as config_mod
from callyard.channels.voice.ivr import MAX_MENUS, MenuWalk
from callyard.errors import ConfigError


def voice(**menus: dict) -> config_mod.VoiceConfig:
    cfg = config_mod.VoiceConfig(enabled=True, menu="main", queue="support")
    cfg.menus = {name: config_mod.VoiceMenuConfig(**m) for name, m in menus.items()}
    return cfg


MAIN = {"prompt": "main.wav", "choices": {"1": "queue:sales", "2": "menu:lang"}, "fallback": "queue:support"}
LANG = {
    "prompt": "lang.wav",
    "choices": {"1": "skill:lang_en,queue:support", "2": "skill:lang_ru,queue:support"},
}


def test_a_choice_leads_to_its_queue() -> None:
    walk = MenuWalk(voice(main=MAIN, lang=LANG))
    step = walk.step()
    assert step is not None and step.prompt == "main.wav" and step.keys == "12"
    assert step.regex == "^[12]$"
    walk.answer("1")
    assert walk.step() is None
    assert (walk.outcome.queue, walk.outcome.skills, walk.outcome.action) == ("sales", {}, "queue")


def test_a_language_choice_becomes_a_skill() -> None:
    walk = MenuWalk(voice(main=MAIN, lang=LANG))
    walk.answer("2")
    assert walk.step().prompt == "lang.wav"
    walk.answer("2")
    assert walk.step() is None
    assert walk.outcome.skills == {"lang_ru": 1} and walk.outcome.queue == "support"
    assert walk.outcome.path == ["main:2", "lang:2"]


def test_no_valid_answer_takes_the_fallback() -> None:
    walk = MenuWalk(voice(main=MAIN, lang=LANG))
    walk.answer(None)
    assert walk.step() is None and walk.outcome.queue == "support"
    walk = MenuWalk(voice(main=MAIN, lang=LANG))
    walk.answer("7")  # a key the menu does not have
    assert walk.outcome.queue == "support"


def test_no_menu_goes_straight_to_the_queue() -> None:
    cfg = voice()
    cfg.menu = ""
    walk = MenuWalk(cfg)
    assert walk.step() is None and walk.outcome.queue == "support"


def test_a_menu_that_loops_still_ends() -> None:
    walk = MenuWalk(voice(main={"choices": {"1": "menu:main"}}))
    for _ in range(MAX_MENUS):
        assert walk.step() is not None
        walk.answer("1")
    assert walk.step() is None


@pytest.mark.parametrize(
    ("menus", "key"),
    [
        ({"main": {"choices": {"1": "queue:nowhere"}}}, "channels.voice.menus.main.choices.1"),
        ({"main": {"choices": {"1": "menu:missing"}}}, "channels.voice.menus.main.choices.1"),
        ({"main": {"choices": {"1": "dance"}}}, "channels.voice.menus.main.choices.1"),
        ({"main": {"choices": {"12": "queue:support"}}}, "channels.voice.menus.main.choices"),
        ({"main": {"fallback": "skill:"}}, "channels.voice.menus.main.fallback"),
    ],
)
def test_bad_menus_are_refused_naming_the_key(menus: dict, key: str) -> None:
    raw = {
        "channels": {"voice": {"enabled": True, "menu": "main", "menus": menus}},
        "queues": [{"name": "support"}],
    }
    cfg = config_mod._build(config_mod.Config, raw, "")  # noqa: SLF001 - the loader's own builder
    with pytest.raises(ConfigError) as err:
        config_mod.validate(cfg)
    assert key in err.value.message


def test_voice_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="channels.voice.ring_seconds"):
        config_mod.load(
            None,
            env={"CALLYARD_CHANNELS__VOICE__ENABLED": "1", "CALLYARD_CHANNELS__VOICE__RING_SECONDS": "0"},
        )
    with pytest.raises(ConfigError, match="channels.voice.listen_port"):
        config_mod.load(
            None, env={"CALLYARD_CHANNELS__VOICE__ENABLED": "1", "CALLYARD_CHANNELS__VOICE__LISTEN_PORT": "x"}
        )
    cfg = config_mod.load(None, env={"CALLYARD_CHANNELS__VOICE__ENABLED": "true"})
    assert cfg.channels.voice.nodes[0].port == 8021


@pytest.mark.parametrize("key", ["**", "x", "10", " "])
def test_the_callback_key_is_one_phone_key(key: str) -> None:
    with pytest.raises(ConfigError, match="channels.voice.callback_key"):
        config_mod.load(
            None,
            env={"CALLYARD_CHANNELS__VOICE__ENABLED": "1", "CALLYARD_CHANNELS__VOICE__CALLBACK_KEY": key},
        )


def test_the_callback_key_defaults_to_star_and_can_be_switched_off() -> None:
    assert config_mod.load(None, env={}).channels.voice.callback_key == "*"
    off = config_mod.load(
        None, env={"CALLYARD_CHANNELS__VOICE__ENABLED": "1", "CALLYARD_CHANNELS__VOICE__CALLBACK_KEY": ""}
    )
    assert off.channels.voice.callback_key == ""
