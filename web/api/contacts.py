"""/contacts: customers and their identities, with what the CRM lookup said about them."""

from __future__ import annotations

from typing import Any

from callyard.errors import NotFound
from callyard.models import Contact, Identity

from . import roles, schemas
from .framework import Api, Call
from .pages import page


def contact_out(call: Call, contact: Contact) -> dict[str, Any]:
    assert call.services.crm is not None
    return {
        "id": contact.id,
        "name": contact.name,
        "identities": [
            {"kind": i.kind, "value": i.value}
            for i in Identity.select().where(Identity.contact == contact.id).order_by(Identity.id)
        ],
        "created_at": contact.created_at.replace(microsecond=0).isoformat() + "Z",
        "crm": call.services.crm.card(contact.id),
    }


def add_routes(api: Api) -> None:
    @api.route(
        "GET",
        "/contacts",
        tag="contacts",
        roles=roles.ANY,
        query=schemas.ContactQuery,
        response=schemas.ContactPage,
    )
    def list_contacts(call: Call) -> dict[str, Any]:
        """List contacts, newest first; filter by an identity."""
        q: schemas.ContactQuery = call.query
        query = Contact.select()
        if q.kind is not None or q.value is not None:
            match = Identity.select(Identity.contact)
            if q.kind is not None:
                match = match.where(Identity.kind == q.kind)
            if q.value is not None:
                match = match.where(Identity.value == q.value.strip())
            query = query.where(Contact.id.in_(match))
        rows, next_cursor = page(query, Contact.id, q.limit, q.cursor)
        return {"items": [contact_out(call, c) for c in rows], "next_cursor": next_cursor}

    @api.route(
        "POST",
        "/contacts",
        tag="contacts",
        roles=roles.INTEGRATE,
        body=schemas.ContactCreate,
        response=schemas.ContactOut,
        status=201,
        errors=(409,),
    )
    def create_contact(call: Call) -> dict[str, Any]:
        """Create a contact with its identities (phone, email, Telegram id).
        An identity that belongs to another contact already is refused with 409 `identity-taken`."""
        body: schemas.ContactCreate = call.body
        services = call.services
        with services.store.atomic():
            contact = services.contacts.create(body.name, [(i.kind, i.value) for i in body.identities])
        return contact_out(call, contact)

    @api.route("GET", "/contacts/{contact_id}", tag="contacts", roles=roles.ANY, response=schemas.ContactOut)
    def get_contact(call: Call, contact_id: int) -> dict[str, Any]:
        """Read one contact: identities and the CRM card."""
        contact = Contact.get_or_none(Contact.id == contact_id)
        if contact is None:
            raise NotFound(f"no contact with id {contact_id}", error_id="contact-not-found")
        return contact_out(call, contact)
