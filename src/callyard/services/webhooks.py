"""Webhooks: integrators subscribe to event types; each event becomes one signed delivery per
subscription, sent through the persistent outbox and retried with backoff. Every attempt is
logged; an endpoint that keeps failing is disabled and the admin told (log and event).

Deliveries are at least once: a receiver dedupes by the ``id`` in the body (also sent as
``X-Callyard-Delivery``). They may arrive out of order; ``created_at`` tells the order.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import secrets
import time
from typing import Any

from ..clock import Clock
from ..errors import InvalidInput, NotFound
from ..events import Event, MessageCreated, OutboxItemAdded, WebhookDisabled
from ..models import (
    Message,
    OutboxItem,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from ..prepared import Prepared
from ..store import Store
from . import http_post, signing
from .notifier import Notifier
from .outbox import GiveUp, OutboxService
from .views import iso
from .webhook_payloads import EVENTS, check_events, check_url, snapshot

log = logging.getLogger(__name__)
# Every published change reads these; its SQL is built once (see callyard.prepared).
_ENABLED = Prepared(lambda: WebhookSubscription.select().where(WebhookSubscription.enabled == True))  # noqa: E712

CHANNEL = "webhook"


class DeliveryFailed(Exception):
    """An attempt that did not get a 2xx; the outbox retries it later."""


class WebhookService:
    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        clock: Clock,
        outbox: OutboxService,
        *,
        timeout_seconds: float,
        disable_after: int,
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._outbox = outbox
        self._timeout = timeout_seconds
        self._disable_after = disable_after

    # -- subscriptions ---------------------------------------------------------------------

    def subscribe(self, url: str, events: list[str], description: str = "") -> WebhookSubscription:
        """A new subscription; its ``secret`` signs the deliveries (show it to the caller once)."""
        check_url(url)
        events = check_events(events)
        if len(description) > 255:
            raise InvalidInput("description: at most 255 characters", error_id="invalid-input")
        with self._store.atomic():
            return WebhookSubscription.create(
                url=url,
                events=events,
                secret="whsec_" + secrets.token_urlsafe(32),
                description=description,
                enabled=True,
                created_at=self._clock(),
            )

    def get(self, subscription_id: int) -> WebhookSubscription:
        sub = WebhookSubscription.get_or_none(WebhookSubscription.id == subscription_id)
        if sub is None:
            raise NotFound(
                f"no webhook subscription with id {subscription_id}; see `callyard webhook list`",
                error_id="webhook-not-found",
            )
        return sub

    def list(self) -> list[WebhookSubscription]:
        return list(WebhookSubscription.select().order_by(WebhookSubscription.id))

    def update(
        self,
        subscription_id: int,
        *,
        url: str | None = None,
        events: list[str] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> WebhookSubscription:
        """Change a subscription; enabling it again starts its failure count afresh."""
        fields: dict[str, Any] = {}
        if url is not None:
            fields["url"] = check_url(url)
        if events is not None:
            fields["events"] = check_events(events)
        if description is not None:
            fields["description"] = description
        if enabled is not None:
            fields["enabled"] = enabled
            if enabled:
                fields.update(consecutive_failures=0, disabled_reason="", disabled_at=None)
        with self._store.atomic():
            self.get(subscription_id)
            if fields:
                WebhookSubscription.update(**fields).where(
                    WebhookSubscription.id == subscription_id
                ).execute()
        return self.get(subscription_id)

    def remove(self, subscription_id: int) -> None:
        with self._store.atomic():
            sub = self.get(subscription_id)
            # Its deliveries go with it; pending outbox items would only fail later.
            items = [d.outbox_item_id for d in sub.deliveries]
            sub.delete_instance()
            if items:
                OutboxItem.delete().where(OutboxItem.id.in_(items), OutboxItem.state == "pending").execute()

    def deliveries(self, subscription_id: int, limit: int = 50, before: int | None = None) -> list[dict]:
        """The newest deliveries of a subscription with every attempt, newest first."""
        self.get(subscription_id)
        query = (
            WebhookDelivery.select(WebhookDelivery, OutboxItem)
            .join(OutboxItem)
            .where(WebhookDelivery.subscription == subscription_id)
        )
        if before is not None:
            query = query.where(WebhookDelivery.id < before)
        rows = list(query.order_by(WebhookDelivery.id.desc()).limit(limit))
        attempts: dict[int, list[dict[str, Any]]] = {d.id: [] for d in rows}
        for a in (
            WebhookAttempt.select()
            .where(WebhookAttempt.delivery.in_(list(attempts)))
            .order_by(WebhookAttempt.id)
        ):
            attempts[a.delivery_id].append(
                {
                    "number": a.number,
                    "at": iso(a.at),
                    "status_code": a.status_code,
                    "error": a.error,
                    "duration_ms": a.duration_ms,
                }
            )
        return [
            {
                "id": d.id,
                "event": d.event,
                "state": d.outbox_item.state,
                "attempts": attempts[d.id],
                "next_attempt_at": iso(d.outbox_item.next_attempt_at)
                if d.outbox_item.state == "pending"
                else None,
                "created_at": iso(d.created_at),
            }
            for d in rows
        ]

    # -- events in -------------------------------------------------------------------------

    def write_deliveries(self, events: list[Event]) -> None:
        """Notifier writer: the deliveries for one change's events, queued in the transaction
        that made the change (a crash after its commit cannot lose them). The subscriptions are
        read once for all of them: an email that opens a conversation publishes three."""
        wanted = [
            e
            for e in events
            if e.name in EVENTS
            # the API channel's adapter delivers agents' replies itself (forward_reply)
            and not (isinstance(e, MessageCreated) and e.channel == "api" and e.direction == "out")
        ]
        if not wanted:
            return
        enabled = self._enabled()
        first: OutboxItem | None = None
        for event in wanted:
            subs = [s for s in enabled if event.name in s.events]
            if not subs:
                continue
            try:
                data = snapshot(event)
            except Exception:  # one event that cannot be described must not lose the change or the others
                log.exception("webhooks: could not describe %s", event.name)
                continue
            items = [self._enqueue(sub, event.name, data) for sub in subs]
            first = first or items[0]
        if first is not None:
            self._notifier.publish([OutboxItemAdded(first.id, CHANNEL)])

    def forward_reply(self, message_id: int) -> None:
        """The API channel's delivery of an agent's reply: a ``message.created`` delivery to every
        subscription for it, each tied to the message so the inbox shows how it went."""
        subs = self._subscribers(MessageCreated.name)
        if not subs:
            raise DeliveryFailed(
                "no enabled webhook subscription for message.created, so the integrator cannot "
                "receive this reply; add one (callyard webhook add URL --event message.created)"
            )
        message = Message.get_by_id(message_id)
        data = snapshot(
            MessageCreated(message.id, message.interaction_id, message.channel, "out", message.agent_id)
        )
        with self._store.atomic():
            items = [self._enqueue(sub, MessageCreated.name, data, message_id) for sub in subs]
            self._notifier.publish([OutboxItemAdded(items[0].id, CHANNEL)])

    def _subscribers(self, event_name: str) -> list[WebhookSubscription]:
        return [sub for sub in self._enabled() if event_name in sub.events]

    @staticmethod
    def _enabled() -> list[WebhookSubscription]:
        # Read on every publish, not kept: the CLI (another process) and other cores add and
        # change subscriptions too, so a copy here could not know when it went stale.
        return _ENABLED.all()

    def _enqueue(
        self, sub: WebhookSubscription, event_name: str, data: dict[str, Any], message_id: int | None = None
    ) -> OutboxItem:
        now = self._clock()
        item = self._outbox.enqueue(
            CHANNEL, message_id, {"event": event_name, "data": data, "occurred_at": iso(now)}
        )
        WebhookDelivery.create(subscription=sub.id, outbox_item=item.id, event=event_name, created_at=now)
        return item

    # -- deliveries out --------------------------------------------------------------------

    def key(self, item: OutboxItem) -> str:
        """Which endpoint an item goes to, so the dispatcher can limit what is in flight per endpoint."""
        delivery = WebhookDelivery.get_or_none(WebhookDelivery.outbox_item == item.id)
        return f"webhook:{delivery.subscription_id if delivery else 0}"

    def deliver(self, item: OutboxItem) -> None:
        """One attempt at one delivery (called by the outbox dispatcher). Raises when it failed."""
        delivery = WebhookDelivery.get_or_none(WebhookDelivery.outbox_item == item.id)
        if delivery is None:
            raise GiveUp("the webhook subscription of this delivery was removed")
        sub = delivery.subscription
        if not sub.enabled:
            raise GiveUp(f"webhook subscription {sub.id} is disabled: {sub.disabled_reason}")
        number = item.attempts + 1
        timestamp = int(time.time())
        body = json.dumps(
            {
                "id": f"dlv_{delivery.id}",
                "event": delivery.event,
                "created_at": item.payload.get("occurred_at"),
                "timestamp": timestamp,
                "attempt": number,
                "data": item.payload.get("data", {}),
            },
            separators=(",", ":"),
        ).encode("utf-8")
        headers = {
            signing.SIGNATURE_HEADER: signing.sign(sub.secret, body),
            signing.TIMESTAMP_HEADER: str(timestamp),
            signing.EVENT_HEADER: delivery.event,
            signing.DELIVERY_HEADER: f"dlv_{delivery.id}",
        }
        started = time.monotonic()
        answer = http_post.post(sub.url, body, headers, self._timeout)
        self._record(delivery, sub, number, answer, int((time.monotonic() - started) * 1000))

    def record_interrupted(self, item: OutboxItem, error: str, duration_ms: int) -> None:
        """Log an attempt the dispatcher cut short (its overall deadline passed)."""
        delivery = WebhookDelivery.get_or_none(WebhookDelivery.outbox_item == item.id)
        number = item.attempts + 1
        if delivery is not None and not self._attempt_logged(delivery, number):
            answer = http_post.Answer(None, b"", error)
            with contextlib.suppress(DeliveryFailed, GiveUp):
                self._record(delivery, delivery.subscription, number, answer, duration_ms)

    @staticmethod
    def _attempt_logged(delivery: WebhookDelivery, number: int) -> bool:
        # On a loaded machine the deadline can fire after the attempt was already recorded
        # (while its commit was being answered); logging it twice would show a phantom retry.
        return (
            WebhookAttempt.select()
            .where(WebhookAttempt.delivery == delivery.id, WebhookAttempt.number == number)
            .exists()
        )

    def _record(
        self,
        delivery: WebhookDelivery,
        sub: WebhookSubscription,
        number: int,
        answer: http_post.Answer,
        duration_ms: int,
    ) -> None:
        now = self._clock()
        disabled = None
        stopped = ""
        with self._store.atomic():
            WebhookAttempt.create(
                delivery=delivery.id,
                number=number,
                at=now,
                status_code=answer.status,
                error=answer.error[:2000],
                duration_ms=duration_ms,
            )
            if answer.ok:
                WebhookSubscription.update(consecutive_failures=0).where(
                    WebhookSubscription.id == sub.id
                ).execute()
                return
            WebhookSubscription.update(
                consecutive_failures=WebhookSubscription.consecutive_failures + 1
            ).where(WebhookSubscription.id == sub.id).execute()
            fresh = WebhookSubscription.get_by_id(sub.id)
            if fresh.enabled and fresh.consecutive_failures >= self._disable_after:
                disabled = self._disable(fresh, delivery, answer.error, now)
                self._notifier.publish([disabled])
            elif not fresh.enabled:
                stopped = fresh.disabled_reason or "disabled"
        if stopped:  # switched off while this attempt was under way: no retry either
            raise GiveUp(f"webhook subscription {sub.id} is disabled: {stopped}")
        if disabled is not None:
            log.error(
                "webhook subscription %s (%s) disabled after %s failed attempts in a row (last: %s); "
                "fix the endpoint, then enable it again: callyard webhook enable %s",
                sub.id,
                sub.url,
                self._disable_after,
                answer.error,
                sub.id,
            )
            raise GiveUp(disabled.reason)
        raise DeliveryFailed(answer.error)

    def _disable(
        self, sub: WebhookSubscription, delivery: WebhookDelivery, error: str, now: dt.datetime
    ) -> WebhookDisabled:
        reason = f"{sub.consecutive_failures} failed attempts in a row; last: {error}"[:1000]
        WebhookSubscription.update(enabled=False, disabled_reason=reason, disabled_at=now).where(
            WebhookSubscription.id == sub.id
        ).execute()
        # Its other waiting deliveries will not be tried either: they fail now, visibly.
        waiting = WebhookDelivery.select(WebhookDelivery.outbox_item).where(
            WebhookDelivery.subscription == sub.id, WebhookDelivery.id != delivery.id
        )
        OutboxItem.update(state="failed", last_error=f"subscription disabled: {reason}"[:2000]).where(
            OutboxItem.id.in_(waiting), OutboxItem.state == "pending"
        ).execute()
        return WebhookDisabled(sub.id, sub.url, reason)
