"""Live pushes to agents' browsers: bus events in, Socket.IO events out.

Handlers read what they send from the store after the change was committed, so a browser
never sees something that could still be rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import peewee as pw
from flask_socketio import SocketIO

from callyard import events as ev
from callyard.models import Agent, Attachment, Contact, Interaction, Message, Offer, Queue
from callyard.prepared import Prepared, slot
from callyard.services import Services
from callyard.services.access import MANAGERS
from callyard.services.views import agent_dict, message_dict

from .push_queue import PushQueue

log = logging.getLogger(__name__)

NAMESPACE = "/agent"


def _message_query() -> pw.ModelSelect:
    """A message with its interaction, contact and queue, and whether it has files."""
    return (
        Message.select(
            Message,
            Interaction,
            Contact,
            Queue,
            pw.fn.EXISTS(Attachment.select(Attachment.id).where(Attachment.message == Message.id)).alias(
                "has_files"
            ),
        )
        .join(Interaction)
        .join(Contact)
        .switch(Interaction)
        .join(Queue, pw.JOIN.LEFT_OUTER)
    )


# One message, in one query whose SQL is built once (see callyard.prepared): this runs for
# every message pushed alone.
_MESSAGE = Prepared(lambda: _message_query().where(Message.id == slot("id")))


def room(agent_id: int) -> str:
    return f"agent:{agent_id}"


# Who watches every call, read for each run of call pushes: its SQL built once.
_MANAGERS = Prepared(
    lambda: Agent.select(Agent.id).where(Agent.role.in_(MANAGERS), Agent.enabled == True),  # noqa: E712
)


def managers() -> list[int]:
    return [a.id for a in _MANAGERS.all()]


# Read for every offer (each call has one): its SQL built once.
_OFFER = Prepared(lambda: Offer.select().where(Offer.id == slot("offer_id")).limit(1))


def disconnect_agent(socketio: SocketIO, agent_id: int) -> None:
    """End every socket of this agent (on logout): they carry a session that is over."""
    server = socketio.server
    for sid, _eio_sid in list(server.manager.get_participants(NAMESPACE, room(agent_id))):
        server.emit("logged_out", {}, to=sid, namespace=NAMESPACE)
        server.disconnect(sid, namespace=NAMESPACE)


def _messages(ids: list[int]) -> list[Message]:
    """_MESSAGE for each of ``ids`` (a burst of pushes): one query."""
    if len(ids) == 1:
        message = _MESSAGE.first(id=ids[0])
        return [] if message is None else [message]
    return list(_message_query().where(Message.id.in_(ids)))


def init(socketio: SocketIO, services: Services, pushes: PushQueue) -> None:
    def emit(agent_id: int | None, event: str, data: dict) -> None:
        """Journal the push under the agent's next number, then send it with that number: a tab
        that was away asks for what came after the last number it saw (see agent_events)."""
        if agent_id is not None:
            seq = services.journal.record(agent_id, event, data)
            socketio.emit(event, {**data, "seq": seq}, to=room(agent_id), namespace=NAMESPACE)

    def emit_many(sends: list[tuple[int, str, dict]]) -> None:
        """``emit`` for several pushes, journalled in one statement."""
        if not sends:
            return
        for (agent_id, event, data), seq in zip(sends, services.journal.record_many(sends), strict=True):
            socketio.emit(event, {**data, "seq": seq}, to=room(agent_id), namespace=NAMESPACE)

    item = services.inbox.work_item
    item_many = services.inbox.work_items

    def with_db(handler: Callable[[ev.Event], None]) -> Callable[[ev.Event], None]:
        def guarded(event: ev.Event) -> None:
            with services.store.connection():
                handler(event)

        return guarded

    load = services.inbox.interaction

    def offered(event: ev.InteractionOffered) -> None:
        offer = _OFFER.first(offer_id=event.offer_id)
        if offer is None:
            raise Offer.DoesNotExist(event.offer_id)
        emit(event.agent_id, "offer", item(load(offer.interaction_id), event.agent_id, offer))

    def withdrawn(event: ev.OfferWithdrawn) -> None:
        emit(
            event.agent_id,
            "offer_withdrawn",
            {"interaction_id": event.interaction_id, "reason": event.reason},
        )

    def items_moved(events: list[ev.Event]) -> None:
        """An interaction moved (``interaction``: assigned, wrapped up, closed) or its call did
        (``call``: ringing, talking, on hold, ended; supervisors get these too, for their live
        calls). Each push is the work item as the list shows it now. Under load these come
        interleaved for many calls at once, and a run of them is made together: one read of the
        interactions, one of their work items, one journal statement."""
        found = services.inbox.interactions(sorted({e.interaction_id for e in events}))  # type: ignore[attr-defined]
        watchers = managers() if any(isinstance(e, ev.CallStateChanged) for e in events) else []
        places: dict[tuple[int, int | None], int] = {}  # (interaction, agent) -> its view's place
        views: list[tuple[Interaction, int | None]] = []
        sends: list[tuple[int, str, int]] = []  # (agent, event name, place of its view)

        def view(interaction: Interaction, agent_id: int | None) -> int:
            if (interaction.id, agent_id) not in places:
                places[interaction.id, agent_id] = len(views)
                views.append((interaction, agent_id))
            return places[interaction.id, agent_id]

        for event in events:
            interaction = found.get(event.interaction_id)  # type: ignore[attr-defined]
            agent_id: int | None = event.agent_id  # type: ignore[attr-defined]
            if isinstance(event, ev.CallStateChanged):
                if interaction is None:
                    continue
                if agent_id is not None:
                    sends.append((agent_id, "call", view(interaction, agent_id)))
                sends += [(m, "call", view(interaction, None)) for m in watchers if m != agent_id]
            else:
                if interaction is None:
                    raise Interaction.DoesNotExist(event.interaction_id)  # type: ignore[attr-defined]
                if agent_id is not None:
                    sends.append((agent_id, "interaction", view(interaction, agent_id)))
        shown = item_many(views)
        emit_many([(agent_id, name, shown[place]) for agent_id, name, place in sends])

    def message_created(event: ev.MessageCreated) -> None:
        messages_created([event])

    def messages_created(events: list[ev.MessageCreated]) -> None:
        found = {m.id: m for m in _messages([e.message_id for e in events])}
        shown: list[tuple[Message, Interaction]] = []
        for event in events:
            message = found.get(event.message_id)
            if message is None:
                raise Message.DoesNotExist(event.message_id)
            interaction = message.interaction
            if interaction.agent_id is None or interaction.state == "offered":
                continue
            shown.append((message, interaction))
        items = item_many([(interaction, interaction.agent_id) for _m, interaction in shown])
        sends = []
        for (message, interaction), work_item in zip(shown, items, strict=True):
            delivery = services.outbox.status_of(message.id) if message.direction == "out" else None
            # One push carries the message and the interaction as the work list shows it now
            # (preview, unread count, SLA clock): half the pushes of sending them apart.
            data = message_dict(message, delivery, attachments=None if message.has_files else [])
            data["interaction"] = work_item
            sends.append((interaction.agent_id, "message", data))
        emit_many(sends)

    def delivery_failed(event: ev.MessageDeliveryFailed) -> None:
        interaction = Interaction.get_by_id(event.interaction_id)
        emit(
            interaction.agent_id,
            "delivery_failed",
            {"message_id": event.message_id, "interaction_id": event.interaction_id, "error": event.error},
        )

    def presence(event: ev.AgentPresenceChanged) -> None:
        emit(event.agent_id, "presence", agent_dict(Agent.get_by_id(event.agent_id)))

    def transferred(event: ev.InteractionTransferred) -> None:
        # The agent who handed it on sees it leave their list (it is no longer theirs).
        interaction = Interaction.get_by_id(event.interaction_id)
        emit(event.from_agent_id, "interaction", item(interaction, event.from_agent_id))

    def work_changed(event: ev.InteractionWorkChanged) -> None:
        interaction = Interaction.get_by_id(event.interaction_id)
        emit(interaction.agent_id, "interaction", item(interaction, interaction.agent_id))

    def typed(event: ev.CustomerTyped) -> None:
        # Live only: a typing indicator is stale a moment later, so it is neither numbered nor
        # kept for catch-up.
        socketio.emit(
            "typing", {"interaction_id": event.interaction_id}, to=room(event.agent_id), namespace=NAMESPACE
        )

    def same_item(event: ev.Event) -> tuple[int, int | None]:
        # These read the interaction as it is when they run: one push says it for all.
        return (event.interaction_id, event.agent_id)  # type: ignore[attr-defined]

    def later(  # noqa: ANN202
        handler: Callable[[ev.Event], None],
        key: Callable[[ev.Event], object] | None = None,
        many: Callable[[list], None] | None = None,
    ):
        return pushes.defer(with_db(handler), key, with_db(many) if many else None)  # type: ignore[arg-type]

    bus = services.bus
    # Live only, and cheap: sent at once.
    bus.subscribe(typed, ev.CustomerTyped)
    bus.subscribe(later(transferred), ev.InteractionTransferred)
    bus.subscribe(later(work_changed, lambda e: e.interaction_id), ev.InteractionWorkChanged)  # type: ignore[attr-defined]
    bus.subscribe(later(offered), ev.InteractionOffered)
    bus.subscribe(later(withdrawn), ev.OfferWithdrawn)
    # Interactions and calls: read as they are when they run, one waiting push per thing and
    # agent says it all; runs of either kind are made together.
    moved = with_db(items_moved)
    bus.subscribe(
        pushes.defer(with_db(lambda e: items_moved([e])), same_item, moved),
        ev.InteractionAssigned,
        ev.InteractionWrappedUp,
        ev.InteractionClosed,
    )
    bus.subscribe(pushes.defer(with_db(lambda e: items_moved([e])), same_item, moved), ev.CallStateChanged)
    bus.subscribe(later(message_created, many=messages_created), ev.MessageCreated)
    bus.subscribe(later(delivery_failed), ev.MessageDeliveryFailed)
    bus.subscribe(later(presence, lambda e: e.agent_id), ev.AgentPresenceChanged)  # type: ignore[attr-defined]
