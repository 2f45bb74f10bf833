"""What the router reads from the store: waiting work and agents as the routing brain sees
them, and which rows changed since it last looked (changes made by other processes)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import peewee as pw
from peewee import fn

from .. import routing
from ..models import (
    ACTIVE,
    CALLBACK,
    CLOSED,
    OFFERED,
    QUEUED,
    VOICEMAIL,
    WRAP_UP,
    Agent,
    AgentCapacity,
    AgentSkill,
    Interaction,
    Offer,
    Queue,
    StateChange,
)
from ..prepared import Prepared, PreparedIn, slot

HELD_STATES = (ACTIVE, WRAP_UP)
PROGRESSIVE = "ring-progressively"
PENDING = "pending"  # an offer's state, in the rows of _WORK beside interactions' own states
TIMED_OUT = "timed out"  # in the rows of _OFFERS_OF beside offers' states

# Read at every routing round for the items and agents that changed (dozens a second under
# load): their SQL is built once per length of the id list (see callyard.prepared), rows come
# as tuples where nothing needs a model.


def _in(query, column, ids):  # noqa: ANN001, ANN202 - narrow a peewee query to these ids
    return query if ids is None else query.where(column.in_(ids))


def _waiting(ids):  # noqa: ANN001, ANN202
    waiting = (Interaction.state == QUEUED) | (
        (Interaction.state == OFFERED) & (Queue.strategy == PROGRESSIVE)
    )
    # only what a work item needs, as named tuples: no models made
    columns = (
        Interaction.id,
        Interaction.contact.alias("contact_id"),
        Interaction.channel,
        Interaction.state,
        Interaction.priority,
        Interaction.created_at,
        Interaction.queued_at,
        Interaction.queue_since,
        Interaction.skills,
        Queue.name.alias("queue"),
        Queue.rules.alias("rules"),
    )
    query = Interaction.select(*columns).join(Queue).where(waiting)
    return _in(query, Interaction.id, ids).namedtuples()


def waiting_ids() -> set[int]:
    """Every interaction that waits for an agent now (as ``work_items`` would read it)."""
    return {item_id for (item_id,) in _waiting(None).select(Interaction.id).tuples()}


def _offers_of(ids):  # noqa: ANN001, ANN202
    """The offers of these items, and (state TIMED_OUT, no agent) whether their queue's
    timeout or after-hours action ran, in one statement."""
    offers = Offer.select(Offer.interaction, Offer.agent, Offer.state, Offer.created_at).join(Interaction)
    # A voicemail or callback request put back in line after its queue's timeout or
    # after-hours action ran: it waits for an agent, it is not timed out again.
    after_timeout = (
        StateChange.select(StateChange.interaction, pw.SQL("NULL"), pw.SQL(f"'{TIMED_OUT}'"), pw.SQL("NULL"))
        .join(Interaction)
        .where(StateChange.to_state.in_((VOICEMAIL, CALLBACK)))
    )
    if ids is None:
        waiting = Interaction.state.in_((QUEUED, OFFERED))
        # Only calls come back after a timeout (the voice channel acts on it).
        after_timeout = after_timeout.where(waiting, Interaction.channel == "voice")
        return (offers.where(waiting) + after_timeout).tuples()
    return (
        offers.where(Offer.interaction.in_(ids)) + after_timeout.where(StateChange.interaction.in_(ids))
    ).tuples()


_WAITING = PreparedIn(_waiting)
_OFFERS_OF = PreparedIn(_offers_of)
_LAST_SERVED = Prepared(
    lambda: (
        Interaction.select(Interaction.agent, Interaction.ended_at, Interaction.closed_at)
        .where(
            Interaction.contact == slot("contact_id"),
            Interaction.id != slot("interaction_id"),
            Interaction.agent.is_null(False),
            Interaction.state.in_((WRAP_UP, CLOSED)),
        )
        .order_by(Interaction.id.desc())
        .limit(1)
        .tuples()
    )
)
_AGENTS = PreparedIn(
    lambda ids: _in(
        Agent.select(Agent.id, Agent.name, Agent.presence, Agent.idle_since, Agent.routing_order).where(
            Agent.enabled == True  # noqa: E712 - peewee expression
        ),
        Agent.id,
        ids,
    ).tuples()
)
# Skills and capacities in one statement: (agent, "skill" or "capacity", skill or channel, level or load).
_SKILLS_AND_CAPACITY = PreparedIn(
    lambda ids: (
        _in(
            AgentSkill.select(AgentSkill.agent, pw.SQL("'skill'"), AgentSkill.skill, AgentSkill.level),
            AgentSkill.agent,
            ids,
        )
        + _in(
            AgentCapacity.select(
                AgentCapacity.agent, pw.SQL("'capacity'"), AgentCapacity.channel, AgentCapacity.max_load
            ),
            AgentCapacity.agent,
            ids,
        )
    ).tuples()
)
# An agent's work in one statement: interactions held (load) or answered today (contacts,
# talk time), and pending offers (offered work counts by its offers: ring-all rings several
# agents at once), as (agent, channel, state or PENDING, answered_at, ended_at).
_WORK = PreparedIn(
    lambda ids: (
        _in(
            Interaction.select(
                Interaction.agent,
                Interaction.channel,
                Interaction.state,
                Interaction.answered_at,
                Interaction.ended_at,
            ).where(
                Interaction.state.in_(HELD_STATES)
                | (Interaction.answered_at >= slot("midnight", Interaction.answered_at))
            ),
            Interaction.agent,
            ids,
        )
        + _in(
            Offer.select(Offer.agent, Interaction.channel, Offer.state, pw.SQL("NULL"), pw.SQL("NULL"))
            .join(Interaction)
            .where(Offer.state == PENDING),
            Offer.agent,
            ids,
        )
    ).tuples()
)


def work_items(ids: Iterable[int] | None) -> dict[int, routing.WorkItem]:
    """Waiting interactions (and ring-progressively ones still ringing) as work items."""
    id_list = None if ids is None else sorted(ids)
    rows = _WAITING.all(id_list)
    if not rows:
        return {}
    tried: dict[int, set[int]] = defaultdict(set)
    ringing: dict[int, set[int]] = defaultdict(set)
    last_ring: dict[int, dt.datetime] = {}
    timed_out: set[int] = set()
    for item_id, agent_id, state, created_at in _OFFERS_OF.rows(
        None if id_list is None else [r.id for r in rows]
    ):
        if state == PENDING:
            ringing[item_id].add(agent_id)
            last_ring[item_id] = max(created_at, last_ring.get(item_id, created_at))
        elif state in ("expired", "rejected", "withdrawn"):
            tried[item_id].add(agent_id)
        elif state == TIMED_OUT:
            timed_out.add(item_id)
    items = {}
    for r in rows:
        if r.state == OFFERED and not ringing[r.id]:
            continue
        last_agent, last_served = _last_served(r)
        items[r.id] = routing.WorkItem(
            id=r.id,
            channel=r.channel,
            queue=r.queue,
            priority=r.priority,
            waiting_since=r.queued_at or r.created_at,
            queue_since=r.queue_since,
            skills=dict(r.skills or {}),
            last_agent_id=last_agent,
            last_served_at=last_served,
            tried_agents=frozenset(tried[r.id]),
            ringing=frozenset(ringing[r.id]) if r.state == OFFERED else frozenset(),
            last_ring_at=last_ring.get(r.id) if r.state == OFFERED else None,
            # only calls come back after a timeout (the voice channel acts on it)
            timed_out=r.channel == "voice" and r.id in timed_out,
        )
    return items


def _last_served(row: Any) -> tuple[int | None, dt.datetime | None]:
    """Sticky agent: who last served this contact (queues with sticky_seconds only)."""
    if not (row.rules or {}).get("sticky_seconds"):
        return None, None
    last = _LAST_SERVED.first(contact_id=row.contact_id, interaction_id=row.id)
    if last is None:
        return None, None
    agent_id, ended_at, closed_at = last
    return agent_id, ended_at or closed_at


def agent_states(ids: Iterable[int] | None, now: dt.datetime) -> dict[int, routing.AgentState]:
    id_list = None if ids is None else sorted(ids)
    agents = _AGENTS.all(id_list)
    if not agents:
        return {}
    skills: dict[int, dict[str, int]] = defaultdict(dict)
    capacity: dict[int, dict[str, int]] = defaultdict(dict)
    for agent_id, kind, name, number in _SKILLS_AND_CAPACITY.rows(id_list):
        (skills if kind == "skill" else capacity)[agent_id][name] = number
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    load: dict[int, dict[str, int]] = defaultdict(dict)
    wrap_up: set[int] = set()
    contacts: dict[int, int] = defaultdict(int)
    talk: dict[int, float] = defaultdict(float)
    for agent_id, channel, state, answered_at, ended_at in _WORK.rows(id_list, midnight=midnight):
        if state == PENDING or state in HELD_STATES:
            load[agent_id][channel] = load[agent_id].get(channel, 0) + 1
        if state == WRAP_UP:
            wrap_up.add(agent_id)
        if answered_at is not None and answered_at >= midnight:
            contacts[agent_id] += 1
            talk[agent_id] += max(0.0, ((ended_at or now) - answered_at).total_seconds())
    return {
        agent_id: routing.AgentState(
            id=agent_id,
            name=name,
            presence=presence,
            skills=skills[agent_id],
            capacity=capacity[agent_id],
            load=load[agent_id],
            idle_since=idle_since,
            wrap_up=agent_id in wrap_up,
            contacts_today=contacts[agent_id],
            talk_seconds_today=talk[agent_id],
            order=order,
        )
        for agent_id, name, presence, idle_since, order in agents
    }


# Asked at every routing round: what changed in the three tables, in one statement, as
# (table, id, agent or interaction's agent, when).
_CHANGES = Prepared(
    lambda: (
        Interaction.select(pw.SQL("'interaction'"), Interaction.id, Interaction.agent, Interaction.updated_at)
        .where(Interaction.updated_at > slot("interaction", Interaction.updated_at))
        .union_all(
            Offer.select(pw.SQL("'offer'"), Offer.interaction, Offer.agent, Offer.decided_at).where(
                Offer.decided_at > slot("offer", Offer.decided_at)
            )
        )
        .union_all(
            Agent.select(pw.SQL("'agent'"), Agent.id, pw.SQL("NULL"), Agent.presence_since).where(
                Agent.presence_since > slot("agent", Agent.presence_since)
            )
        )
        .tuples()
    ),
)


class StoreWatch:
    """Rows changed since the newest change already seen, per table. Catches what no event
    told this process about (the CLI, another process); the router's full rebuild every
    resync_seconds is the safety net for what it misses (clocks of other machines behind).

    The router's own offers change interactions too; it tells the watch (``wrote``), and a row
    seen exactly as the router left it is not reported: the brain already holds what a re-read
    would give (the item offered, the agent's load one more). Any later write, by anyone,
    changes ``updated_at`` and is reported as usual."""

    def __init__(self) -> None:
        epoch = dt.datetime(1970, 1, 1)
        self._marks: dict[str, dt.datetime] = {"interaction": epoch, "offer": epoch, "agent": epoch}
        # interaction id -> the updated_at the router itself wrote, until the watch sees it
        self._own: dict[int, dt.datetime] = {}

    def wrote(self, interaction_id: int, updated_at: dt.datetime) -> None:
        """The router itself (committed) set this interaction's ``updated_at``."""
        self._own[interaction_id] = updated_at

    def changed_since(self, items: set[int], agents: set[int]) -> None:
        """Add to ``items`` and ``agents`` the interactions and agents whose rows changed
        since the last look."""
        marks = self._marks
        own = self._own
        for table, row_id, agent_id, at in _CHANGES.rows(**marks):
            if at > marks[table]:
                marks[table] = at
            if table == "agent":
                agents.add(row_id)
                continue
            if table == "interaction" and own and own.pop(row_id, None) == at:
                continue  # as the router itself left it
            items.add(row_id)
            if agent_id is not None:
                agents.add(agent_id)
        # What the look did not meet (a write with an older time) is no longer worth keeping.
        own.clear()

    def mark_now(self) -> None:
        """Everything in the store now counts as seen."""
        epoch = dt.datetime(1970, 1, 1)
        self._own.clear()
        self._marks = {
            "interaction": Interaction.select(fn.MAX(Interaction.updated_at)).scalar() or epoch,
            "offer": Offer.select(fn.MAX(Offer.decided_at)).scalar() or epoch,
            "agent": Agent.select(fn.MAX(Agent.presence_since)).scalar() or epoch,
        }
