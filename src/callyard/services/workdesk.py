"""What agents do to their work besides talking: read it, stage it, label it, hand it on, wrap it up.

Stages, labels, transfers and wrap-ups are kept in the interaction's log, so "who moved this to
resolved, and when?" always has an answer.
"""

from __future__ import annotations

import datetime as dt
import re

import peewee as pw

from ..clock import Clock
from ..config import InboxConfig
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..events import (
    CustomerTyped,
    Event,
    InteractionOffered,
    InteractionQueued,
    InteractionTransferred,
    InteractionWorkChanged,
)
from ..models import (
    ACTIVE,
    OFFERED,
    QUEUED,
    WRAP_UP,
    Agent,
    Interaction,
    InteractionLabel,
    InteractionLog,
    InteractionRead,
    InteractionWork,
    Message,
    Offer,
    Queue,
)
from ..store import Store
from .access import is_manager
from .interactions import InteractionService
from .notifier import Notifier

MAX_NOTE = 4000
LABEL = re.compile(r"^[a-z0-9][a-z0-9 _-]{0,31}$")


def clean_label(label: object) -> str:
    value = label.strip().lower() if isinstance(label, str) else ""
    if not LABEL.match(value):
        raise InvalidInput(
            "a label is 1-32 letters, digits, spaces, '-' or '_', starting with a letter or digit",
            error_id="invalid-label",
        )
    return value


def clean_note(note: object, what: str = "note") -> str:
    if note is None:
        return ""
    if not isinstance(note, str):
        raise InvalidInput(f"the {what} must be text", error_id="invalid-note")
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"the {what} can be at most {MAX_NOTE} characters", error_id="note-too-long")
    return note.strip()


class WorkdeskService:
    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        clock: Clock,
        interactions: InteractionService,
        inbox: InboxConfig,
        *,
        offer_timeout: int,
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._interactions = interactions
        self._inbox = inbox
        self._offer_timeout = dt.timedelta(seconds=offer_timeout)

    # -- reading ---------------------------------------------------------------------------

    def mark_read(self, agent_id: int, interaction_id: int) -> None:
        """Everything in the interaction so far counts as read by this agent."""
        newest = (
            Message.select(pw.fn.MAX(Message.id)).where(Message.interaction == interaction_id).scalar() or 0
        )
        with self._store.atomic():
            updated = (
                InteractionRead.update(message_id=newest)
                .where(InteractionRead.agent == agent_id, InteractionRead.interaction == interaction_id)
                .execute()
            )
            if not updated:
                try:
                    with self._store.db.atomic():
                        InteractionRead.create(agent=agent_id, interaction=interaction_id, message_id=newest)
                except pw.IntegrityError:  # another tab of the same agent got there first
                    pass

    def customer_typing(self, channel: str, thread_key: str) -> None:
        """Tell the agent holding this conversation that the customer is typing."""
        interaction = (
            Interaction.select(Interaction.id, Interaction.agent)
            .where(
                Interaction.channel == channel,
                Interaction.thread_key == thread_key,
                Interaction.state == ACTIVE,
                Interaction.agent.is_null(False),
            )
            .order_by(Interaction.id.desc())
            .first()
        )
        if interaction is not None:
            self._notifier.publish([CustomerTyped(interaction.id, interaction.agent_id)])

    # -- stages and labels -----------------------------------------------------------------

    def set_stage(self, agent: Agent, interaction_id: int, stage: str) -> None:
        if stage not in self._inbox.stages:
            raise InvalidInput(
                f"stage {stage!r} is not one of {', '.join(self._inbox.stages)}", error_id="invalid-stage"
            )
        now = self._clock()
        with self._store.atomic():
            interaction = self._changeable(agent, interaction_id)
            work = self._work(interaction.id, now)
            if work.stage == stage:
                return
            InteractionWork.update(stage=stage, updated_at=now).where(InteractionWork.id == work.id).execute()
            InteractionLog.create(
                interaction=interaction.id, agent=agent.id, kind="stage", value=stage, at=now
            )
            self._notifier.publish([InteractionWorkChanged(interaction_id, interaction.agent_id)])

    def add_label(self, agent: Agent, interaction_id: int, label: str) -> str:
        value = clean_label(label)
        now = self._clock()
        with self._store.atomic():
            interaction = self._changeable(agent, interaction_id)
            if (
                InteractionLabel.select()
                .where(InteractionLabel.interaction == interaction.id, InteractionLabel.label == value)
                .exists()
            ):
                return value
            InteractionLabel.create(interaction=interaction.id, label=value)
            InteractionLog.create(
                interaction=interaction.id, agent=agent.id, kind="label_added", value=value, at=now
            )
            self._notifier.publish([InteractionWorkChanged(interaction_id, interaction.agent_id)])
        return value

    def remove_label(self, agent: Agent, interaction_id: int, label: str) -> None:
        value = clean_label(label)
        now = self._clock()
        with self._store.atomic():
            interaction = self._changeable(agent, interaction_id)
            removed = (
                InteractionLabel.delete()
                .where(InteractionLabel.interaction == interaction.id, InteractionLabel.label == value)
                .execute()
            )
            if not removed:
                return
            InteractionLog.create(
                interaction=interaction.id, agent=agent.id, kind="label_removed", value=value, at=now
            )
            self._notifier.publish([InteractionWorkChanged(interaction_id, interaction.agent_id)])

    # -- wrap-up ---------------------------------------------------------------------------

    def wrap_up(
        self, agent_id: int, interaction_id: int, disposition: str, notes: object = ""
    ) -> Interaction:
        """Record the disposition and notes of a wrap-up and end it: the agent is free again."""
        if disposition not in self._inbox.dispositions:
            raise InvalidInput(
                f"pick a disposition: one of {', '.join(self._inbox.dispositions)}",
                error_id="invalid-disposition",
            )
        text = clean_note(notes, "wrap-up note")
        now = self._clock()
        with self._store.atomic():
            interaction = self._interactions._owned(agent_id, interaction_id)
            if interaction.state != WRAP_UP:
                raise Conflict(
                    f"only an interaction in wrap-up can be wrapped up; this one is {interaction.state}",
                    error_id="invalid-transition",
                    state=interaction.state,
                )
            work = self._work(interaction.id, now)
            InteractionWork.update(disposition=disposition, wrap_up_notes=text, updated_at=now).where(
                InteractionWork.id == work.id
            ).execute()
            InteractionLog.create(
                interaction=interaction.id,
                agent=agent_id,
                kind="wrapped_up",
                value=disposition,
                note=text,
                at=now,
            )
        return self._interactions.finish(agent_id, interaction_id)

    # -- transfer --------------------------------------------------------------------------

    def transfer(
        self,
        agent_id: int,
        interaction_id: int,
        *,
        to_agent: str | None = None,
        to_queue: str | None = None,
        note: object = "",
    ) -> Interaction:
        """Hand an active interaction to another agent (as an offer they accept) or to a queue.

        The note travels with it: the next agent sees it on the offer and in the conversation.
        An offer the other agent lets go (rejects, misses) goes back to the queue, not to us.
        """
        if (to_agent is None) == (to_queue is None):
            raise InvalidInput("transfer to an agent or to a queue", error_id="invalid-transfer")
        text = clean_note(note, "transfer note")
        now = self._clock()
        events: list[Event] = []
        with self._store.atomic():
            self._store.lock(f"interaction:{interaction_id}")
            interaction = self._interactions._owned(agent_id, interaction_id)
            if interaction.state != ACTIVE:
                raise Conflict(
                    f"only an active interaction can be transferred; this one is {interaction.state}",
                    error_id="not-active",
                    state=interaction.state,
                )
            if to_agent is not None:
                target = Agent.get_or_none(Agent.login == str(to_agent).strip().lower())
                if target is None or not target.enabled:
                    raise NotFound(f"no agent {to_agent!r}", error_id="agent-not-found")
                if target.id == agent_id:
                    raise InvalidInput("this interaction is already yours", error_id="invalid-transfer")
                if target.presence != "available":
                    raise Conflict(
                        f"{target.name} is {target.presence} and cannot take it now; pick someone "
                        "available or transfer to a queue",
                        error_id="agent-unavailable",
                    )
                self._interactions._move(interaction, QUEUED, now, agent=None)
                self._interactions._move(interaction, OFFERED, now, agent=target.id)
                offer = Offer.create(
                    interaction=interaction.id,
                    agent=target.id,
                    created_at=now,
                    expires_at=now + self._offer_timeout,
                )
                target_name, queue_name = target.login, interaction.queue.name if interaction.queue_id else ""
                events += [
                    InteractionTransferred(interaction.id, agent_id, target.id, queue_name),
                    InteractionOffered(interaction.id, target.id, offer.id, offer.expires_at),
                ]
            else:
                queue = Queue.get_or_none(Queue.name == str(to_queue))
                if queue is None:
                    raise NotFound(f"queue {to_queue!r} does not exist", error_id="queue-not-found")
                self._interactions._move(interaction, QUEUED, now, agent=None, queue=queue.id, queued_at=now)
                target_name, queue_name = f"queue {queue.name}", queue.name
                events += [
                    InteractionTransferred(interaction.id, agent_id, None, queue_name),
                    InteractionQueued(interaction.id, queue_name),
                ]
            InteractionLog.create(
                interaction=interaction.id,
                agent=agent_id,
                kind="transferred",
                value=target_name,
                note=text,
                at=now,
            )
            self._notifier.publish(events)
        return Interaction.get_by_id(interaction_id)

    # -- helpers ---------------------------------------------------------------------------

    def _changeable(self, agent: Agent, interaction_id: int) -> Interaction:
        interaction = Interaction.get_or_none(Interaction.id == interaction_id)
        if interaction is None:
            raise NotFound(f"no interaction with id {interaction_id}", error_id="interaction-not-found")
        if interaction.agent_id != agent.id and not is_manager(agent):
            raise Forbidden("this interaction is not yours", error_id="not-your-interaction")
        return interaction

    def _work(self, interaction_id: int, now: dt.datetime) -> InteractionWork:
        work = InteractionWork.get_or_none(InteractionWork.interaction == interaction_id)
        if work is None:
            work = InteractionWork.create(
                interaction=interaction_id, stage=self._inbox.stages[0], updated_at=now
            )
        return work
