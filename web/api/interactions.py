"""/interactions: list, read, create (API channel), close, assign; their messages and routing."""

from __future__ import annotations

from typing import Any

from callyard.errors import Conflict, Forbidden, NotFound, Unavailable
from callyard.models import Interaction, Message, Queue
from callyard.services.views import interaction_dict, iso, message_dict

from . import roles, schemas
from .framework import Api, Call
from .pages import page


def interaction_out(interaction: Interaction) -> dict[str, Any]:
    out = interaction_dict(interaction)
    out.update(
        answered_at=iso(interaction.answered_at),
        ended_at=iso(interaction.ended_at),
        closed_at=iso(interaction.closed_at),
    )
    if interaction.channel == "api":
        source, _, thread = (interaction.thread_key or "").partition(":")
        out.update(source=source, thread=thread)
    return out


def get_interaction(interaction_id: int) -> Interaction:
    interaction = Interaction.get_or_none(Interaction.id == interaction_id)
    if interaction is None:
        raise NotFound(f"no interaction with id {interaction_id}", error_id="interaction-not-found")
    return interaction


def api_channel(call: Call) -> Any:
    adapter = call.adapters.get("api")
    if adapter is None:
        raise Unavailable(
            "the API channel is switched off; set [channels.api] enabled = true",
            error_id="api-channel-disabled",
        )
    return adapter


def ingested_out(call: Call, interaction_id: int, message_id: int, duplicate: bool) -> dict[str, Any]:
    message = Message.get_by_id(message_id)
    return {
        "interaction": interaction_out(get_interaction(interaction_id)),
        "message": message_dict(message),
        "duplicate": duplicate,
    }


def add_routes(api: Api) -> None:
    @api.route(
        "GET",
        "/interactions",
        tag="interactions",
        roles=roles.ANY,
        query=schemas.InteractionQuery,
        response=schemas.InteractionPage,
    )
    def list_interactions(call: Call) -> dict[str, Any]:
        """List interactions, newest first, filtered by state, channel, queue, agent or contact."""
        q: schemas.InteractionQuery = call.query
        query = Interaction.select()
        if q.state is not None:
            query = query.where(Interaction.state == q.state)
        if q.channel is not None:
            query = query.where(Interaction.channel == q.channel)
        if q.queue is not None:
            query = query.where(Interaction.queue.in_(Queue.select(Queue.id).where(Queue.name == q.queue)))
        if q.agent_id is not None:
            query = query.where(Interaction.agent == q.agent_id)
        if q.contact_id is not None:
            query = query.where(Interaction.contact == q.contact_id)
        rows, next_cursor = page(query, Interaction.id, q.limit, q.cursor)
        return {"items": [interaction_out(i) for i in rows], "next_cursor": next_cursor}

    @api.route(
        "POST",
        "/interactions",
        tag="interactions",
        roles=roles.INTEGRATE,
        body=schemas.InteractionCreate,
        response=schemas.Ingested,
        status=201,
        errors=(404, 503),
    )
    def create_interaction(call: Call) -> dict[str, Any]:
        """A customer's message on your channel (API channel): opens an interaction and routes it.
        The contact is found or created by the identity. While an interaction on the same `source`
        and `thread` is open, the message joins it instead. The answer (201) comes after the message
        is stored. Agents' replies come back as `message.created` webhooks."""
        body: schemas.InteractionCreate = call.body
        result = api_channel(call).receive(
            source=body.source,
            thread=body.thread,
            identity=(body.contact.kind, body.contact.value),
            contact_name=body.contact.name,
            body=body.body,
            queue=body.queue,
            external_id=body.external_id,
        )
        return ingested_out(call, result.interaction_id, result.message_id, result.duplicate)

    @api.route(
        "GET",
        "/interactions/{interaction_id}",
        tag="interactions",
        roles=roles.ANY,
        response=schemas.InteractionOut,
    )
    def get_interaction_by_id(call: Call, interaction_id: int) -> dict[str, Any]:
        """Read one interaction."""
        return interaction_out(get_interaction(interaction_id))

    @api.route(
        "POST",
        "/interactions/{interaction_id}/close",
        tag="interactions",
        roles=roles.CLOSE,
        response=schemas.InteractionOut,
        errors=(409,),
    )
    def close_interaction(call: Call, interaction_id: int) -> dict[str, Any]:
        """Close an open interaction, whatever its state (a pending offer is withdrawn).
        Integrator tokens may close API-channel interactions only."""
        interaction = get_interaction(interaction_id)
        if call.token.role == "integrator" and interaction.channel != "api":
            raise Forbidden(
                "an integrator token may close API-channel interactions only", error_id="forbidden"
            )
        assert call.services.supervision is not None
        return interaction_out(call.services.supervision.close(interaction_id, by=call.who))

    @api.route(
        "POST",
        "/interactions/{interaction_id}/assign",
        tag="interactions",
        roles=roles.SUPERVISE,
        body=schemas.Assign,
        response=schemas.InteractionOut,
        errors=(409,),
    )
    def assign_interaction(call: Call, interaction_id: int) -> dict[str, Any]:
        """Give a queued, offered or active interaction to an agent; it is theirs (active) at once.
        The decision is stored with the routing decisions (strategy `manual`)."""
        body: schemas.Assign = call.body
        get_interaction(interaction_id)
        assert call.services.supervision is not None
        interaction = call.services.supervision.assign(interaction_id, body.agent_id, by=call.who)
        return interaction_out(interaction)

    @api.route(
        "GET",
        "/interactions/{interaction_id}/messages",
        tag="messages",
        roles=roles.ANY,
        response=schemas.MessageList,
    )
    def list_messages(call: Call, interaction_id: int) -> dict[str, Any]:
        """Every message of an interaction, oldest first, with the delivery state of replies."""
        get_interaction(interaction_id)
        return {"items": call.services.views.messages(interaction_id)}

    @api.route(
        "POST",
        "/interactions/{interaction_id}/messages",
        tag="messages",
        roles=roles.INTEGRATE,
        body=schemas.CustomerMessage,
        response=schemas.Ingested,
        status=201,
        errors=(409, 503),
    )
    def post_customer_message(call: Call, interaction_id: int) -> dict[str, Any]:
        """The customer's next message on an API-channel interaction.
        If the interaction has ended meanwhile, the message opens a new one on the same thread."""
        body: schemas.CustomerMessage = call.body
        interaction = get_interaction(interaction_id)
        result = api_channel(call).receive_on(interaction, body.body, body.external_id)
        return ingested_out(call, result.interaction_id, result.message_id, result.duplicate)

    @api.route(
        "POST",
        "/interactions/{interaction_id}/replies",
        tag="messages",
        roles=roles.SUPERVISE,
        body=schemas.Reply,
        response=schemas.MessageOut,
        status=201,
        errors=(409,),
    )
    def send_reply(call: Call, interaction_id: int) -> dict[str, Any]:
        """Send a reply to the customer as the agent who holds the interaction.
        It goes out through the channel like any agent's reply (retried, delivery state shown)."""
        body: schemas.Reply = call.body
        interaction = get_interaction(interaction_id)
        if interaction.agent_id is None:
            raise Conflict(
                "no agent holds this interaction; assign it first (POST .../assign)", error_id="not-assigned"
            )
        message = call.services.interactions.reply(interaction.agent_id, interaction_id, body.body)
        return message_dict(message, call.services.outbox.status_of(message.id))

    @api.route(
        "GET",
        "/interactions/{interaction_id}/routing",
        tag="routing",
        roles=roles.ANY,
        response=schemas.RoutingList,
    )
    def list_routing_decisions(call: Call, interaction_id: int) -> dict[str, Any]:
        """Every routing decision about an interaction, oldest first: who was picked, why, and
        how each candidate agent stood."""
        get_interaction(interaction_id)
        return {"items": call.services.views.routing(interaction_id)}
