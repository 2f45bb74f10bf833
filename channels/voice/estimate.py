"""How long a waiting caller will likely wait, and what they hear about it: pure decisions
(no I/O); the controller gathers the figures from the store and plays the result."""

from __future__ import annotations

import math
from collections.abc import Sequence

# The stock prompts say numbers up to 20 (digits/1.wav .. digits/20.wav).
MAX_SPOKEN = 20


def estimated_wait_seconds(
    position: int, handle_seconds: Sequence[float], agents: int, default_handle_seconds: float
) -> float | None:
    """Place in line × average handle time ÷ agents able to serve.

    ``handle_seconds``: the queue's recent answered calls (talk, hold and wrap-up); none yet
    means ``default_handle_seconds``. With no agent able to serve there is no honest estimate:
    None.
    """
    if position < 1:
        raise ValueError(f"position must be at least 1, not {position}")
    if agents < 1:
        return None
    usable = [s for s in handle_seconds if s > 0]
    average = sum(usable) / len(usable) if usable else default_handle_seconds
    return position * average / agents


def in_minutes(seconds: float) -> int:
    """Whole minutes for the caller: rounded up, at least one."""
    return max(1, math.ceil(seconds / 60))


def announcement(prompt: str, position: int, wait_prompt: str, wait_seconds: float | None) -> str:
    """One ``file_string://`` for ``uuid_broadcast``: the prompt, the place in line, then the
    estimated wait in minutes. Numbers the stock prompts cannot say are left out."""
    parts = [prompt]
    if position <= MAX_SPOKEN:
        parts.append(f"digits/{position}.wav")
    if wait_seconds is not None and wait_prompt and (minutes := in_minutes(wait_seconds)) <= MAX_SPOKEN:
        unit = "time/minute.wav" if minutes == 1 else "time/minutes.wav"
        parts += [wait_prompt, f"digits/{minutes}.wav", unit]
    return parts[0] if len(parts) == 1 else "file_string://" + "!".join(parts)
