"""/me, /queues, /agents (with presence) and /calls."""

from __future__ import annotations

import datetime as dt
from typing import Any

import peewee as pw
from playhouse.shortcuts import model_to_dict

from callyard import models
from callyard.errors import Conflict
from callyard.models import QUEUED, Agent, Interaction, Queue
from callyard.services.views import agent_dict, iso

from . import roles, schemas
from .framework import Api, Call
from .pages import page


def queue_out(queue: Queue) -> dict[str, Any]:
    waiting = Interaction.select().where(Interaction.queue == queue.id, Interaction.state == QUEUED).count()
    return {
        "name": queue.name,
        "strategy": queue.strategy,
        "priority": queue.priority,
        "skills": dict(queue.skills),
        "wrap_up_seconds": queue.wrap_up_seconds,
        "waiting": waiting,
        "created_at": iso(queue.created_at),
    }


def agent_out(call: Call, agent: Agent) -> dict[str, Any]:
    return {
        **agent_dict(agent),
        "enabled": agent.enabled,
        "skills": call.services.agents.skills(agent.id),
        "capacity": call.services.agents.capacity(agent.id),
    }


def _plain(value: Any) -> Any:
    return iso(value) if isinstance(value, dt.datetime) else value


def add_routes(api: Api) -> None:
    @api.route("GET", "/me", tag="tokens", roles=roles.ANY, response=schemas.Me)
    def who_am_i(call: Call) -> dict[str, Any]:
        """The token you are calling with: its name and role."""
        return {"name": call.token.name, "role": call.token.role, "prefix": call.token.prefix}

    @api.route("GET", "/queues", tag="queues", roles=roles.ANY, response=schemas.QueueList)
    def list_queues(call: Call) -> dict[str, Any]:
        """Every queue, with how many interactions wait in it now."""
        return {"items": [queue_out(q) for q in call.services.queues.list()]}

    @api.route(
        "POST",
        "/queues",
        tag="queues",
        roles=roles.ADMIN,
        body=schemas.QueueCreate,
        response=schemas.QueueOut,
        status=201,
        errors=(409,),
    )
    def create_queue(call: Call) -> dict[str, Any]:
        """Add a queue (queues in the config file are kept as the file says at every start)."""
        body: schemas.QueueCreate = call.body
        try:
            queue = call.services.queues.add(
                body.name,
                strategy=body.strategy,
                priority=body.priority,
                skills=dict(body.skills),
                wrap_up_seconds=body.wrap_up_seconds,
            )
        except pw.IntegrityError:  # another request added the same name a moment before
            raise Conflict(f"queue {body.name!r} already exists", error_id="queue-exists") from None
        return queue_out(queue)

    @api.route("GET", "/queues/{name}", tag="queues", roles=roles.ANY, response=schemas.QueueOut)
    def get_queue(call: Call, name: str) -> dict[str, Any]:
        """Read one queue."""
        return queue_out(call.services.queues.get(name))

    @api.route("GET", "/agents", tag="agents", roles=roles.ANY, response=schemas.AgentList)
    def list_agents(call: Call) -> dict[str, Any]:
        """Every agent with presence, skills and capacity per channel."""
        return {"items": [agent_out(call, a) for a in call.services.agents.list()]}

    @api.route("GET", "/agents/{agent_id}", tag="agents", roles=roles.ANY, response=schemas.AgentOut)
    def get_agent(call: Call, agent_id: int) -> dict[str, Any]:
        """Read one agent."""
        return agent_out(call, call.services.agents.get(agent_id))

    @api.route(
        "PUT",
        "/agents/{agent_id}/presence",
        tag="agents",
        roles=roles.SUPERVISE,
        body=schemas.Presence,
        response=schemas.AgentOut,
    )
    def set_agent_presence(call: Call, agent_id: int) -> dict[str, Any]:
        """Set an agent's presence (`available`, `break` with a reason, `offline`).
        Leaving `available` hands their pending offers to someone else."""
        body: schemas.Presence = call.body
        agent = call.services.agents.set_presence(agent_id, body.presence, body.reason)
        return agent_out(call, agent)

    @api.route(
        "GET", "/calls", tag="calls", roles=roles.ANY, query=schemas.PageQuery, response=schemas.CallPage
    )
    def list_calls(call: Call) -> dict[str, Any]:
        """Call records (one per phone call), newest first."""
        q: schemas.PageQuery = call.query
        record = models.CallRecord
        rows, next_cursor = page(record.select(), record.id, q.limit, q.cursor)
        items = [
            {key: _plain(value) for key, value in model_to_dict(row, recurse=False).items()} for row in rows
        ]
        return {"available": True, "note": "", "items": items, "next_cursor": next_cursor}
