"""Scripted people for the simulator: callers who dial in and agent phones that ring."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Caller:
    """Someone calling in. ``digits`` holds what they key at each prompt, in order ("" = they
    stay silent and let it time out); ``hangup_on`` names an application at whose start they
    hang up (e.g. ``"playback:local_stream://moh"`` = they give up in the queue)."""

    number: str = "79161234567"
    name: str = ""
    destination: str = "7001"
    digits: list[str] = field(default_factory=list)
    digit_delay: float = 0.02
    hangup_after: float | None = None
    hangup_on: str | None = None
    # Hang up this long after being bridged to an agent (None: wait for the agent to end it).
    talk_seconds: float | None = None
    # Press this key (e.g. the callback key) ``queue_key_after`` seconds into the hold music.
    queue_key: str = ""
    queue_key_after: float = 0.3


@dataclass
class Phone:
    """An agent's SIP phone, reached as ``user/<user>``."""

    user: str
    registered: bool = True
    answer_after: float | None = 0.02  # None: rings until the originate times out
    busy: bool = False
    # Hang up this long after being bridged (None: wait for the caller to end it).
    talk_seconds: float | None = None
    calls: list[str] = field(default_factory=list)
