"""The simulator's header encoding: the fast url_encode matches FreeSWITCH's byte-by-byte rule
(switch_url_encode) on every kind of character, including a ``%`` that starts an escape."""

from __future__ import annotations

import random

import pytest

from callyard.testing.freeswitch.wire import url_encode, url_encode_reference

CASES = [
    "",
    "plain123",
    "sofia/internal/79161234567@127.0.0.1",
    "+OK\n",
    "100%",
    "%4",
    "%41 stays, %4g and %zz do not",
    "%41",
    "%ab (lower case hex is not an escape)",
    'quote " and {braces} [brackets] back\\slash ^ ` | ~',
    "tab\tcr\rnul\x00del\x7f",
    "Ünïcödé ж € 😀",
    "a=b;c&d?e#f<g>h:i@j k+l",
]


@pytest.mark.parametrize("value", CASES)
def test_url_encode_matches_the_reference(value):
    assert url_encode(value) == url_encode_reference(value)


def test_url_encode_matches_the_reference_on_random_strings():
    rng = random.Random(5)
    alphabet = [chr(c) for c in range(0, 0x80)] + list("%%%%AF09afÿжé€😀")
    for _ in range(20_000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert url_encode(value) == url_encode_reference(value), repr(value)


def test_url_encode_escapes_what_freeswitch_escapes():
    assert url_encode("+OK\n") == "%2BOK%0A"
    assert url_encode("a b@c") == "a%20b%40c"
    assert url_encode("50%") == "50%25"
    assert url_encode("%2B") == "%2B"
    assert url_encode("é") == "%C3%A9"
