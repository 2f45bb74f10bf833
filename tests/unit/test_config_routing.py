"""Routing rules in the config file: strategies, escalation, business hours, sticky agents,
block rules and max_no_answer are checked at load, and errors name the queue and the key."""

from __future__ import annotations

import datetime as dt

import pytest

from callyard import config as config_mod
from callyard.errors import ConfigError

BASE = '[[queues]]\nname = "general"\n'


def load(tmp_path, text: str) -> config_mod.Config:  # noqa: ANN001
    path = tmp_path / "callyard.toml"
    path.write_text('[channels.chat]\nqueue = "support"\n' + BASE + text, encoding="utf-8")
    return config_mod.load(path, env={})


def error(tmp_path, text: str) -> str:  # noqa: ANN001
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return info.value.message


SUPPORT = '[[queues]]\nname = "support"\n'


def test_a_full_queue_loads(tmp_path):
    cfg = load(
        tmp_path,
        SUPPORT
        + 'strategy = "most-skilled"\nsticky_seconds = 3600\ntimezone = "Europe/Berlin"\n'
        + 'after_hours = "voicemail"\nholidays = ["2026-12-25"]\n'
        + 'hours = { mon = ["09:00-12:00", "13:00-17:00"], sat = ["10:00-14:00"] }\n'
        + "[[queues.escalation]]\nafter = 30\nmin_level = 5\n"
        + '[[queues.escalation]]\nafter = 60\ndrop_skills = ["german"]\n'
        + '[[queues.escalation]]\nafter = 120\noverflow = "general"\n',
    )
    support = cfg.queues[1]
    assert support.strategy == "most-skilled"
    assert [(s.after, s.min_level, s.drop_skills, s.overflow) for s in support.escalation] == [
        (30, 5, [], ""),
        (60, 0, ["german"], ""),
        (120, 0, [], "general"),
    ]
    hours = config_mod.parse_hours(support)
    assert hours.weekly[0] == ((dt.time(9), dt.time(12)), (dt.time(13), dt.time(17)))
    assert hours.holidays == frozenset({dt.date(2026, 12, 25)})


@pytest.mark.parametrize("strategy", sorted(config_mod.STRATEGIES))
def test_every_strategy_is_accepted(tmp_path, strategy):
    assert load(tmp_path, SUPPORT + f'strategy = "{strategy}"\n').queues[1].strategy == strategy


def test_routing_defaults():
    cfg = config_mod.load(None, env={})
    assert cfg.routing.max_no_answer == 3
    assert cfg.routing.blocks == {"voice": ["api", "chat", "email", "telegram"]}


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        (
            "[[queues.escalation]]\nafter = 60\nmin_level = 5\n[[queues.escalation]]\nafter = 30\nmin_level = 3\n",
            "queues.support.escalation[1].after",
            "in order",
        ),
        (
            "[[queues.escalation]]\nafter = 30\nmin_level = 3\n[[queues.escalation]]\nafter = 60\nmin_level = 5\n",
            "queues.support.escalation[1].min_level",
            "relax",
        ),
        (
            '[[queues.escalation]]\nafter = 30\noverflow = "general"\n[[queues.escalation]]\nafter = 60\ntimeout = "close"\n',
            "queues.support.escalation[1]",
            "can never apply",
        ),
        (
            '[[queues.escalation]]\nafter = 30\noverflow = "nowhere"\n',
            "queues.support.escalation[0].overflow",
            "nowhere",
        ),
        (
            '[[queues.escalation]]\nafter = 30\noverflow = "support"\n',
            "queues.support.escalation[0].overflow",
            "itself",
        ),
        (
            '[[queues.escalation]]\nafter = 30\ntimeout = "explode"\n',
            "queues.support.escalation[0].timeout",
            "voicemail",
        ),
        (
            "[[queues.escalation]]\nafter = 30\nmin_level = 11\n",
            "queues.support.escalation[0].min_level",
            "1-10",
        ),
        ("[[queues.escalation]]\nafter = 30\n", "queues.support.escalation[0]", "exactly one"),
        (
            '[[queues.escalation]]\nafter = 30\nmin_level = 3\noverflow = "general"\n',
            "queues.support.escalation[0]",
            "exactly one",
        ),
        ('strategy = "fastest"\n', "queues.support.strategy", "longest-idle"),
        ('after_hours = "party"\n', "queues.support.after_hours", "callback"),
        ('timezone = "Mars/Olympus"\n', "queues.support.timezone", "Mars/Olympus"),
        ('hours = { funday = ["09:00-17:00"] }\n', "queues.support.hours.funday", "weekday"),
        ('hours = { mon = ["9 to 5"] }\n', "queues.support.hours.mon[0]", "09:00-17:00"),
        ('hours = { mon = ["17:00-09:00"] }\n', "queues.support.hours.mon[0]", "ends before"),
        (
            'hours = { mon = ["09:00-17:00"] }\nholidays = ["xmas"]\n',
            "queues.support.holidays[0]",
            "2026-12-25",
        ),
        ("sticky_seconds = -1\n", "queues.support.sticky_seconds", "0 or more"),
        ("ring_interval = 0\n", "queues.support.ring_interval", "at least 1"),
    ],
)
def test_bad_queue_routing_is_refused_naming_queue_and_key(tmp_path, text, key, words):
    message = error(tmp_path, SUPPORT + text)
    assert key in message
    assert words in message


def test_an_overflow_loop_is_refused(tmp_path):
    text = (
        SUPPORT
        + '[[queues.escalation]]\nafter = 30\noverflow = "general"\n'
        + '[[queues]]\nname = "other"\n[[queues.escalation]]\nafter = 30\noverflow = "support"\n'
    )
    path = tmp_path / "callyard.toml"
    path.write_text(
        '[channels.chat]\nqueue = "support"\n[[queues]]\nname = "general"\n'
        '[[queues.escalation]]\nafter = 10\noverflow = "other"\n' + text,
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"loop \(.*general.*other.*support.*\)"):
        config_mod.load(path, env={})


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[routing]\nmax_no_answer = -1\n", "routing.max_no_answer"),
        ('[routing]\nblocks = { voice = ["fax"] }\n', "routing.blocks.voice"),
        ("[capacity]\nchat = -1\n", "capacity.chat"),
    ],
)
def test_bad_routing_section_is_refused(tmp_path, text, key):
    path = tmp_path / "callyard.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config_mod.load(path, env={})
