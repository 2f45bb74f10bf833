"""The CRM lookup hook: on a new interaction, ask the company's CRM who this customer is.

The lookup is an outbox item (channel ``crm``), so it is retried like any delivery and never
slows the customer down. The CRM answers with a JSON object (``{"name": "Ada", "tier":
"gold"}``); it is stored for the contact and shown on the contact card. A 404 means "not in
the CRM" and is stored as an empty card.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from ..clock import Clock
from ..config import CrmConfig
from ..errors import NotFound
from ..events import ContactEnriched, Event, InteractionCreated, OutboxItemAdded
from ..models import Contact, ContactCrm, Interaction, OutboxItem
from ..store import Store
from . import http_post, signing
from .notifier import Notifier
from .outbox import OutboxService
from .views import crm_card

log = logging.getLogger(__name__)

CHANNEL = "crm"
MAX_FIELDS = 50


class LookupFailed(Exception):
    """The CRM did not answer usefully; the outbox tries again later."""


class CrmService:
    def __init__(
        self, store: Store, notifier: Notifier, clock: Clock, outbox: OutboxService, config: CrmConfig
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._outbox = outbox
        self._config = config

    @property
    def enabled(self) -> bool:
        return bool(self._config.url)

    def write_lookups(self, events: list[Event]) -> None:
        """Notifier writer: a new interaction asks the CRM about its contact, queued in the
        transaction that created it."""
        if not self.enabled:
            return
        for event in events:
            if not isinstance(event, InteractionCreated):
                continue
            interaction = Interaction.get_or_none(Interaction.id == event.interaction_id)
            if interaction is None:
                continue
            item = self._outbox.enqueue(
                CHANNEL,
                None,
                {"contact_id": interaction.contact_id, "interaction_id": interaction.id},
            )
            self._notifier.publish([OutboxItemAdded(item.id, CHANNEL)])

    def key(self, item: OutboxItem) -> str:
        return CHANNEL

    def deliver(self, item: OutboxItem) -> None:
        """Ask the CRM (one attempt) and store what it answered."""
        contact = Contact.get_or_none(Contact.id == item.payload.get("contact_id"))
        if contact is None:
            return  # the contact is gone; nothing to enrich
        interaction = Interaction.get_or_none(Interaction.id == item.payload.get("interaction_id"))
        timestamp = int(time.time())
        body = json.dumps(
            {
                "timestamp": timestamp,
                "contact": {
                    "id": contact.id,
                    "name": contact.name,
                    "identities": [{"kind": i.kind, "value": i.value} for i in contact.identities],
                },
                "interaction": None
                if interaction is None
                else {"id": interaction.id, "channel": interaction.channel},
            },
            separators=(",", ":"),
        ).encode("utf-8")
        headers = {signing.TIMESTAMP_HEADER: str(timestamp)}
        if self._config.secret:
            headers[signing.SIGNATURE_HEADER] = signing.sign(self._config.secret, body)
        answer = http_post.post(self._config.url, body, headers, self._config.timeout_seconds)
        if answer.status == 404:
            data: dict[str, Any] = {}
        elif not answer.ok:
            raise LookupFailed(answer.error)
        else:
            data = parse_card(answer.body)
        with self._store.atomic():
            now = self._clock()
            updated = (
                ContactCrm.update(data=data, fetched_at=now).where(ContactCrm.contact == contact.id).execute()
            )
            if not updated:
                ContactCrm.create(contact=contact.id, data=data, fetched_at=now)
            self._notifier.publish([ContactEnriched(contact.id)])

    def card(self, contact_id: int) -> dict[str, Any] | None:
        """What the contact card shows from the CRM, or None when it was never looked up."""
        return crm_card(contact_id)

    def lookup_now(self, contact_id: int) -> OutboxItem:
        """Queue a fresh lookup for a contact (e.g. after the CRM record changed)."""
        if not self.enabled:
            raise NotFound("no CRM lookup is configured (crm.url)", error_id="crm-not-configured")
        with self._store.atomic():
            item = self._outbox.enqueue(CHANNEL, None, {"contact_id": contact_id, "interaction_id": None})
            self._notifier.publish([OutboxItemAdded(item.id, CHANNEL)])
        return item


def parse_card(raw: bytes) -> dict[str, Any]:
    """The CRM's answer as a flat card: a JSON object of at most MAX_FIELDS short values."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise LookupFailed(f"the CRM answered something that is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise LookupFailed("the CRM must answer with a JSON object")
    card: dict[str, Any] = {}
    for key, value in list(data.items())[:MAX_FIELDS]:
        if isinstance(value, (str, int, float, bool)) or value is None:
            card[str(key)[:100]] = value[:1000] if isinstance(value, str) else value
        else:
            card[str(key)[:100]] = json.dumps(value)[:1000]
    return card
