"""Delivers webhooks and CRM lookups from the outbox, side by side on a gevent pool.

The core's main outbox loop sends customers' replies one after the other; integrators'
endpoints get their own loop, so one that hangs delays only its own deliveries: at most
``webhooks.per_endpoint`` of them are in flight at once, each cut off after
``webhooks.timeout_seconds`` (plus a little, for the socket timeout to speak first).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import Any, Protocol

import gevent
import gevent.pool

from .config import WebhooksConfig
from .models import OutboxItem
from .services import Services

log = logging.getLogger(__name__)

HOOK_CHANNELS = ("webhook", "crm")


class Deliverer(Protocol):
    def deliver(self, item: OutboxItem) -> None: ...

    def key(self, item: OutboxItem) -> str: ...


class HookDispatcher:
    def __init__(self, services: Services, config: WebhooksConfig) -> None:
        self._services = services
        self._deliverers: dict[str, Any] = {"webhook": services.webhooks, "crm": services.crm}
        self._pool = gevent.pool.Pool(config.concurrency)
        self._per_endpoint = config.per_endpoint
        self._deadline = config.timeout_seconds + 2.0
        self._in_flight: set[int] = set()
        self._per_key: Counter[str] = Counter()
        self.wake = threading.Event()

    def dispatch(self) -> None:
        """Start what is due and fits in the pool; called by the core's loop when woken."""
        services = self._services
        with services.store.connection():
            due = services.outbox.due(
                services.clock(), limit=self._pool.size * 4, channels=tuple(self._deliverers)
            )
            for item in due:
                if self._pool.full():
                    break
                if item.id in self._in_flight:
                    continue
                deliverer = self._deliverers[item.channel]
                key = deliverer.key(item)
                if self._per_key[key] >= self._per_endpoint:
                    continue
                self._in_flight.add(item.id)
                self._per_key[key] += 1
                self._pool.spawn(self._one, item, deliverer, key)

    def _one(self, item: OutboxItem, deliverer: Deliverer, key: str) -> None:
        try:
            with self._services.store.connection():
                # ``dispatch`` read the item as due, but another delivery of it may have ended
                # while that read waited on the database (PostgreSQL): its copy is stale, and the
                # item was sent (twice, seen in CI) or put off to its retry time.
                if not self._services.outbox.unchanged(item):
                    return
                self._services.outbox.attempt(item, lambda it: self._deliver(deliverer, it))
        except Exception:
            log.exception("delivering outbox item %s failed", item.id)
        finally:
            self._in_flight.discard(item.id)
            self._per_key[key] -= 1
            self.wake.set()  # room for the next one

    def _deliver(self, deliverer: Deliverer, item: OutboxItem) -> None:
        started = time.monotonic()
        try:
            with gevent.Timeout(self._deadline, TimeoutError(f"no answer within {self._deadline:g} s")):
                deliverer.deliver(item)
        except TimeoutError as exc:
            record = getattr(deliverer, "record_interrupted", None)
            if record is not None:
                record(item, str(exc), int((time.monotonic() - started) * 1000))
            raise

    def stop(self) -> None:
        self._pool.kill(timeout=5)
