"""Interactions: what customers send in, and what agents do with it (accept, reply, close)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import peewee as pw

from ..clock import Clock
from ..config import CHANNELS
from ..errors import CallyardError, Conflict, Forbidden, InvalidInput, NotFound
from ..events import (
    Event,
    InteractionAbandoned,
    InteractionAssigned,
    InteractionClosed,
    InteractionCreated,
    InteractionQueued,
    InteractionTimedOut,
    InteractionWrappedUp,
    MessageCreated,
    OfferWithdrawn,
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
    Attachment,
    Identity,
    Interaction,
    Message,
    Offer,
    Queue,
    StateChange,
)
from ..prepared import Prepared, Shapes, field_slots, slot
from ..store import Store
from . import ingest_sql
from .attachments import AttachmentStore, NewAttachment, safe_filename
from .compose import attach_uploads
from .contacts import ContactService
from .notifier import Notifier
from .offers import end_offer
from .outbox import OutboxService

log = logging.getLogger(__name__)

# States in which a new customer message continues the conversation instead of opening a new one.
CONTINUING = (NEW, QUEUED, OFFERED, ACTIVE)
MAX_REPLY_BYTES = 64 * 1024
# What a customer is told when a queue's timeout or after-hours action closes their contact
# and the config gives no message.
NOBODY_AVAILABLE = "Sorry, nobody is available to answer right now. Please try again later."

# The statements of every customer message, their SQL built once (see callyard.prepared).
_OPEN_IN_THREAD = Prepared(
    lambda: (
        Interaction.select(Interaction.id)
        .where(
            Interaction.channel == slot("channel"),
            Interaction.thread_key == slot("thread_key"),
            Interaction.state.in_(CONTINUING),
        )
        .order_by(Interaction.id.desc())
        .limit(1)
    )
)
_INSERT_MESSAGE = Prepared(
    lambda: Message.insert(
        interaction=slot("interaction"),
        channel=slot("channel"),
        direction=slot("direction"),
        body=slot("body"),
        external_id=slot("external_id"),
        created_at=slot("now", Message.created_at),
        meta=slot("meta", Message.meta),
    ).returning(Message.id)
)
_TOUCH_INTERACTION = Prepared(
    lambda: Interaction.update(
        last_message_at=slot("now", Interaction.last_message_at),
        updated_at=slot("now", Interaction.updated_at),
    ).where(Interaction.id == slot("id"))
)
# A new interaction and its first two steps (new, then queued or closed): every email opens one.
_INSERT_INTERACTION = Prepared(
    lambda: Interaction.insert(
        contact=slot("contact"),
        channel=slot("channel"),
        queue=slot("queue"),
        state=slot("state"),
        priority=0,
        subject=slot("subject"),
        thread_key=slot("thread_key"),
        created_at=slot("now", Interaction.created_at),
        updated_at=slot("now", Interaction.updated_at),
        last_message_at=slot("now", Interaction.last_message_at),
        skills=slot("skills", Interaction.skills),
        queued_at=slot("queued_at", Interaction.queued_at),
        ended_at=slot("ended_at", Interaction.ended_at),
        closed_at=slot("closed_at", Interaction.closed_at),
    ).returning(Interaction.id)
)
_OPENED = Prepared(
    lambda: StateChange.insert_many(
        [
            {
                StateChange.interaction: slot("interaction"),
                StateChange.from_state: None,
                StateChange.to_state: NEW,
                StateChange.agent: None,
                StateChange.at: slot("now", StateChange.at),
            },
            {
                StateChange.interaction: slot("interaction"),
                StateChange.from_state: NEW,
                StateChange.to_state: slot("to_state"),
                StateChange.agent: None,
                StateChange.at: slot("now", StateChange.at),
            },
        ]
    )
)
_INSERT_ATTACHMENT = Prepared(
    lambda: Attachment.insert(
        message=slot("message"),
        filename=slot("filename"),
        content_type=slot("content_type"),
        size=slot("size"),
        path=slot("path"),
        content_id=slot("content_id"),
        inline=slot("inline", Attachment.inline),
        created_at=slot("now", Attachment.created_at),
    )
)
# Asked at every routing tick: the wrap-ups with a time limit, as (id, ended_at, seconds).
_WRAP_UPS = Prepared(
    lambda: (
        Interaction.select(Interaction.id, Interaction.ended_at, Queue.wrap_up_seconds)
        .join(Queue)
        .where(Queue.wrap_up_seconds > 0, Interaction.state == WRAP_UP)
        .tuples()
    ),
)
# One of those, with its queue's wrap-up time, read again in the transaction that closes it.
_WRAP_UP_BY_ID = Prepared(
    lambda: (
        Interaction.select(Interaction, Queue)
        .join(Queue)
        .where(
            Interaction.id == slot("interaction_id"), Queue.wrap_up_seconds > 0, Interaction.state == WRAP_UP
        )
    ),
)
# Written on every step of every interaction (five a call): its SQL built once.
_STATE_CHANGE = Prepared(
    lambda: StateChange.insert(
        interaction=slot("interaction_id"),
        from_state=slot("from_state"),
        to_state=slot("to_state"),
        agent=slot("agent_id"),
        at=slot("at", StateChange.at),
    ),
)
# An agent's accept, on every answered call and taken chat.
_PENDING_OFFER = Prepared(
    lambda: (
        Offer.select()
        .where(
            Offer.interaction == slot("interaction_id"),
            Offer.agent == slot("agent_id"),
            Offer.state == "pending",
        )
        .limit(1)
    )
)
_ACCEPT_OFFER = Prepared(
    lambda: Offer.update(state="accepted", decided_at=slot("now", Offer.decided_at)).where(
        Offer.id == slot("id"), Offer.state == "pending"
    )
)
_ANSWERED_AN_OFFER = Prepared(lambda: Agent.update(missed_offers=0).where(Agent.id == slot("agent_id")))
_OTHER_OFFERS = Prepared(
    lambda: Offer.select().where(Offer.interaction == slot("interaction_id"), Offer.state == "pending")
)
# Every step of every interaction, by the columns it sets besides its state (a dozen shapes).
_MOVE = Shapes(
    lambda names: Interaction.update(
        state=slot("to_state"),
        updated_at=slot("now", Interaction.updated_at),
        **field_slots(Interaction, names, prefix="set_"),
    ).where(Interaction.id == slot("id"), Interaction.state == slot("from_state"))
)
# An interaction by id, its SQL built once: every step of a call and of a message reads one.
INTERACTION_BY_ID = Prepared(
    lambda: Interaction.select().where(Interaction.id == slot("interaction_id")).limit(1)
)


@dataclass(frozen=True)
class Ingested:
    interaction_id: int
    message_id: int
    # True when this exact message (same channel and external id) was stored before.
    duplicate: bool
    # True when this message opened a new interaction.
    new_interaction: bool = False
    # The stored row, as committed: a channel that answers with the message needs no read.
    message: Message | None = field(default=None, compare=False, repr=False)


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


@dataclass(frozen=True)
class _Extra:
    """What a channel may add to an ingested message (see ``InteractionService.ingest``)."""

    subject: str = ""
    meta: dict[str, Any] | None = None
    routable: bool = True
    acknowledge: str | None = None


class InteractionService:
    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        clock: Clock,
        contacts: ContactService,
        outbox: OutboxService,
        attachments: AttachmentStore | None = None,
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._contacts = contacts
        self._outbox = outbox
        self._attachments = attachments
        # Queue ids by name, for what each message names: a queue is never deleted nor renamed,
        # so a name once found keeps its id; a name not found is asked again each time (the
        # queue may be created later, by another process too).
        self._queue_ids: dict[str, int] = {}
        # Per greenlet: the files of the messages ``ingest_many`` stored so far in its open
        # transaction, to delete if that transaction does not commit.
        self._batch = threading.local()

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
        subject: str = "",
        meta: dict[str, Any] | None = None,
        attachments: Sequence[NewAttachment] = (),
        routable: bool = True,
        acknowledge: str | None = None,
        thread_refs: Sequence[str] = (),
        thread_hint: int | None = None,
        skills: dict[str, int] | None = None,
    ) -> Ingested:
        """Store a customer's message, opening an interaction in ``queue`` if none is open.

        Returns only after the commit, so the channel may acknowledge the customer then. A
        message whose (channel, external_id) is already stored is not stored again.

        A channel with threads of its own (email) names what the message answers:
        ``thread_refs`` are external ids of earlier messages, ``thread_hint`` an interaction
        number the customer quoted (honoured only for the same customer); either one puts the
        message into that conversation instead of ``thread_key``'s. A message that is not
        ``routable`` (an auto-reply, a bounce) is stored but never offered to an agent: alone it
        makes an interaction that is closed at once. ``acknowledge`` is a text sent back when the
        message opens a new interaction; ``{number}`` in it becomes the interaction's number.
        ``skills`` are what a new interaction needs on top of its queue's (a language, an IVR
        choice).
        """
        for skill, level in (skills or {}).items():
            if not skill or not isinstance(level, int) or not 1 <= level <= 10:
                raise InvalidInput(
                    f"skill {skill!r}: level must be 1-10, got {level!r}", error_id="invalid-skill"
                )
        if channel not in CHANNELS:
            raise InvalidInput(f"unknown channel {channel!r}", error_id="invalid-channel")
        check_body(body, max_bytes)
        if external_id is not None and not 0 < len(external_id) <= 255:
            raise InvalidInput("external_id must be 1-255 characters", error_id="invalid-message")
        if attachments and self._attachments is None:
            raise InvalidInput("this server keeps no attachments", error_id="attachments-unsupported")
        target = self._queue(queue)
        # A resend with files is not looked for first either: its files are written, its
        # INSERT is refused, and they are deleted again below. Resends are rare; a SELECT for
        # every message with a file is not.
        thread_key = self._thread_of(channel, identity, thread_refs, thread_hint) or thread_key
        extra = _Extra(subject[:255], meta or {}, routable, acknowledge)
        # Files first: a row is committed only once its file is safely written.
        saved: list[tuple[NewAttachment, str]] = []
        stored = False
        try:
            for attachment in attachments:
                saved.append((attachment, self._attachments.save(attachment.data, attachment.filename)))  # type: ignore[union-attr]
            result = self._ingest(
                channel, identity, body, target, thread_key, external_id, contact_name, extra, saved, skills
            )
            stored = not result.duplicate
            kept = getattr(self._batch, "files", None)
            if stored and kept is not None:
                kept.extend(path for _, path in saved)
            return result
        except pw.IntegrityError:
            # Lost a race with the same message arriving twice at once: the other one won.
            existing = self._existing(channel, external_id)
            if existing is None:
                raise
            return existing
        finally:
            if not stored:
                for _, path in saved:
                    self._attachments.delete(path)  # type: ignore[union-attr]

    def ingest_many(self, messages: Sequence[dict[str, Any]]) -> list[Ingested | Exception]:
        """Store several customers' messages in one transaction (group commit): each is what
        ``ingest`` takes, as keyword arguments. Returns, in order, each one's ``Ingested`` or the
        exception that refused it; only after the commit.

        Each message is written in a savepoint of its own, so one refused (bad input, an
        unknown queue) or failing is neither stored nor stops the others. A failure of the
        transaction itself (the commit, the connection) raises: then none is stored, and their
        files are deleted again.
        """
        results: list[Ingested | Exception | None] = [None] * len(messages)
        # Queues first, outside the transaction, so their ids are remembered (see _queue).
        for n, message in enumerate(messages):
            try:
                self._queue(message["queue"])
            except Exception as exc:  # noqa: BLE001 - handed back as this message's answer
                results[n] = exc
        if len(messages) == 1 and results[0] is None:  # alone: no savepoint in a transaction
            try:
                results[0] = self.ingest(**messages[0])
            except Exception as exc:  # its failure is its answer, as in a batch
                if not isinstance(exc, CallyardError):
                    log.exception("could not store message %s", messages[0].get("external_id"))
                results[0] = exc
            return [r for r in results if r is not None]
        self._batch.files = kept = []
        try:
            with self._store.atomic():
                for n, message in enumerate(messages):
                    if results[n] is not None:
                        continue
                    try:
                        results[n] = self.ingest(**message)
                    except Exception as exc:  # one message's failure is its own answer
                        if not isinstance(exc, CallyardError):
                            log.exception("could not store message %s", message.get("external_id"))
                        results[n] = exc
        except BaseException:
            for path in kept:
                self._attachments.delete(path)  # type: ignore[union-attr]
            raise
        finally:
            self._batch.files = None
        return [r for r in results if r is not None]

    def _queue(self, name: str) -> Queue:
        """The queue a message is for (its id and name: all ingest uses of it)."""
        known = self._queue_ids.get(name)
        if known is not None:
            return Queue(id=known, name=name)
        queue = Queue.get_or_none(Queue.name == name)
        if queue is None:
            raise NotFound(f"queue {name!r} does not exist", error_id="queue-not-found")
        if not self._store.db.in_transaction():  # a queue made in a transaction could be rolled back
            self._queue_ids[name] = queue.id
        return queue

    @staticmethod
    def _thread_of(
        channel: str, identity: tuple[str, str], refs: Sequence[str], hint: int | None
    ) -> str | None:
        """The thread key of the conversation a message answers, if it names one we know."""
        refs = [r for r in refs if r and len(r) <= 255][-100:]
        if refs:
            earlier = (
                Message.select(Interaction.thread_key)
                .join(Interaction)
                .where(Message.channel == channel, Message.external_id.in_(refs))
                .order_by(Message.id.desc())
                .first()
            )
            if earlier is not None and earlier.interaction.thread_key:
                return earlier.interaction.thread_key
        if hint is not None:
            quoted = Interaction.get_or_none(Interaction.id == hint, Interaction.channel == channel)
            same_customer = (
                Identity.select()
                .where(Identity.kind == identity[0], Identity.value == identity[1])
                .where(Identity.contact == (quoted.contact_id if quoted else None))
                .exists()
            )
            if quoted is not None and same_customer and quoted.thread_key:
                return quoted.thread_key
        return None

    def _ingest(
        self,
        channel: str,
        identity: tuple[str, str],
        body: str,
        queue: Queue,
        thread_key: str,
        external_id: str | None,
        contact_name: str,
        extra: _Extra | None = None,
        attachments: Sequence[tuple[NewAttachment, str]] = (),
        skills: dict[str, int] | None = None,
    ) -> Ingested:
        extra = extra or _Extra()
        events: list[Event] = []
        now = self._clock()
        new_interaction = False
        postgresql = self._store.dialect == "postgresql"
        with self._store.atomic():
            # Two messages of one new conversation at once must not open two interactions.
            lock = f"thread:{channel}:{thread_key}"
            # A message stored before is not looked for here: the unique (channel, external_id)
            # refuses it at its INSERT, the transaction is rolled back and ingest() answers with
            # the stored one. Resends are rare; a SELECT for every message is not.
            contact_id = interaction_id = None
            if postgresql:  # the lock and both reads in one round trip (see ingest_sql)
                contact_id, interaction_id = ingest_sql.lock_and_find(
                    lock, (identity[0], identity[1].strip()), channel, thread_key
                )
            else:
                self._store.lock(lock)
            if contact_id is None:
                contact_id = self._contacts.find_or_create(*identity, name=contact_name).id
            if not postgresql:
                interaction_id = _OPEN_IN_THREAD.scalar(channel=channel, thread_key=thread_key)
            fields = {
                "interaction": interaction_id,
                "channel": channel,
                "direction": "in",
                "body": body,
                "external_id": external_id,
                "meta": extra.meta,
            }
            interaction: Interaction | None = None
            message_id = None
            if interaction_id is None:
                interaction, message_id = self._open(
                    contact_id, channel, queue, thread_key, now, extra, skills, fields if postgresql else None
                )
                interaction_id = fields["interaction"] = interaction.id
                new_interaction = True
                events.append(InteractionCreated(interaction_id, channel))
                if extra.routable:
                    events.append(InteractionQueued(interaction_id, queue.name))
            if message_id is None:
                message_id = _INSERT_MESSAGE.scalar(now=now, **fields)
            # The row as stored, without reading it back: the channel answers with it.
            message = Message(id=message_id, created_at=now, **fields)
            for attachment, path in attachments:
                _INSERT_ATTACHMENT.execute(
                    message=message.id,
                    filename=safe_filename(attachment.filename),
                    content_type=attachment.content_type[:255] or "application/octet-stream",
                    size=len(attachment.data),
                    path=path,
                    content_id=attachment.content_id[:255],
                    inline=attachment.inline,
                    now=now,
                )
            if interaction is None:  # a new one was created with these times
                _TOUCH_INTERACTION.execute(id=interaction_id, now=now)
            events.append(MessageCreated(message.id, interaction_id, channel, "in", None))
            if interaction is not None and extra.routable and extra.acknowledge:
                events += self._acknowledge(interaction, extra.acknowledge, now)
            self._notifier.publish(events)
        return Ingested(
            interaction_id, message.id, duplicate=False, new_interaction=new_interaction, message=message
        )

    @staticmethod
    def _open(
        contact_id: int,
        channel: str,
        queue: Queue,
        thread_key: str,
        now: dt.datetime,
        extra: _Extra,
        skills: dict[str, int] | None,
        message: dict[str, Any] | None = None,
    ) -> tuple[Interaction, int | None]:
        """A new interaction, written at once in the state it leaves ingest in: queued, or closed
        when it is not routable. Its history still records both steps (new, then queued or
        closed), as ``_move`` would; one INSERT instead of an INSERT and a guarded UPDATE, and
        the two state changes in one statement, as each message of the email channel opens one;
        both statements' SQL built once (peewee building a model's INSERT was a tenth of the
        core's CPU per email). On PostgreSQL, ``message`` (its fields) is written by the same
        statement (see ingest_sql); returns the interaction and that message's id, if written.
        """
        to_state = QUEUED if extra.routable else CLOSED
        assert to_state in TRANSITIONS[NEW]
        ended = None if extra.routable else now
        fields = {
            "contact": contact_id,
            "channel": channel,
            "queue": queue.id,  # the id only: the cached queue carries no more (see _queue)
            "state": to_state,
            "priority": 0,
            "subject": extra.subject,
            "thread_key": thread_key,
            "created_at": now,
            "updated_at": now,
            "last_message_at": now,
            "skills": skills or {},
            "queued_at": now if extra.routable else None,
            "ended_at": ended,
            "closed_at": ended,
        }
        if message is not None:
            new_id, message_id = ingest_sql.open_with_message(
                fields, {**message, "created_at": now}, to_state, now
            )
            return Interaction(id=new_id, **fields), message_id
        new_id = _INSERT_INTERACTION.scalar(
            now=now,
            **{k: fields[k] for k in ("contact", "channel", "queue", "state", "subject", "thread_key")},
            skills=fields["skills"],
            queued_at=fields["queued_at"],
            ended_at=ended,
            closed_at=ended,
        )
        _OPENED.execute(interaction=new_id, to_state=to_state, now=now)
        # The row as stored, without reading it back.
        return Interaction(id=new_id, **fields), None

    def _acknowledge(self, interaction: Interaction, text: str, now: dt.datetime) -> list[Event]:
        """The automatic first answer, sent through the outbox like an agent's reply."""
        body = text.replace("{number}", str(interaction.id))
        message = Message.create(
            interaction=interaction,
            channel=interaction.channel,
            direction="out",
            body=body,
            created_at=now,
            meta={"auto": "acknowledgement"},
        )
        item = self._outbox.enqueue(interaction.channel, message.id, {})
        return [
            MessageCreated(message.id, interaction.id, interaction.channel, "out", None),
            OutboxItemAdded(item.id, interaction.channel),
        ]

    @staticmethod
    def _existing(channel: str, external_id: str | None) -> Ingested | None:
        if external_id is None:
            return None
        message = Message.get_or_none(Message.channel == channel, Message.external_id == external_id)
        if message is None:
            return None
        return Ingested(message.interaction_id, message.id, duplicate=True, message=message)

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
        """Take an offered interaction. Exactly one agent wins; the others get a Conflict.

        When the same work was offered to several agents at once (ring-all), the winner's accept
        withdraws the other offers, so the others are told at once.
        """
        now = self._clock()
        events: list[Event] = []
        with self._store.atomic():
            # Accepts of one interaction run one after the other (rows are then locked in one
            # order, so two accepts at once cannot deadlock on PostgreSQL).
            self._store.lock(f"interaction:{interaction_id}")
            offer = _PENDING_OFFER.first(interaction_id=interaction_id, agent_id=agent_id)
            if offer is None:
                last = (
                    Offer.select(Offer.state)
                    .where(Offer.interaction == interaction_id, Offer.agent == agent_id)
                    .order_by(Offer.id.desc())
                    .first()
                )
                if last is not None and last.state == "expired":  # the router's tick came first
                    raise Conflict("the offer timed out before it was accepted", error_id="offer-expired")
                # ring-all: rung here too, but another agent accepted first
                current = self._get(interaction_id) if last is not None else None
                held = current is not None and current.state not in (QUEUED, OFFERED)
                if held and current.agent_id not in (None, agent_id):
                    raise Conflict("another agent took this offer first", error_id="offer-taken")
                raise Conflict("this offer is no longer available", error_id="offer-gone")
            if offer.expires_at <= now:
                events += end_offer(offer, now, "expired", "offer timed out")
            else:
                taken = _ACCEPT_OFFER.execute(id=offer.id, now=now).rowcount
                interaction = self._get(interaction_id)
                # agent_id None: rung at several agents at once (ring-all); the first accept wins
                if not taken or interaction.state != OFFERED or interaction.agent_id not in (None, agent_id):
                    raise Conflict("this offer is no longer available", error_id="offer-gone")
                self._move(interaction, ACTIVE, now, agent_id=agent_id, answered_at=now)
                _ANSWERED_AN_OFFER.execute(agent_id=agent_id)
                for other in _OTHER_OFFERS.all(interaction_id=interaction_id):
                    Offer.update(state="withdrawn", decided_at=now).where(Offer.id == other.id).execute()
                    events.append(
                        OfferWithdrawn(interaction_id, other.agent_id, other.id, "another agent accepted it")
                    )
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

    def reply(
        self,
        agent_id: int,
        interaction_id: int,
        body: str,
        *,
        uploads: Sequence[int] = (),
        meta: dict[str, Any] | None = None,
    ) -> Message:
        """An agent's answer: stored and put in the outbox in one transaction, then delivered.

        ``uploads`` are the composer's files for it (see services/compose.py), attached in the
        same transaction; ``meta`` is what the channel needs besides the text (an email's
        subject)."""
        if not (uploads and isinstance(body, str) and not body.strip()):
            check_body(body, MAX_REPLY_BYTES)  # files alone may go without a word
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
                meta=meta or {},
            )
            attach_uploads(message, agent_id, uploads, now)
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

    def close_expired_wrap_ups(self, now: dt.datetime, between: Callable[[], None]) -> None:
        """Close wrap-ups that outlasted their queue's wrap-up time (0 = until the agent is
        done), each in its own transaction, calling ``between`` after each (see
        ``RouterService.chores``)."""
        # Every tick asks, and most find nothing due: look first, outside a transaction, so
        # no write lock (SQLite's BEGIN IMMEDIATE) is taken for nothing.
        due = [
            interaction_id
            for interaction_id, ended_at, seconds in _WRAP_UPS.all()
            if ended_at + dt.timedelta(seconds=seconds) <= now
        ]
        for interaction_id in due:
            with self._store.atomic():
                # Again inside: the agent may have finished it meanwhile.
                interaction = _WRAP_UP_BY_ID.first(interaction_id=interaction_id)
                if interaction is not None and self._wrap_up_over(interaction, now):
                    self._close(interaction, now)
                    self._notifier.publish([InteractionClosed(interaction.id, interaction.agent_id)])
            between()

    @staticmethod
    def _wrap_up_over(interaction: Interaction, now: dt.datetime) -> bool:
        return interaction.ended_at + dt.timedelta(seconds=interaction.queue.wrap_up_seconds) <= now

    def _close(self, interaction: Interaction, now: dt.datetime) -> None:
        self._move(interaction, CLOSED, now, closed_at=now)
        if interaction.agent_id:
            Agent.update(idle_since=now).where(Agent.id == interaction.agent_id).execute()

    # -- the router ------------------------------------------------------------------------

    def time_out(self, interaction_id: int, action: str, message: str, reason: str) -> bool:
        """Nobody took waiting work in time (or its queue is closed): ``close`` tells the
        customer ``message`` through the outbox and closes; ``voicemail`` and ``callback`` set
        that state for the voice channel to act on. False when it was no longer waiting."""
        now = self._clock()
        events: list[Event] = []
        with self._store.atomic():
            interaction = self._get(interaction_id)
            if interaction.state != QUEUED:
                return False
            queue_name = interaction.queue.name if interaction.queue_id else ""
            if action == "close":
                text = message or NOBODY_AVAILABLE
                out = Message.create(
                    interaction=interaction,
                    channel=interaction.channel,
                    direction="out",
                    body=text,
                    created_at=now,
                )
                item = self._outbox.enqueue(interaction.channel, out.id, {})
                self._move(interaction, CLOSED, now, ended_at=now, closed_at=now)
                events += [
                    MessageCreated(out.id, interaction_id, interaction.channel, "out", None),
                    OutboxItemAdded(item.id, interaction.channel),
                    InteractionClosed(interaction_id, None),
                ]
            else:
                self._move(interaction, action, now, ended_at=now)
            events.append(InteractionTimedOut(interaction_id, queue_name, action, reason))
            self._notifier.publish(events)
        return True

    # -- helpers ---------------------------------------------------------------------------

    def _get(self, interaction_id: int) -> Interaction:
        interaction = INTERACTION_BY_ID.first(interaction_id=interaction_id)
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
        names = tuple(sorted(fields))
        moved = _MOVE(names).execute(
            id=interaction.id,
            from_state=from_state,
            to_state=to_state,
            now=now,
            **{f"set_{name}": value for name, value in fields.items()},
        )
        if not moved.rowcount:
            raise Conflict("the interaction changed meanwhile; try again", error_id="stale-state")
        _STATE_CHANGE.execute(
            interaction_id=interaction.id,
            from_state=from_state,
            to_state=to_state,
            agent_id=fields.get("agent_id", interaction.agent_id),
            at=now,
        )
        interaction.state = to_state
