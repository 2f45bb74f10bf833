"""The load generator's command line: a bad address or size is refused with a clear message."""

from __future__ import annotations

import pytest

from callyard.testing.freeswitch.load import parse_args, phone_logins


def test_the_defaults_are_the_issue_s_benchmark():
    args = parse_args(["--outbound", "127.0.0.1:8084"])
    assert args.outbound == ("127.0.0.1", 8084)
    assert (args.rate, args.seconds, args.phones) == (50.0, 60.0, 200)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--outbound", "localhost"], "expected HOST:PORT"),
        (["--outbound", "127.0.0.1:http"], "expected HOST:PORT"),
        (["--outbound", "127.0.0.1:8084", "--rate", "0"], "must be positive"),
        (["--outbound", "127.0.0.1:8084", "--seconds", "-1"], "must be positive"),
    ],
)
def test_bad_arguments_are_refused_clearly(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_phones_are_numbered_like_the_bench_s_agents():
    assert phone_logins(3) == ["a0000", "a0001", "a0002"]
