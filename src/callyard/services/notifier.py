"""Publishes domain events for the services, after their transaction has committed."""

from __future__ import annotations

from collections.abc import Iterable

from ..bus import Bus
from ..events import Event


class Notifier:
    def __init__(self, bus: Bus) -> None:
        self._bus = bus

    def publish(self, events: Iterable[Event]) -> None:
        self._bus.publish(list(events))
