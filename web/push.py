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
from callyard.models import Agent, Contact, Interaction, Message, Offer, Queue
from callyard.services import Services
from callyard.services.views import agent_dict, message_dict

log = logging.getLogger(__name__)

NAMESPACE = "/agent"


def room(agent_id: int) -> str:
    return f"agent:{agent_id}"


def disconnect_agent(socketio: SocketIO, agent_id: int) -> None:
    """End every socket of this agent (on logout): they carry a session that is over."""
    server = socketio.server
    for sid, _eio_sid in list(server.manager.get_participants(NAMESPACE, room(agent_id))):
        server.emit("logged_out", {}, to=sid, namespace=NAMESPACE)
        server.disconnect(sid, namespace=NAMESPACE)


def init(socketio: SocketIO, services: Services) -> None:
    def emit(agent_id: int | None, event: str, data: dict) -> None:
        """Journal the push under the agent's next number, then send it with that number: a tab
        that was away asks for what came after the last number it saw (see agent_events)."""
        if agent_id is not None:
            seq = services.journal.record(agent_id, event, data)
            socketio.emit(event, {**data, "seq": seq}, to=room(agent_id), namespace=NAMESPACE)

    item = services.inbox.work_item

    def with_db(handler: Callable[[ev.Event], None]) -> Callable[[ev.Event], None]:
        def guarded(event: ev.Event) -> None:
            with services.store.connection():
                handler(event)

        return guarded

    def offered(event: ev.InteractionOffered) -> None:
        offer = Offer.get_by_id(event.offer_id)
        emit(event.agent_id, "offer", item(offer.interaction, event.agent_id, offer))

    def withdrawn(event: ev.OfferWithdrawn) -> None:
        emit(
            event.agent_id,
            "offer_withdrawn",
            {"interaction_id": event.interaction_id, "reason": event.reason},
        )

    def interaction_changed(
        event: ev.InteractionAssigned | ev.InteractionWrappedUp | ev.InteractionClosed,
    ) -> None:
        interaction = Interaction.get_by_id(event.interaction_id)
        emit(event.agent_id, "interaction", item(interaction, event.agent_id))

    def message_created(event: ev.MessageCreated) -> None:
        # The message with its interaction, contact and queue in one query: this runs for
        # every message.
        message = (
            Message.select(Message, Interaction, Contact, Queue)
            .join(Interaction)
            .join(Contact)
            .switch(Interaction)
            .join(Queue, pw.JOIN.LEFT_OUTER)
            .where(Message.id == event.message_id)
            .get()
        )
        interaction = message.interaction
        if interaction.agent_id is None or interaction.state == "offered":
            return
        delivery = services.outbox.status_of(message.id) if message.direction == "out" else None
        # One push carries the message and the interaction as the work list shows it now
        # (preview, unread count, SLA clock): half the pushes of sending them apart.
        data = message_dict(message, delivery)
        data["interaction"] = item(interaction, interaction.agent_id)
        emit(interaction.agent_id, "message", data)

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

    bus = services.bus
    bus.subscribe(typed, ev.CustomerTyped)
    bus.subscribe(with_db(transferred), ev.InteractionTransferred)
    bus.subscribe(with_db(work_changed), ev.InteractionWorkChanged)
    bus.subscribe(with_db(offered), ev.InteractionOffered)
    bus.subscribe(with_db(withdrawn), ev.OfferWithdrawn)
    bus.subscribe(
        with_db(interaction_changed), ev.InteractionAssigned, ev.InteractionWrappedUp, ev.InteractionClosed
    )
    bus.subscribe(with_db(message_created), ev.MessageCreated)
    bus.subscribe(with_db(delivery_failed), ev.MessageDeliveryFailed)
    bus.subscribe(with_db(presence), ev.AgentPresenceChanged)
