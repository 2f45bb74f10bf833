"""What the inbox shows of a call (calls.call_view): its state, clock and recording link."""

from __future__ import annotations

import datetime as dt

from callyard.models import CallRecord
from callyard.services.calls import call_view

T0 = dt.datetime(2026, 3, 2, 10, 0, 0, 123456)


def record(**fields: object) -> CallRecord:
    return CallRecord(interaction=7, uuid="u-1", caller_number="+15550100", entered_at=T0, **fields)


def test_a_talking_call_on_hold_shows_as_on_hold_with_its_clock() -> None:
    view = call_view(record(state="talking", answered_at=T0, held_since=T0 + dt.timedelta(seconds=5)), "Anna")
    assert view["state"] == "on_hold"
    assert view["answered_at"] == "2026-03-02T10:00:00Z"
    assert view["held_since"] == "2026-03-02T10:00:05Z"
    assert view["agent_name"] == "Anna" and view["caller_number"] == "+15550100"
    assert call_view(record(state="talking", answered_at=T0))["state"] == "talking"


def test_the_recording_is_offered_only_once_the_call_is_over() -> None:
    path = "/var/recordings/u-1.wav"
    assert call_view(record(state="talking", recording=path))["recording_url"] is None
    ended = call_view(record(state="ended", recording=path, ended_at=T0, outcome="voicemail"))
    assert ended["recording_url"] == "/calls/7/recording" and ended["outcome"] == "voicemail"
    assert call_view(record(state="ended", recording=None))["recording_url"] is None


def test_other_states_pass_through() -> None:
    for state in ("ivr", "queued", "ringing", "callback", "ended"):
        assert call_view(record(state=state))["state"] == state
