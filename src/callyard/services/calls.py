"""Phone calls: the interaction behind each call and its call record (times, agent, outcome).

The voice channel reports what FreeSWITCH did (a call came in, the caller chose a queue, an
agent's phone answered, someone hung up); this service turns that into state, committed
before the channel goes on, and into the events the router and the inbox react to.
"""

from __future__ import annotations

import datetime as dt
import logging

from peewee import fn

from ..clock import Clock
from ..errors import Conflict, NotFound
from ..events import (
    CallAnswered,
    CallEnded,
    CallStateChanged,
    InteractionCreated,
    InteractionQueued,
    InteractionTransferred,
    MessageCreated,
)
from ..models import (
    ACTIVE,
    CALLBACK,
    NEW,
    QUEUED,
    VOICEMAIL,
    WRAP_UP,
    Agent,
    AgentSkill,
    CallRecord,
    Interaction,
    Message,
    Offer,
    Queue,
    StateChange,
)
from ..prepared import Creates, Prepared, Shapes, field_slots, slot
from ..store import Store
from .contacts import ContactService
from .interactions import INTERACTION_BY_ID, InteractionService
from .notifier import Notifier

log = logging.getLogger(__name__)

CHANNEL = "voice"
OPEN_CALL_STATES = ("ivr", "queued", "ringing", "talking", "callback")
# The estimated wait averages the handle times of the queue's last this many answered calls.
RECENT_CALLS = 20


# The lookups every call repeats (a dozen times a call), their SQL built once.
_CALL_BY_UUID = Prepared(lambda: CallRecord.select().where(CallRecord.uuid == slot("uuid")).limit(1))
_CALL_OF_INTERACTION = Prepared(
    lambda: CallRecord.select().where(CallRecord.interaction == slot("interaction_id")).limit(1)
)
_QUEUE_BY_NAME = Prepared(lambda: Queue.select().where(Queue.name == slot("name")).limit(1))
# The writes of every call's path, likewise.
_CREATE_INTERACTION = Creates(Interaction)
_CREATE_STATE_CHANGE = Creates(StateChange)
_CREATE_MESSAGE = Creates(Message)
_CREATE_CALL = Creates(CallRecord)
_TO_QUEUE = Prepared(
    lambda: Interaction.update(queue=slot("queue_id"), skills=slot("skills", Interaction.skills)).where(
        Interaction.id == slot("id")
    )
)
_QUEUED = Prepared(
    lambda: CallRecord.update(state="queued", queued_at=slot("now", CallRecord.queued_at)).where(
        CallRecord.id == slot("id")
    )
)
# The agent's phone rings for the call only while the call waits and its offer is open.
_RINGING = Prepared(
    lambda: CallRecord.update(state="ringing", agent=slot("agent_id"), agent_uuid=slot("agent_uuid")).where(
        CallRecord.uuid == slot("uuid"),
        CallRecord.state.in_(("queued", "callback")),
        fn.EXISTS(
            Offer.select(Offer.id).where(
                Offer.interaction
                == CallRecord.select(CallRecord.interaction).where(CallRecord.uuid == slot("uuid")),
                Offer.agent == slot("agent_id"),
                Offer.state == "pending",
            )
        ),
    )
)
_CONNECTED = Prepared(
    lambda: CallRecord.update(
        **field_slots(CallRecord, ("state", "agent", "agent_uuid", "answered_at", "wait_ms"))
    ).where(CallRecord.id == slot("id"), CallRecord.state == "ringing")
)
# A call's end, by the figures it sets (an answered call's talk and hold, or a caller's wait).
_ENDED = Shapes(
    lambda names: CallRecord.update(
        state="ended",
        ended_at=slot("now", CallRecord.ended_at),
        held_since=None,
        reason=slot("reason"),
        **field_slots(CallRecord, names, prefix="set_"),
    ).where(CallRecord.id == slot("id"), CallRecord.state != "ended")
)


def call_record(uuid: str) -> CallRecord | None:
    """The call record of the call (or callback leg) ``uuid``, if there is one."""
    return _CALL_BY_UUID.first(uuid=uuid)


def interaction_of(interaction_id: int) -> Interaction:
    """``Interaction.get_by_id``, its SQL built once."""
    interaction = INTERACTION_BY_ID.first(interaction_id=interaction_id)
    if interaction is None:
        raise Interaction.DoesNotExist(f"no interaction {interaction_id}")
    return interaction


def _ms(later: dt.datetime | None, earlier: dt.datetime | None) -> int:
    if later is None or earlier is None:
        return 0
    return max(int((later - earlier).total_seconds() * 1000), 0)


class CallService:
    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        clock: Clock,
        contacts: ContactService,
        interactions: InteractionService,
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._contacts = contacts
        self._interactions = interactions

    # -- a call's life ---------------------------------------------------------------------

    def enter(
        self, uuid: str, number: str, name: str = "", queue: str = "support", node: str | None = None
    ) -> CallRecord:
        """A call reached Callyard: its interaction (new, in the menu) and call record, committed
        before the caller is answered. The same call announced twice is stored once."""
        now = self._clock()
        existing = call_record(uuid)
        if existing is not None:
            return existing
        target = _QUEUE_BY_NAME.first(name=queue)
        if target is None:
            raise NotFound(f"queue {queue!r} does not exist", error_id="queue-not-found")
        with self._store.atomic():
            contact = self._contacts.find_or_create("phone", number or "anonymous", name=name)
            interaction = _CREATE_INTERACTION(
                contact=contact,
                channel=CHANNEL,
                queue=target,
                state=NEW,
                subject=f"Call from {number or 'an unknown number'}",
                thread_key=uuid,
                created_at=now,
                updated_at=now,
                last_message_at=now,
            )
            _CREATE_STATE_CHANGE(interaction=interaction, from_state=None, to_state=NEW, at=now)
            message = _CREATE_MESSAGE(
                interaction=interaction,
                channel=CHANNEL,
                direction="in",
                body=f"Phone call from {number or 'an unknown number'}",
                external_id=uuid,
                created_at=now,
            )
            record = _CREATE_CALL(
                interaction=interaction,
                uuid=uuid,
                caller_number=number,
                state="ivr",
                entered_at=now,
                node=node,
            )
            self._notifier.publish(
                [
                    InteractionCreated(interaction.id, CHANNEL),
                    MessageCreated(message.id, interaction.id, CHANNEL, "in", None),
                ]
            )
        return record

    def enqueue(self, uuid: str, queue: str, skills: dict[str, int] | None = None) -> CallRecord:
        """The caller is through the menu: into ``queue`` for an agent with ``skills``."""
        now = self._clock()
        target = _QUEUE_BY_NAME.first(name=queue)
        if target is None:
            raise NotFound(f"queue {queue!r} does not exist", error_id="queue-not-found")
        with self._store.atomic():
            record = self.get(uuid)
            interaction = interaction_of(record.interaction_id)
            if interaction.state != NEW:
                raise Conflict(f"the call is already {interaction.state}", error_id="invalid-transition")
            _TO_QUEUE.execute(id=interaction.id, queue_id=target.id, skills=skills or {})
            self._interactions._move(interaction, "queued", now, queued_at=now)  # noqa: SLF001 - one state machine
            _QUEUED.execute(id=record.id, now=now)
            self._notifier.publish([InteractionQueued(interaction.id, queue)])
        # As stored in the transaction above, without reading it back (this is on every call's path).
        record.state, record.queued_at = "queued", now
        return record

    def ringing(self, uuid: str, agent_id: int, agent_uuid: str, *, announce: bool = True) -> bool:
        """An agent's phone is about to ring for the call, if the call still waits and its offer
        to that agent is still open: False when it timed out or moved on before the dial got
        here (a busy controller), and then no phone should ring. ``announce=False``: the caller
        tells the inbox itself (``announce``) once the phone is dialled, off the dial's path."""
        rows = _RINGING.execute(uuid=uuid, agent_id=agent_id, agent_uuid=agent_uuid).rowcount
        if rows and announce:
            self._announce(uuid)
        return bool(rows)

    def announce(self, uuid: str) -> None:
        """Tell the inbox the call's state as stored now."""
        self._announce(uuid)

    def not_reached(self, uuid: str, *, callback: bool = False) -> None:
        """The agent's phone did not answer: the call waits in the queue again."""
        CallRecord.update(state="callback" if callback else "queued", agent=None, agent_uuid=None).where(
            CallRecord.uuid == uuid, CallRecord.state == "ringing"
        ).execute()
        self._announce(uuid)

    def transferred(self, uuid: str, agent_id: int, queue: str) -> CallRecord:
        """Blind transfer: the agent lets go, the caller waits in ``queue`` for the next agent."""
        now = self._clock()
        target = _QUEUE_BY_NAME.first(name=queue)
        if target is None:
            raise NotFound(f"queue {queue!r} does not exist", error_id="queue-not-found")
        with self._store.atomic():
            record = self.get(uuid)
            interaction = self._interactions._owned(agent_id, record.interaction_id)  # noqa: SLF001
            if interaction.state != ACTIVE or record.state != "talking":
                raise Conflict("only a call in conversation can be transferred", error_id="not-talking")
            Interaction.update(queue=target).where(Interaction.id == interaction.id).execute()
            self._interactions._move(interaction, "queued", now, agent=None, queued_at=now)  # noqa: SLF001
            CallRecord.update(
                state="queued",
                agent=None,
                agent_uuid=None,
                queued_at=now,
                talk_ms=CallRecord.talk_ms + _ms(now, record.answered_at),
                answered_at=None,
            ).where(CallRecord.id == record.id).execute()
            self._notifier.publish(
                [
                    InteractionTransferred(interaction.id, agent_id, None, queue),
                    InteractionQueued(interaction.id, queue),
                ]
            )
        self._announce(uuid)
        return self.get(uuid)

    def agent_let_go(self, uuid: str, agent_id: int) -> CallRecord:
        """Blind transfer to another agent: the agent drops out and the caller waits (on hold
        music) while the other agent's phone rings. Returns the call record as it was."""
        now = self._clock()
        with self._store.atomic():
            record = self.get(uuid)
            if record.state != "talking" or record.agent_id != agent_id:
                raise Conflict("only a call in conversation can be transferred", error_id="not-talking")
            CallRecord.update(
                state="queued",
                agent=None,
                agent_uuid=None,
                talk_ms=CallRecord.talk_ms + _ms(now, record.answered_at),
                answered_at=None,
            ).where(CallRecord.id == record.id, CallRecord.state == "talking").execute()
        self._announce(uuid, agent_id)
        return record

    def voicemail(self, uuid: str, path: str) -> CallRecord:
        """The caller leaves a message instead of waiting: the interaction keeps its place in
        line for an agent, with the recording to listen to."""
        now = self._clock()
        with self._store.atomic():
            record = self.get(uuid)
            if record.state not in ("queued", "ivr"):
                raise Conflict(
                    f"a call that is {record.state} cannot go to voicemail", error_id="invalid-transition"
                )
            message = Message.create(
                interaction=record.interaction_id,
                channel=CHANNEL,
                direction="in",
                body="Voicemail left by the caller",
                external_id=f"{uuid}:voicemail",
                created_at=now,
            )
            CallRecord.update(
                state="ended",
                outcome="voicemail",
                recording=path,
                ended_at=now,
                wait_ms=_ms(now, record.queued_at or record.entered_at),
                reason="caller left a voicemail",
            ).where(CallRecord.id == record.id).execute()
            requeued = self._back_in_line(record.interaction_id, now)
            self._notifier.publish(
                [
                    MessageCreated(message.id, record.interaction_id, CHANNEL, "in", None),
                    CallEnded(record.interaction_id, None, uuid, "voicemail"),
                    *requeued,
                ]
            )
        self._announce(uuid)
        return self.get(uuid)

    def callback(self, uuid: str) -> CallRecord:
        """The caller asked to be called back: they hang up and keep their place in line."""
        with self._store.atomic():
            record = self.get(uuid)
            if record.state != "queued":
                raise Conflict(
                    f"a call that is {record.state} cannot ask for a callback", error_id="invalid-transition"
                )
            CallRecord.update(
                state="callback", outcome="callback", reason="caller asked to be called back"
            ).where(CallRecord.id == record.id).execute()
            requeued = self._back_in_line(record.interaction_id, self._clock())
            self._notifier.publish(requeued)
        self._announce(uuid)
        return self.get(uuid)

    def back_in_line(self, interaction_id: int) -> bool:
        """Routing timed out a call whose caller had already left a voicemail or asked for a
        callback: it goes back in line for an agent. False when there was nothing to do."""
        with self._store.atomic():
            events = self._back_in_line(interaction_id, self._clock())
            self._notifier.publish(events)
        return bool(events)

    def _back_in_line(self, interaction_id: int, now: dt.datetime) -> list[InteractionQueued]:
        """A call routing timed out to voicemail or callback (the interaction is in that state)
        waits for an agent again once the caller did it: same queue, same arrival time, so it
        keeps its place in line; routing does not time it out a second time."""
        interaction = interaction_of(interaction_id)
        if interaction.state not in (VOICEMAIL, CALLBACK):
            return []
        self._interactions._move(interaction, QUEUED, now, ended_at=None)  # noqa: SLF001 - one state machine
        return [InteractionQueued(interaction.id, interaction.queue.name if interaction.queue_id else "")]

    def callback_failed(self, uuid: str, agent_id: int, why: str) -> None:
        with self._store.atomic():
            CallRecord.update(
                state="callback", agent=None, agent_uuid=None, reason=f"callback not answered: {why}"[:255]
            ).where(CallRecord.uuid == uuid).execute()
            interaction = interaction_of(self.get(uuid).interaction_id)
            if interaction.state == ACTIVE and interaction.agent_id == agent_id:
                self._interactions._move(interaction, "queued", self._clock(), agent=None)  # noqa: SLF001
                self._notifier.publish([InteractionQueued(interaction.id, interaction.queue.name)])
        self._announce(uuid, agent_id)

    def called_back(self, old_uuid: str, new_uuid: str, agent_id: int, agent_uuid: str) -> CallRecord:
        """The agent and then the customer answered: the call record follows the new leg."""
        now = self._clock()
        with self._store.atomic():
            record = self.get(old_uuid)
            CallRecord.update(
                uuid=new_uuid,
                state="talking",
                agent=agent_id,
                agent_uuid=agent_uuid,
                answered_at=now,
                wait_ms=_ms(now, record.queued_at or record.entered_at),
            ).where(CallRecord.id == record.id).execute()
            self._notifier.publish([CallAnswered(record.interaction_id, agent_id, new_uuid)])
        self._announce(new_uuid)
        return self.get(new_uuid)

    def connected(
        self, uuid: str, agent_id: int, agent_uuid: str, at: dt.datetime | None = None
    ) -> CallRecord:
        """The agent answered and took the offer: caller and agent talk (since ``at``, when
        they were joined, if the caller knows it better than now)."""
        now = at or self._clock()
        with self._store.atomic():
            record = self.get(uuid)
            fields: dict[str, object] = {
                "state": "talking",
                "agent": agent_id,
                "agent_uuid": agent_uuid,
                "answered_at": now,
                "wait_ms": _ms(now, record.queued_at or record.entered_at),
            }
            # Only a call still ringing: a caller who hung up the moment they were joined has
            # been ended already, and must not come back as "talking".
            changed = _CONNECTED.execute(id=record.id, **fields).rowcount
            if changed:
                self._notifier.publish([CallAnswered(record.interaction_id, agent_id, uuid)])
        if not changed:
            return record
        # As stored, without reading it back (this is on every answered call's path).
        for name, value in fields.items():
            setattr(record, name, value)
        self._notifier.publish([CallStateChanged(record.interaction_id, agent_id, "talking")])
        return record

    def hold(self, uuid: str, on: bool) -> CallRecord:
        now = self._clock()
        with self._store.atomic():
            record = self.get(uuid)
            if on and record.held_since is None:
                CallRecord.update(held_since=now).where(CallRecord.id == record.id).execute()
            elif not on and record.held_since is not None:
                CallRecord.update(
                    held_since=None, hold_ms=CallRecord.hold_ms + _ms(now, record.held_since)
                ).where(CallRecord.id == record.id).execute()
        self._announce(uuid)
        return self.get(uuid)

    def on_node(self, uuid: str, node: str) -> None:
        """The FreeSWITCH node (Core-UUID) the call is on, learnt after the fact."""
        CallRecord.update(node=node).where(CallRecord.uuid == uuid).execute()

    def recorded(self, uuid: str, path: str) -> None:
        CallRecord.update(recording=path).where(CallRecord.uuid == uuid).execute()
        self._announce(uuid)

    def ended(self, uuid: str, reason: str) -> CallRecord | None:
        """The caller's leg is gone. A call an agent had becomes their wrap-up; one nobody took
        yet is abandoned, with ``reason`` kept on the call record."""
        now = self._clock()
        record = call_record(uuid)
        if record is None or record.state not in OPEN_CALL_STATES:
            return record
        if record.state == "callback":
            return record  # the caller hung up to be called back; the interaction waits in line
        with self._store.atomic():  # the call's end and its interaction's, kept or lost together
            interaction = interaction_of(record.interaction_id)
            hold = _ms(now, record.held_since) if record.held_since else 0
            fields: dict[str, object]
            if record.state == "talking" and interaction.state == ACTIVE and interaction.agent_id:
                self._interactions.close(interaction.agent_id, interaction.id)
                fields = {
                    "outcome": "callback" if record.outcome == "callback" else "answered",
                    "talk_ms": max(_ms(now, record.answered_at) - record.hold_ms - hold, 0),
                    "hold_ms": record.hold_ms + hold,
                }
            else:
                self._interactions.customer_left(CHANNEL, uuid)
                fields = {"outcome": "abandoned", "wait_ms": _ms(now, record.queued_at or record.entered_at)}
            # Whatever state a dial attempt moved it to meanwhile, the call is over now.
            ended = (
                _ENDED(tuple(sorted(fields)))
                .execute(
                    id=record.id, now=now, reason=reason[:255], **{f"set_{k}": v for k, v in fields.items()}
                )
                .rowcount
            )
            if ended:
                self._notifier.publish(
                    [CallEnded(record.interaction_id, record.agent_id, uuid, str(fields["outcome"]))]
                )
        if not ended:  # ended meanwhile by someone else: tell the inbox what is stored
            self._announce(uuid)
            return self.get(uuid)
        # As stored in the transaction above, without reading it back twice (every call ends).
        for name, value in {
            "state": "ended",
            "ended_at": now,
            "held_since": None,
            "reason": reason[:255],
        }.items():
            setattr(record, name, value)
        for name, value in fields.items():
            setattr(record, name, value)
        self._notifier.publish([CallStateChanged(record.interaction_id, record.agent_id, record.state)])
        return record

    def wrapped_up(self, interaction_id: int) -> None:
        """The agent finished wrap-up: how long it took goes on the call record."""
        interaction = INTERACTION_BY_ID.first(interaction_id=interaction_id)
        if interaction is None or interaction.closed_at is None or interaction.channel != CHANNEL:
            return
        CallRecord.update(wrap_up_ms=_ms(interaction.closed_at, interaction.ended_at)).where(
            CallRecord.interaction == interaction_id
        ).execute()

    def _announce(self, uuid: str, agent_id: int | None = None) -> None:
        """Tell the inbox the call moved (after the change is committed): the agent who has it
        (or ``agent_id``, who just lost it) and the supervisors see its state live."""
        record = call_record(uuid)
        if record is not None:
            who = agent_id if agent_id is not None else record.agent_id
            self._notifier.publish([CallStateChanged(record.interaction_id, who, record.state)])

    # -- reading ---------------------------------------------------------------------------

    def get(self, uuid: str) -> CallRecord:
        record = call_record(uuid)
        if record is None:
            raise NotFound(f"no call {uuid}", error_id="call-not-found")
        return record

    def of_interaction(self, interaction_id: int) -> CallRecord | None:
        return _CALL_OF_INTERACTION.first(interaction_id=interaction_id)

    def position(self, uuid: str) -> int:
        """The caller's place in line: 1 + the calls waiting longer in the same queue."""
        record = self.get(uuid)
        interaction = interaction_of(record.interaction_id)
        ahead = (
            Interaction.select()
            .where(
                Interaction.queue == interaction.queue_id,
                Interaction.state.in_(("queued", "offered")),
                Interaction.queued_at < (interaction.queued_at or record.entered_at),
            )
            .count()
        )
        return ahead + 1

    def recent_handle_seconds(self, queue_id: int, limit: int = RECENT_CALLS) -> list[float]:
        """Handle times (talk, hold, wrap-up) of the queue's last ``limit`` answered calls."""
        rows = (
            CallRecord.select(CallRecord.talk_ms, CallRecord.hold_ms, CallRecord.wrap_up_ms)
            .join(Interaction)
            .where(
                Interaction.queue == queue_id, CallRecord.outcome == "answered", CallRecord.state == "ended"
            )
            .order_by(CallRecord.ended_at.desc())
            .limit(limit)
        )
        return [(r.talk_ms + r.hold_ms + r.wrap_up_ms) / 1000 for r in rows]

    def agents_able(self, uuid: str) -> int:
        """Agents available now with every skill (at its level) the call needs: its queue's
        and its own (a language chosen in the menu)."""
        record = self.get(uuid)
        interaction = interaction_of(record.interaction_id)
        required = dict(interaction.queue.skills or {}) if interaction.queue_id else {}
        for skill, level in (interaction.skills or {}).items():
            required[skill] = max(level, required.get(skill, 0))
        agents = Agent.select(Agent.id).where(Agent.presence == "available", Agent.enabled == True)  # noqa: E712
        for skill, level in required.items():
            agents = agents.where(
                Agent.id.in_(
                    AgentSkill.select(AgentSkill.agent).where(
                        AgentSkill.skill == skill, AgentSkill.level >= level
                    )
                )
            )
        return agents.count()

    def open_calls(self) -> list[CallRecord]:
        return list(CallRecord.select().where(CallRecord.state.in_(OPEN_CALL_STATES)))

    def in_wrap_up(self, interaction_id: int) -> bool:
        interaction = Interaction.get_or_none(Interaction.id == interaction_id)
        return interaction is not None and interaction.state == WRAP_UP


# -- what the inbox shows of a call ----------------------------------------------------------------


def call_view(record: CallRecord, agent_name: str | None = None) -> dict[str, object]:
    """A call as the inbox shows it: its state (``on_hold`` is a talking call on hold), its
    clock and, once it is over (or a voicemail), where its recording plays."""
    state = "on_hold" if record.state == "talking" and record.held_since is not None else record.state
    recorded = bool(record.recording) and record.state == "ended"
    return {
        "state": state,
        "caller_number": record.caller_number,
        "agent_id": record.agent_id,
        "agent_name": agent_name,
        "answered_at": _iso(record.answered_at),
        "held_since": _iso(record.held_since),
        "ended_at": _iso(record.ended_at),
        "outcome": record.outcome,
        "recording_url": f"/calls/{record.interaction_id}/recording" if recorded else None,
    }


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"
