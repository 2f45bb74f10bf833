"""Business hours and holidays, in the queue's own time zone."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

from .model import BusinessHours


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def is_open(hours: BusinessHours | None, now: dt.datetime) -> bool:
    """Whether a queue with these hours is open at ``now`` (naive UTC). No hours: always open."""
    if hours is None:
        return True
    local = now.replace(tzinfo=dt.UTC).astimezone(_zone(hours.timezone))
    if local.date() in hours.holidays:
        return False
    moment = local.time().replace(tzinfo=None)
    return any(start <= moment < end for start, end in hours.weekly.get(local.weekday(), ()))


def valid_timezone(name: str) -> bool:
    try:
        _zone(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True
