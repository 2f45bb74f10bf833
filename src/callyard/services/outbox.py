"""The outbox: everything Callyard sends out is stored first, then delivered and retried.

An item is created in the same transaction as what it sends (an agent's reply), so a crash
between the two cannot lose it. Delivery is at least once: a channel that must not repeat
itself dedupes by the item id it is given.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from ..clock import Clock
from ..events import Event, MessageDeliveryFailed
from ..models import Message, OutboxItem
from ..store import Store
from .notifier import Notifier

log = logging.getLogger(__name__)

Deliver = Callable[[OutboxItem], None]


class OutboxService:
    def __init__(
        self, store: Store, notifier: Notifier, clock: Clock, *, max_attempts: int, retry_base_seconds: float
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._max_attempts = max_attempts
        self._retry_base = retry_base_seconds

    def enqueue(self, channel: str, message_id: int | None, payload: dict[str, Any]) -> OutboxItem:
        """Add an item; call inside the transaction that creates what it delivers."""
        now = self._clock()
        return OutboxItem.create(
            channel=channel,
            message=message_id,
            payload=payload,
            state="pending",
            next_attempt_at=now,
            created_at=now,
        )

    def due(self, now: dt.datetime, limit: int = 100) -> list[OutboxItem]:
        return list(
            OutboxItem.select()
            .where(OutboxItem.state == "pending", OutboxItem.next_attempt_at <= now)
            .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
            .limit(limit)
        )

    def next_due_at(self) -> dt.datetime | None:
        item = (
            OutboxItem.select(OutboxItem.next_attempt_at)
            .where(OutboxItem.state == "pending")
            .order_by(OutboxItem.next_attempt_at)
            .first()
        )
        return item.next_attempt_at if item else None

    def attempt(self, item: OutboxItem, deliver: Deliver | None) -> bool:
        """Try to deliver one item; record success, or schedule a retry, or give up visibly."""
        now = self._clock()
        error = ""
        if deliver is None:
            error = f"no adapter is running for channel {item.channel!r}"
        else:
            try:
                deliver(item)
            except Exception as exc:  # an adapter's failure of any kind is a failed attempt
                error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "outbox item %s (%s) attempt %s failed: %s",
                    item.id,
                    item.channel,
                    item.attempts + 1,
                    error,
                )
        events: list[Event] = []
        with self._store.atomic():
            if not error:
                OutboxItem.update(
                    state="sent", sent_at=now, attempts=OutboxItem.attempts + 1, last_error=""
                ).where(OutboxItem.id == item.id).execute()
            else:
                attempts = item.attempts + 1
                failed = attempts >= self._max_attempts
                retry_at = now + dt.timedelta(seconds=self._retry_base * 2 ** (attempts - 1))
                OutboxItem.update(
                    state="failed" if failed else "pending",
                    attempts=attempts,
                    last_error=error[:2000],
                    next_attempt_at=retry_at,
                ).where(OutboxItem.id == item.id).execute()
                if failed and item.message_id:
                    message = Message.get_by_id(item.message_id)
                    events.append(MessageDeliveryFailed(message.id, message.interaction_id, error))
        self._notifier.publish(events)
        return not error

    def status_of(self, message_id: int) -> dict[str, Any] | None:
        item = (
            OutboxItem.select().where(OutboxItem.message == message_id).order_by(OutboxItem.id.desc()).first()
        )
        return None if item is None else delivery_of(item)


def delivery_of(item: OutboxItem) -> dict[str, Any]:
    """How the delivery of an outbound message stands, as the inbox shows it."""
    return {"state": item.state, "attempts": item.attempts, "error": item.last_error}
