"""The estimated wait a queued caller hears: pure arithmetic and the prompt it becomes."""

from __future__ import annotations

import pytest

from callyard.channels.voice.estimate import announcement, estimated_wait_seconds, in_minutes


def test_position_times_average_handle_time_over_agents() -> None:
    assert estimated_wait_seconds(3, [100, 200, 300], 2, 999) == 3 * 200 / 2
    assert estimated_wait_seconds(1, [120], 1, 999) == 120


def test_no_history_falls_back_to_the_default_handle_time() -> None:
    assert estimated_wait_seconds(2, [], 1, 180) == 360
    # Calls that lasted nothing (an agent who dropped at once) tell nothing either.
    assert estimated_wait_seconds(2, [0, 0], 4, 180) == 90


def test_no_agent_able_to_serve_means_no_estimate() -> None:
    assert estimated_wait_seconds(1, [60], 0, 180) is None


def test_a_position_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="position"):
        estimated_wait_seconds(0, [60], 1, 180)


@pytest.mark.parametrize(("seconds", "minutes"), [(0, 1), (1, 1), (60, 1), (61, 2), (599.5, 10)])
def test_minutes_round_up_and_are_at_least_one(seconds: float, minutes: int) -> None:
    assert in_minutes(seconds) == minutes


def test_the_announcement_says_place_then_minutes() -> None:
    media = announcement("ivr/hold.wav", 3, "callyard/wait.wav", 250)
    assert media == "file_string://ivr/hold.wav!digits/3.wav!callyard/wait.wav!digits/5.wav!time/minutes.wav"
    one = announcement("ivr/hold.wav", 1, "callyard/wait.wav", 30)
    assert one.endswith("!digits/1.wav!time/minute.wav")


def test_what_cannot_be_said_is_left_out() -> None:
    assert announcement("p.wav", 2, "w.wav", None) == "file_string://p.wav!digits/2.wav"
    assert announcement("p.wav", 21, "w.wav", 21 * 60) == "p.wav"
    assert announcement("p.wav", 21, "w.wav", 60) == "file_string://p.wav!w.wav!digits/1.wav!time/minute.wav"
    assert announcement("p.wav", 2, "", 60) == "file_string://p.wav!digits/2.wav"
