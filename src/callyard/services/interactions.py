"""Interactions: what customers send in, and what agents do with it (accept, reply, close)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import peewee as pw

from ..clock import Clock
from ..config import CHANNELS
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..events import (
    Event,
    InteractionAbandoned,
    InteractionAssigned,
    InteractionClosed,
    InteractionCreated,
    InteractionQueued,
    InteractionWrappedUp,
    MessageCreated,
    OutboxItemAdded,
)
from ..models import (
    ABANDONED,
    ACTIVE,
    CLOSED,
    NEW,
    OFFERED,
    QUEUED,
    TRANSITIONS,
    WRAP_UP,
    Agent,
    Interaction,
    Message,
    Offer,
    Queue,
    StateChange,
)
from ..store import Store
from .contacts import ContactService
from .notifier import Notifier
from .offers import end_offer
from .outbox import OutboxService

# States in which a new customer message continues the conversation instead of opening a new one.
CONTINUING = (NEW, QUEUED, OFFERED, ACTIVE)
MAX_REPLY_BYTES = 64 * 1024


@dataclass(frozen=True)
class Ingested:
    interaction_id: int
    message_id: int
    # True when this exact message (same channel and external id) was stored before.
    duplicate: bool


def check_body(body: str, max_bytes: int) -> str:
    """The message text, or a clear InvalidInput for an empty or oversized one."""
    if not isinstance(body, str):
        raise InvalidInput("a message must be text", error_id="invalid-message")
    if not body.strip():
        raise InvalidInput("a message cannot be empty", error_id="empty-message")
    size = len(body.encode("utf-8"))
    if size > max_bytes:
        raise InvalidInput(
            f"a message can be at most {max_bytes} bytes; this one is {size}",
            error_id="message-too-large",
            max_bytes=max_bytes,
        )
    return body


class InteractionService:
    def __init__(
        self, store: Store, notifier: Notifier, clock: Clock, contacts: ContactService, outbox: OutboxService
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._contacts = contacts
        self._outbox = outbox

    # -- customers -------------------------------------------------------------------------

    def ingest(
        self,
        *,
        channel: str,
        identity: tuple[str, str],
        body: str,
        queue: str,
        thread_key: str,
        external_id: str | None = None,
        max_bytes: int = MAX_REPLY_BYTES,
        contact_name: str = "",
    ) -> Ingested:
        """Store a customer's message, opening an interaction in ``queue`` if none is open.

        Returns only after the commit, so the channel may acknowledge the customer then. A
        message whose (channel, external_id) is already stored is not stored again.
        """
        if channel not in CHANNELS:
            raise InvalidInput(f"unknown channel {channel!r}", error_id="invalid-channel")
        check_body(body, max_bytes)
        if external_id is not None and not 0 < len(external_id) <= 255:
            raise InvalidInput("external_id must be 1-255 characters", error_id="invalid-message")
        target = Queue.get_or_none(Queue.name == queue)
        if target is None:
            raise NotFound(f"queue {queue!r} does not exist", error_id="queue-not-found")
        try:
            return self._ingest(channel, identity, body, target, thread_key, external_id, contact_name)
        except pw.IntegrityError:
            # Lost a race with the same message arriving twice at once: the other one won.
            existing = self._existing(channel, external_id)
            if existing is None:
                raise
            return existing

    def _ingest(
        self,
        channel: str,
        identity: tuple[str, str],
        body: str,
        queue: Queue,
        thread_key: str,
        external_id: str | None,
        contact_name: str,
    ) -> Ingested:
        events: list[Event] = []
        now = self._clock()
        with self._store.atomic():
            # Two messages of one new conversation at once must not open two interactions.
            self._store.lock(f"thread:{channel}:{thread_key}")
            existing = self._existing(channel, external_id)
            if existing is not None:
                return existing
            contact = self._contacts.find_or_create(*identity, name=contact_name)
            interaction = (
                Interaction.select()
                .where(
                    Interaction.channel == channel,
                    Interaction.thread_key == thread_key,
                    Interaction.state.in_(CONTINUING),
                )
                .order_by(Interaction.id.desc())
                .first()
            )
            if interaction is None:
                interaction = Interaction.create(
                    contact=contact,
                    channel=channel,
                    queue=queue,
                    state=NEW,
                    priority=0,
                    thread_key=thread_key,
                    created_at=now,
                    updated_at=now,
                )
                StateChange.create(interaction=interaction, from_state=None, to_state=NEW, at=now)
                self._move(interaction, QUEUED, now, queued_at=now)
                events += [
                    InteractionCreated(interaction.id, channel),
                    InteractionQueued(interaction.id, queue.name),
                ]
            message = Message.create(
                interaction=interaction,
                channel=channel,
                direction="in",
                body=body,
                external_id=external_id,
                created_at=now,
            )
            Interaction.update(last_message_at=now, updated_at=now).where(
                Interaction.id == interaction.id
            ).execute()
            events.append(MessageCreated(message.id, interaction.id, channel, "in", None))
        self._notifier.publish(events)
        return Ingested(interaction.id, message.id, duplicate=False)

    @staticmethod
    def _existing(channel: str, external_id: str | None) -> Ingested | None:
        if external_id is None:
            return None
        message = Message.get_or_none(Message.channel == channel, Message.external_id == external_id)
        if message is None:
            return None
        return Ingested(message.interaction_id, message.id, duplicate=True)

    def customer_left(self, channel: str, thread_key: str) -> int | None:
        """The customer ended the conversation (closed the chat, hung up).

        Work no agent has taken yet is abandoned, withdrawing its offer; work an agent holds
        stays with them to close. Returns the abandoned interaction's id, if any.
        """
        now = self._clock()
        events: list[Event] = []
        with self._store.atomic():
            interaction = (
                Interaction.select()
                .where(
                    Interaction.channel == channel,
                    Interaction.thread_key == thread_key,
                    Interaction.state.in_((NEW, QUEUED, OFFERED)),
                )
                .order_by(Interaction.id.desc())
                .first()
            )
            if interaction is None:
                return None
            for offer in Offer.select().where(Offer.interaction == interaction.id, Offer.state == "pending"):
                events += end_offer(offer, now, "withdrawn", "customer left")
                interaction = self._get(interaction.id)  # end_offer put it back in the queue
            events = [e for e in events if not isinstance(e, InteractionQueued)]
            self._move(interaction, ABANDONED, now, ended_at=now, agent=None)
            queue_name = interaction.queue.name if interaction.queue_id else ""
            events.append(InteractionAbandoned(interaction.id, queue_name))
        self._notifier.publish(events)
        return interaction.id

    # -- agents ----------------------------------------------------------------------------

    def accept(self, agent_id: int, interaction_id: int) -> Interaction:
        """Take an offered interaction. Exactly one agent wins; the others get a Conflict."""
        now = self._clock()
        events: list[Event] = []
        with self._store.atomic():
            offer = (
                Offer.select()
                .where(Offer.interaction == interaction_id, Offer.agent == agent_id, Offer.state == "pending")
                .first()
            )
            if offer is None:
                last = (
                    Offer.select(Offer.state)
                    .where(Offer.interaction == interaction_id, Offer.agent == agent_id)
                    .order_by(Offer.id.desc())
                    .first()
                )
                if last is not None and last.state == "expired":  # the router's tick came first
                    raise Conflict("the offer timed out before it was accepted", error_id="offer-expired")
                raise Conflict("this offer is no longer available", error_id="offer-gone")
            if offer.expires_at <= now:
                events += end_offer(offer, now, "expired", "offer timed out")
            else:
                taken = (
                    Offer.update(state="accepted", decided_at=now)
                    .where(Offer.id == offer.id, Offer.state == "pending")
                    .execute()
                )
                interaction = self._get(interaction_id)
                if not taken or interaction.state != OFFERED or interaction.agent_id != agent_id:
                    raise Conflict("this offer is no longer available", error_id="offer-gone")
                self._move(interaction, ACTIVE, now, agent_id=agent_id, answered_at=now)
                events.append(InteractionAssigned(interaction_id, agent_id))
        self._notifier.publish(events)
        if not any(isinstance(e, InteractionAssigned) for e in events):
            raise Conflict("the offer timed out before it was accepted", error_id="offer-expired")
        return self._get(interaction_id)

    def reject(self, agent_id: int, interaction_id: int) -> None:
        now = self._clock()
        with self._store.atomic():
            offer = (
                Offer.select()
                .where(Offer.interaction == interaction_id, Offer.agent == agent_id, Offer.state == "pending")
                .first()
            )
            if offer is None:
                raise Conflict("this offer is no longer available", error_id="offer-gone")
            events = end_offer(offer, now, "rejected", "agent rejected")
        self._notifier.publish(events)

    def reply(self, agent_id: int, interaction_id: int, body: str) -> Message:
        """An agent's answer: stored and put in the outbox in one transaction, then delivered."""
        check_body(body, MAX_REPLY_BYTES)
        now = self._clock()
        with self._store.atomic():
            interaction = self._owned(agent_id, interaction_id)
            if interaction.state != ACTIVE:
                raise Conflict(
                    f"cannot reply: the interaction is {interaction.state}",
                    error_id="not-active",
                    state=interaction.state,
                )
            message = Message.create(
                interaction=interaction,
                channel=interaction.channel,
                direction="out",
                agent=agent_id,
                body=body,
                created_at=now,
            )
            Interaction.update(last_message_at=now, updated_at=now).where(
                Interaction.id == interaction_id
            ).execute()
            item = self._outbox.enqueue(interaction.channel, message.id, {})
        self._notifier.publish(
            [
                MessageCreated(message.id, interaction_id, interaction.channel, "out", agent_id),
                OutboxItemAdded(item.id, interaction.channel),
            ]
        )
        return message

    def close(self, agent_id: int, interaction_id: int) -> Interaction:
        """End the conversation; the agent goes to wrap-up for it."""
        now = self._clock()
        with self._store.atomic():
            interaction = self._owned(agent_id, interaction_id)
            self._move(interaction, WRAP_UP, now, ended_at=now)
        self._notifier.publish([InteractionWrappedUp(interaction_id, agent_id)])
        return self._get(interaction_id)

    def finish(self, agent_id: int, interaction_id: int) -> Interaction:
        """End wrap-up: the interaction is closed and the agent is free for new work."""
        now = self._clock()
        with self._store.atomic():
            interaction = self._owned(agent_id, interaction_id)
            if interaction.state != WRAP_UP:
                # Without this an offer never accepted (or a conversation never closed) could be
                # closed here, leaving its offer pending and no end time recorded.
                raise Conflict(
                    f"only an interaction in wrap-up can be finished; this one is {interaction.state}",
                    error_id="invalid-transition",
                    state=interaction.state,
                )
            self._close(interaction, now)
        self._notifier.publish([InteractionClosed(interaction_id, agent_id)])
        return self._get(interaction_id)

    def close_expired_wrap_ups(self, now: dt.datetime) -> None:
        """Close wrap-ups that outlasted their queue's wrap-up time (0 = until the agent is done)."""
        closed = []
        with self._store.atomic():
            rows = (
                Interaction.select(Interaction, Queue)
                .join(Queue)
                .where(Interaction.state == WRAP_UP, Queue.wrap_up_seconds > 0)
            )
            for interaction in rows:
                if interaction.ended_at + dt.timedelta(seconds=interaction.queue.wrap_up_seconds) <= now:
                    self._close(interaction, now)
                    closed.append(InteractionClosed(interaction.id, interaction.agent_id))
        self._notifier.publish(closed)

    def _close(self, interaction: Interaction, now: dt.datetime) -> None:
        self._move(interaction, CLOSED, now, closed_at=now)
        if interaction.agent_id:
            Agent.update(idle_since=now).where(Agent.id == interaction.agent_id).execute()

    # -- helpers ---------------------------------------------------------------------------

    def _get(self, interaction_id: int) -> Interaction:
        interaction = Interaction.get_or_none(Interaction.id == interaction_id)
        if interaction is None:
            raise NotFound(f"no interaction with id {interaction_id}", error_id="interaction-not-found")
        return interaction

    def _owned(self, agent_id: int, interaction_id: int) -> Interaction:
        interaction = self._get(interaction_id)
        if interaction.agent_id != agent_id:
            raise Forbidden("this interaction is not yours", error_id="not-your-interaction")
        return interaction

    def _move(self, interaction: Interaction, to_state: str, now: dt.datetime, **fields: object) -> None:
        """Change state, guarded by the state machine and by the state we read (no lost updates)."""
        from_state = interaction.state
        if to_state not in TRANSITIONS[from_state]:
            raise Conflict(
                f"an interaction that is {from_state} cannot become {to_state}",
                error_id="invalid-transition",
                state=from_state,
            )
        changed = (
            Interaction.update(state=to_state, updated_at=now, **fields)
            .where(Interaction.id == interaction.id, Interaction.state == from_state)
            .execute()
        )
        if not changed:
            raise Conflict("the interaction changed meanwhile; try again", error_id="stale-state")
        StateChange.create(
            interaction=interaction.id,
            from_state=from_state,
            to_state=to_state,
            agent=fields.get("agent_id", interaction.agent_id),
            at=now,
        )
        interaction.state = to_state
