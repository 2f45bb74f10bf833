"""Contacts: customers, known by any of their identities (phone, email, Telegram id, chat visitor)."""

from __future__ import annotations

import peewee as pw

from ..clock import Clock
from ..errors import Conflict, InvalidInput
from ..models import IDENTITY_KINDS, Contact, Identity
from ..prepared import Prepared, slot

# The owner of an identity, with the contact in the same query: this runs for every customer
# message (its SQL built once, see callyard.prepared).
_OWNER = Prepared(
    lambda: (
        Identity.select(Identity, Contact)
        .join(Contact)
        .where(Identity.kind == slot("kind"), Identity.value == slot("value"))
        .limit(1)
    )
)

_INSERT_CONTACT = Prepared(
    lambda: Contact.insert(name=slot("name"), created_at=slot("now", Contact.created_at)).returning(
        Contact.id
    )
)
_INSERT_IDENTITY = Prepared(
    lambda: Identity.insert(
        contact=slot("contact"),
        kind=slot("kind"),
        value=slot("value"),
        created_at=slot("now", Identity.created_at),
    )
)


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
        identity = _OWNER.first(kind=kind, value=value)
        if identity is not None:
            return identity.contact
        now = self._clock()
        contact = Contact(name=name[:255], created_at=now)
        contact.id = _INSERT_CONTACT.scalar(name=contact.name, now=now)
        try:
            # A savepoint, so that losing a race to another writer does not spoil the
            # caller's transaction.
            with Contact._meta.database.atomic():
                _INSERT_IDENTITY.execute(contact=contact.id, kind=kind, value=value, now=now)
        except pw.IntegrityError:
            contact.delete_instance()
            return Identity.get(Identity.kind == kind, Identity.value == value).contact
        return contact

    def add_identity(self, contact_id: int, kind: str, value: str) -> bool:
        """Record another identity of a known contact (a phone shared in Telegram, say).

        One that already belongs to another contact is left alone: two records being the same
        person is for an agent to decide (merge), not for whoever typed the number. Returns
        whether the contact has the identity now. Call inside a transaction.
        """
        if kind not in IDENTITY_KINDS:
            raise InvalidInput(f"unknown identity kind {kind!r}; use one of {', '.join(IDENTITY_KINDS)}")
        value = value.strip()
        if not value or len(value) > 255:
            raise InvalidInput(f"identity {kind} must be 1-255 characters")
        owner = Identity.select().where(Identity.kind == kind, Identity.value == value).first()
        if owner is not None:
            return owner.contact_id == contact_id
        try:
            with Contact._meta.database.atomic():
                Identity.create(contact=contact_id, kind=kind, value=value, created_at=self._clock())
        except pw.IntegrityError:
            return False
        return True

    def create(self, name: str, identities: list[tuple[str, str]]) -> Contact:
        """A new contact with these identities; none of them may belong to a contact already.
        Call inside a transaction."""
        identities = list(dict.fromkeys((kind, value.strip()) for kind, value in identities))
        for kind, value in identities:
            if kind not in IDENTITY_KINDS:
                raise InvalidInput(f"unknown identity kind {kind!r}; use one of {', '.join(IDENTITY_KINDS)}")
            if not value or len(value) > 255:
                raise InvalidInput(f"identity {kind} must be 1-255 characters")
            taken = Identity.get_or_none(Identity.kind == kind, Identity.value == value)
            if taken is not None:
                raise Conflict(
                    f"{kind} {value!r} belongs to contact {taken.contact_id} already",
                    error_id="identity-taken",
                    contact_id=taken.contact_id,
                )
        now = self._clock()
        contact = Contact.create(name=name.strip()[:255], created_at=now)
        for kind, value in identities:
            try:
                # A savepoint: losing a race for this identity leaves the transaction usable.
                with Contact._meta.database.atomic():
                    Identity.create(contact=contact, kind=kind, value=value, created_at=now)
            except pw.IntegrityError:
                raise Conflict(
                    f"{kind} {value!r} was just given to another contact", error_id="identity-taken"
                ) from None
        return contact
