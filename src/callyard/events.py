"""Every domain event, in one module.

Events are frozen dataclasses named ``<Noun><PastVerb>``; ``name`` is the wire name
``noun.past_verb`` used by Socket.IO pushes and, later, webhooks. They carry ids and the few
fields a listener needs to decide whether it cares; listeners read the rest from the store.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Event:
    name: ClassVar[str] = "event"


@dataclass(frozen=True)
class InteractionCreated(Event):
    name: ClassVar[str] = "interaction.created"
    interaction_id: int
    channel: str


@dataclass(frozen=True)
class InteractionQueued(Event):
    name: ClassVar[str] = "interaction.queued"
    interaction_id: int
    queue: str


@dataclass(frozen=True)
class InteractionOffered(Event):
    name: ClassVar[str] = "interaction.offered"
    interaction_id: int
    agent_id: int
    offer_id: int
    expires_at: dt.datetime


@dataclass(frozen=True)
class OfferWithdrawn(Event):
    """An offer that will not be accepted any more: expired, rejected or taken elsewhere."""

    name: ClassVar[str] = "offer.withdrawn"
    interaction_id: int
    agent_id: int
    offer_id: int
    reason: str


@dataclass(frozen=True)
class InteractionAssigned(Event):
    name: ClassVar[str] = "interaction.assigned"
    interaction_id: int
    agent_id: int


@dataclass(frozen=True)
class InteractionWrappedUp(Event):
    """The conversation is over for the customer; the agent is in wrap-up."""

    name: ClassVar[str] = "interaction.wrapped_up"
    interaction_id: int
    agent_id: int


@dataclass(frozen=True)
class InteractionClosed(Event):
    name: ClassVar[str] = "interaction.closed"
    interaction_id: int
    agent_id: int | None


@dataclass(frozen=True)
class InteractionAbandoned(Event):
    """The customer left before an agent took the interaction."""

    name: ClassVar[str] = "interaction.abandoned"
    interaction_id: int
    queue: str


@dataclass(frozen=True)
class MessageCreated(Event):
    name: ClassVar[str] = "message.created"
    message_id: int
    interaction_id: int
    channel: str
    direction: str
    agent_id: int | None


@dataclass(frozen=True)
class MessageDeliveryFailed(Event):
    name: ClassVar[str] = "message.delivery_failed"
    message_id: int
    interaction_id: int
    error: str


@dataclass(frozen=True)
class AgentPresenceChanged(Event):
    name: ClassVar[str] = "agent.presence_changed"
    agent_id: int
    presence: str
    reason: str


@dataclass(frozen=True)
class OutboxItemAdded(Event):
    name: ClassVar[str] = "outbox.item_added"
    item_id: int
    channel: str


ALL: tuple[type[Event], ...] = (
    InteractionCreated,
    InteractionQueued,
    InteractionOffered,
    OfferWithdrawn,
    InteractionAssigned,
    InteractionWrappedUp,
    InteractionClosed,
    InteractionAbandoned,
    MessageCreated,
    MessageDeliveryFailed,
    AgentPresenceChanged,
    OutboxItemAdded,
)


@dataclass(frozen=True)
class WebhookDisabled(Event):
    """A webhook endpoint kept failing and was switched off; an admin should look at it."""

    name: ClassVar[str] = "webhook.disabled"
    subscription_id: int
    url: str
    reason: str


# -- routing (escalation, timeouts, agents who do not answer) --------------------------------


@dataclass(frozen=True)
class InteractionOverflowed(Event):
    """An escalation step moved waiting work to another queue."""

    name: ClassVar[str] = "interaction.overflowed"
    interaction_id: int
    from_queue: str
    to_queue: str


@dataclass(frozen=True)
class InteractionTimedOut(Event):
    """Nobody took the work in time (or the queue is closed): ``action`` is voicemail, callback
    or close. The interaction is already in that state; a voice channel records the voicemail
    or offers the callback."""

    name: ClassVar[str] = "interaction.timed_out"
    interaction_id: int
    queue: str
    action: str
    reason: str


@dataclass(frozen=True)
class ContactEnriched(Event):
    """The CRM lookup answered for a contact: the contact card has new data."""

    name: ClassVar[str] = "contact.enriched"
    contact_id: int


@dataclass(frozen=True)
class AgentMarkedNotReady(Event):
    """An agent let ``missed`` offers in a row time out and was put on break "not-ready";
    supervisors are told."""

    name: ClassVar[str] = "agent.marked_not_ready"
    agent_id: int
    missed: int


ALL = (
    *ALL,
    WebhookDisabled,
    ContactEnriched,
    InteractionOverflowed,
    InteractionTimedOut,
    AgentMarkedNotReady,
)
# -- the agent inbox (issue 8) ---------------------------------------------------------------


@dataclass(frozen=True)
class InteractionTransferred(Event):
    """An agent handed an interaction to another agent (as an offer) or back to a queue."""

    name: ClassVar[str] = "interaction.transferred"
    interaction_id: int
    from_agent_id: int
    to_agent_id: int | None
    queue: str


@dataclass(frozen=True)
class InteractionWorkChanged(Event):
    """Its request stage, labels or wrap-up details changed."""

    name: ClassVar[str] = "interaction.work_changed"
    interaction_id: int
    agent_id: int | None


@dataclass(frozen=True)
class ContactsMerged(Event):
    name: ClassVar[str] = "contacts.merged"
    kept_id: int
    merged_id: int


@dataclass(frozen=True)
class CustomerTyped(Event):
    """The customer is typing in a conversation an agent holds (live only, never stored)."""

    name: ClassVar[str] = "customer.typed"
    interaction_id: int
    agent_id: int


ALL += (InteractionTransferred, InteractionWorkChanged, ContactsMerged, CustomerTyped)
# -- calls in the inbox (issues 5 and 8) -----------------------------------------------------


@dataclass(frozen=True)
class CallStateChanged(Event):
    """A call's record moved (ringing, talking, on hold, back in line, ended): the agent who has
    it and the supervisors watching see it live. ``state`` is the call record's state."""

    name: ClassVar[str] = "call.state_changed"
    interaction_id: int
    agent_id: int | None
    state: str


ALL += (CallStateChanged,)


@dataclass(frozen=True)
class CallAnswered(Event):
    """An agent took a call: caller and agent are joined (webhooks' ``call.answered``)."""

    name: ClassVar[str] = "call.answered"
    interaction_id: int
    agent_id: int
    uuid: str


@dataclass(frozen=True)
class CallEnded(Event):
    """The caller's leg is gone (webhooks' ``call.ended``); ``outcome`` is the call record's:
    answered, abandoned, callback, voicemail."""

    name: ClassVar[str] = "call.ended"
    interaction_id: int
    agent_id: int | None
    uuid: str
    outcome: str


ALL += (CallAnswered, CallEnded)
