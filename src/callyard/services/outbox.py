"""The outbox: everything Callyard sends out is stored first, then delivered and retried.

An item is created in the same transaction as what it sends (an agent's reply), so a crash
between the two cannot lose it. Delivery is at least once: a channel that must not repeat
itself dedupes by the item id it is given.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection
from typing import Any

import peewee as pw

from ..clock import Clock
from ..errors import Conflict, NotFound
from ..events import Event, MessageDeliveryFailed
from ..models import Attachment, Interaction, Message, OutboxItem
from ..store import Store
from .compose import last_inbound, sender_name
from .notifier import Notifier

log = logging.getLogger(__name__)

Deliver = Callable[[OutboxItem], None]


class GiveUp(Exception):
    """Raised by a deliverer when retrying cannot help (its endpoint was disabled): the item
    is marked failed at once instead of after every remaining attempt."""


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

    def due(
        self,
        now: dt.datetime,
        limit: int = 100,
        *,
        channels: Collection[str] | None = None,
        exclude: Collection[str] = (),
    ) -> list[OutboxItem]:
        """Items whose time has come; ``channels``/``exclude`` split them between dispatchers
        (gateway processes claim their channels' items themselves)."""
        query = OutboxItem.select().where(OutboxItem.state == "pending", OutboxItem.next_attempt_at <= now)
        if channels is not None:
            query = query.where(OutboxItem.channel.in_(list(channels)))
        if exclude:
            query = query.where(OutboxItem.channel.not_in(list(exclude)))
        return list(query.order_by(OutboxItem.next_attempt_at, OutboxItem.id).limit(limit))

    @staticmethod
    def unchanged(item: OutboxItem) -> bool:
        """Whether ``item`` is still due as read: pending, after as many attempts."""
        return (
            OutboxItem.select(OutboxItem.id)
            .where(
                OutboxItem.id == item.id, OutboxItem.state == "pending", OutboxItem.attempts == item.attempts
            )
            .exists()
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
        give_up = False
        if deliver is None:
            error = f"no adapter is running for channel {item.channel!r}"
        else:
            try:
                deliver(item)
            except Exception as exc:  # an adapter's failure of any kind is a failed attempt
                error = f"{type(exc).__name__}: {exc}"
                give_up = isinstance(exc, GiveUp)
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
                events = self._record_failure(item, error, now, permanent=give_up)
            self._notifier.publish(events)
        return not error

    def _record_failure(
        self, item: OutboxItem, error: str, now: dt.datetime, *, permanent: bool
    ) -> list[Event]:
        """Count a failed attempt: retry later with doubling backoff, or give up visibly."""
        attempts = item.attempts + 1
        failed = permanent or attempts >= self._max_attempts
        retry_at = now + dt.timedelta(seconds=self._retry_base * 2 ** (attempts - 1))
        OutboxItem.update(
            state="failed" if failed else "pending",
            attempts=attempts,
            last_error=error[:2000],
            next_attempt_at=retry_at,
            claimed_by="",
            lease_until=None,
        ).where(OutboxItem.id == item.id).execute()
        if failed and item.message_id:
            message = Message.get_by_id(item.message_id)
            return [MessageDeliveryFailed(message.id, message.interaction_id, error)]
        return []

    # -- gateways: claim, then confirm ------------------------------------------------------

    def claim(self, channel: str, worker: str, *, limit: int, lease_seconds: int) -> list[OutboxItem]:
        """Due items of ``channel`` for a gateway, each leased to ``worker`` for a while.

        A leased item is not offered again until the lease runs out, so a gateway that dies
        with items in hand delays them by one lease, and loses none. On PostgreSQL two
        gateways claiming at once skip each other's rows instead of waiting for them.
        """
        now = self._clock()
        with self._store.atomic():
            query = (
                OutboxItem.select()
                .where(
                    OutboxItem.channel == channel,
                    OutboxItem.state == "pending",
                    OutboxItem.next_attempt_at <= now,
                    OutboxItem.lease_until.is_null() | (OutboxItem.lease_until <= now),
                )
                .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
                .limit(limit)
            )
            if self._store.dialect == "postgresql":
                query = query.for_update("FOR UPDATE SKIP LOCKED")
            items = list(query)
            if items:
                lease_until = now + dt.timedelta(seconds=lease_seconds)
                OutboxItem.update(claimed_by=worker, lease_until=lease_until).where(
                    OutboxItem.id.in_([i.id for i in items])
                ).execute()
                for item in items:
                    item.claimed_by, item.lease_until = worker, lease_until
        return items

    def delivered(self, item_id: int, channel: str, external_id: str | None = None) -> OutboxItem:
        """A gateway delivered the item. ``external_id`` (e.g. the sent email's Message-ID) is
        kept on the message, so the customer's answer to it finds the conversation."""
        now = self._clock()
        with self._store.atomic():
            item = self._claimed(item_id, channel)
            if item.state == "sent":  # a repeated confirmation changes nothing
                return item
            OutboxItem.update(
                state="sent",
                sent_at=now,
                attempts=OutboxItem.attempts + 1,
                last_error="",
                claimed_by="",
                lease_until=None,
            ).where(OutboxItem.id == item.id).execute()
            if external_id and item.message_id:
                try:
                    with self._store.atomic():  # a savepoint: a taken id only skips this update
                        Message.update(external_id=external_id[:255]).where(
                            Message.id == item.message_id
                        ).execute()
                except pw.IntegrityError:
                    log.warning("outbox item %s: external id %r is taken already", item.id, external_id)
        return OutboxItem.get_by_id(item_id)

    def failed(self, item_id: int, channel: str, error: str, *, permanent: bool = False) -> OutboxItem:
        """A gateway's attempt failed: retried with backoff, or given up on at once when the
        failure is ``permanent`` (the other side refused for good)."""
        now = self._clock()
        with self._store.atomic():
            item = self._claimed(item_id, channel)
            if item.state != "pending":
                raise Conflict(f"outbox item {item_id} is {item.state} already", error_id="outbox-item-done")
            events = self._record_failure(item, error or "unknown error", now, permanent=permanent)
            self._notifier.publish(events)
        return OutboxItem.get_by_id(item_id)

    @staticmethod
    def _claimed(item_id: int, channel: str) -> OutboxItem:
        item = OutboxItem.get_or_none(OutboxItem.id == item_id, OutboxItem.channel == channel)
        if item is None:
            raise NotFound(f"no {channel} outbox item {item_id}", error_id="outbox-item-not-found")
        return item

    def status_of(self, message_id: int) -> dict[str, Any] | None:
        item = (
            OutboxItem.select().where(OutboxItem.message == message_id).order_by(OutboxItem.id.desc()).first()
        )
        return None if item is None else delivery_of(item)


def delivery_of(item: OutboxItem) -> dict[str, Any]:
    """How the delivery of an outbound message stands, as the inbox shows it."""
    return {"state": item.state, "attempts": item.attempts, "error": item.last_error}


THREAD_LIMIT = 50


def job_of(item: OutboxItem) -> dict[str, Any]:
    """What a gateway needs to deliver an item, channel-neutral: the message, its conversation,
    the customer's identities and the ids the channel gave earlier messages (oldest first)."""
    job: dict[str, Any] = {
        "id": item.id,
        "channel": item.channel,
        "attempts": item.attempts,
        "payload": item.payload,
        "message": None,
        "interaction": None,
        "contact": None,
        "thread": [],
    }
    if not item.message_id:
        return job
    message = Message.get_by_id(item.message_id)
    interaction = Interaction.get_by_id(message.interaction_id)
    contact = interaction.contact
    job["message"] = {
        "id": message.id,
        "body": message.body,
        "meta": message.meta,
        "agent_name": message.agent.name if message.agent_id else None,
        "created_at": message.created_at.isoformat(),
    }
    job["interaction"] = {
        "id": interaction.id,
        "thread_key": interaction.thread_key,
        "subject": interaction.subject,
    }
    job["contact"] = {
        "name": contact.name,
        "identities": [{"kind": i.kind, "value": i.value} for i in contact.identities],
    }
    earlier = (
        Message.select(Message.direction, Message.external_id, Message.meta)
        .where(
            Message.interaction == interaction.id,
            Message.id != message.id,
            Message.external_id.is_null(False),
        )
        .order_by(Message.id.desc())
        .limit(THREAD_LIMIT)
    )
    job["thread"] = [
        {"direction": m.direction, "external_id": m.external_id, "meta": m.meta}
        for m in reversed(list(earlier))
    ]
    _add_compose(job, message, interaction)
    return job


def _add_compose(job: dict[str, Any], message: Message, interaction: Interaction) -> None:
    """The composer's part of a job: the files the reply carries (a gateway fetches each from
    ``/internal/v1/outbox/<item>/attachments/<id>``) and the customer's last message before it,
    which an email reply quotes."""
    job["attachments"] = [
        {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size}
        for a in Attachment.select().where(Attachment.message == message.id).order_by(Attachment.id)
    ]
    last_in = last_inbound(interaction.id, before=message.id)
    job["quote"] = (
        None
        if last_in is None
        else {
            "name": sender_name(interaction, last_in),
            "created_at": last_in.created_at.isoformat(),
            "body": last_in.body,
        }
    )
