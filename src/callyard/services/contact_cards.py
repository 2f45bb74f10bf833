"""The contact card: who the customer is (identities), everything they ever sent us on any
channel, the team's notes about them; and merging two contacts that are the same person."""

from __future__ import annotations

from typing import Any

from ..clock import Clock
from ..errors import Forbidden, InvalidInput, NotFound
from ..events import ContactsMerged
from ..models import Agent, Contact, ContactNote, Identity, Interaction
from ..store import Store
from . import access
from .notifier import Notifier
from .views import iso
from .workdesk import clean_note

FIND_LIMIT = 10


def contact_dict(contact: Contact) -> dict[str, Any]:
    identities = [{"kind": i.kind, "value": i.value} for i in contact.identities.order_by(Identity.id)]
    name = contact.name or next((i["value"] for i in identities if i["kind"] != "chat_visitor"), "")
    if not name:
        visitor = next((i["value"] for i in identities), "")
        name = f"Visitor {visitor[:6]}" if visitor else "Unknown"
    return {"id": contact.id, "name": name, "identities": identities}


class ContactCards:
    def __init__(self, store: Store, notifier: Notifier, clock: Clock, inbox_views: Any) -> None:
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._views = inbox_views

    def card(self, agent: Agent, contact_id: int) -> dict[str, Any]:
        contact = self._visible(agent, contact_id)
        history = (
            Interaction.select()
            .where(Interaction.contact == contact.id)
            .order_by(Interaction.created_at.desc(), Interaction.id.desc())
        )
        notes = ContactNote.select().where(ContactNote.contact == contact.id).order_by(ContactNote.id.desc())
        return {
            "contact": contact_dict(contact),
            "history": [self._history_item(agent, i) for i in history],
            "notes": [
                {
                    "id": n.id,
                    "body": n.body,
                    "agent_name": n.agent.name if n.agent_id else None,
                    "created_at": iso(n.created_at),
                }
                for n in notes
            ],
        }

    def _history_item(self, agent: Agent, interaction: Interaction) -> dict[str, Any]:
        item = {**self._views.work_item(interaction, None), "can_open": access.can_see(agent, interaction.id)}
        # An earlier call's recording plays on the card for whom /calls/<id>/recording serves it:
        # the agent who took the call and supervisors (a teammate sees the call, not the audio).
        call = item.get("call")
        url = call.get("recording_url") if call else None
        may_play = access.is_manager(agent) or interaction.agent_id == agent.id
        item["recording_url"] = url if url and may_play else None
        return item

    def add_note(self, agent: Agent, contact_id: int, body: object) -> None:
        text = clean_note(body)
        if not text:
            raise InvalidInput("a note cannot be empty", error_id="empty-note")
        with self._store.atomic():
            contact = self._visible(agent, contact_id)
            ContactNote.create(contact=contact.id, agent=agent.id, body=text, created_at=self._clock())

    def find(self, agent: Agent, query: object) -> list[dict[str, Any]]:
        """Contacts the agent may see whose name or identity contains ``query`` (to merge with)."""
        if not isinstance(query, str) or not 2 <= len(query.strip()) <= 200:
            raise InvalidInput("type at least 2 characters to find a contact", error_id="invalid-search")
        text = query.strip()
        by_identity = Identity.select(Identity.contact).where(Identity.value.contains(text))
        found = Contact.select().where(Contact.name.contains(text) | Contact.id.in_(by_identity))
        if not access.is_manager(agent):
            seen = Interaction.select(Interaction.contact).where(access.visible(agent))
            found = found.where(Contact.id.in_(seen))
        return [contact_dict(c) for c in found.order_by(Contact.id).limit(FIND_LIMIT)]

    def merge(self, agent: Agent, keep_id: int, merge_id: int) -> dict[str, Any]:
        """Make ``merge_id`` part of ``keep_id``: its identities, interactions and notes move over."""
        if keep_id == merge_id:
            raise InvalidInput("pick two different contacts to merge", error_id="invalid-merge")
        with self._store.atomic():
            keep = self._visible(agent, keep_id)
            gone = self._visible(agent, merge_id)
            Identity.update(contact=keep.id).where(Identity.contact == gone.id).execute()
            Interaction.update(contact=keep.id).where(Interaction.contact == gone.id).execute()
            ContactNote.update(contact=keep.id).where(ContactNote.contact == gone.id).execute()
            if not keep.name and gone.name:
                Contact.update(name=gone.name).where(Contact.id == keep.id).execute()
            Contact.delete().where(Contact.id == gone.id).execute()
            self._notifier.publish([ContactsMerged(keep.id, gone.id)])
        return self.card(agent, keep.id)

    def _visible(self, agent: Agent, contact_id: int) -> Contact:
        contact = Contact.get_or_none(Contact.id == contact_id)
        if contact is None:
            raise NotFound(f"no contact with id {contact_id}", error_id="contact-not-found")
        if access.is_manager(agent):
            return contact
        if not Interaction.select().where(Interaction.contact == contact.id, access.visible(agent)).exists():
            raise Forbidden("this contact is not one of yours or your queues'", error_id="not-your-contact")
        return contact
