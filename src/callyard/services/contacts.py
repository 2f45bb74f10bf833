"""Contacts: customers, known by any of their identities (phone, email, Telegram id, chat visitor)."""

from __future__ import annotations

import peewee as pw

from ..clock import Clock
from ..errors import InvalidInput
from ..models import IDENTITY_KINDS, Contact, Identity


class ContactService:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def find_or_create(self, kind: str, value: str, name: str = "") -> Contact:
        """The contact owning this identity, created with it if new. Call inside a transaction."""
        if kind not in IDENTITY_KINDS:
            raise InvalidInput(f"unknown identity kind {kind!r}; use one of {', '.join(IDENTITY_KINDS)}")
        value = value.strip()
        if not value or len(value) > 255:
            raise InvalidInput(f"identity {kind} must be 1-255 characters")
        identity = Identity.select().where(Identity.kind == kind, Identity.value == value).first()
        if identity is not None:
            return identity.contact
        now = self._clock()
        contact = Contact.create(name=name[:255], created_at=now)
        try:
            # A savepoint, so that losing a race to another writer does not spoil the
            # caller's transaction.
            with Contact._meta.database.atomic():
                Identity.create(contact=contact, kind=kind, value=value, created_at=now)
        except pw.IntegrityError:
            contact.delete_instance()
            return Identity.get(Identity.kind == kind, Identity.value == value).contact
        return contact
