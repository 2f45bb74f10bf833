"""What the router reads from the store: waiting work and agents as the routing brain sees
them, and which rows changed since it last looked (changes made by other processes)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

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
from ..prepared import Prepared, slot

HELD_STATES = (ACTIVE, WRAP_UP)
PROGRESSIVE = "ring-progressively"


def work_items(ids: Iterable[int] | None) -> dict[int, routing.WorkItem]:
    """Waiting interactions (and ring-progressively ones still ringing) as work items."""
    waiting = (Interaction.state == QUEUED) | (
        (Interaction.state == OFFERED) & (Queue.strategy == PROGRESSIVE)
    )
    query = Interaction.select(Interaction, Queue).join(Queue).where(waiting)
    if ids is not None:
        query = query.where(Interaction.id.in_(list(ids)))
    rows = list(query)
    if not rows:
        return {}
    offers = Offer.select(Offer.interaction, Offer.agent, Offer.state, Offer.created_at).join(Interaction)
    if ids is not None:
        offers = offers.where(Offer.interaction.in_([r.id for r in rows]))
    else:
        offers = offers.where(Interaction.state.in_((QUEUED, OFFERED)))
    tried: dict[int, set[int]] = defaultdict(set)
    ringing: dict[int, set[int]] = defaultdict(set)
    last_ring: dict[int, dt.datetime] = {}
    for offer in offers:
        if offer.state == "pending":
            ringing[offer.interaction_id].add(offer.agent_id)
            last_ring[offer.interaction_id] = max(
                offer.created_at, last_ring.get(offer.interaction_id, offer.created_at)
            )
        elif offer.state in ("expired", "rejected", "withdrawn"):
            tried[offer.interaction_id].add(offer.agent_id)
    # A voicemail or callback request put back in line after its queue's timeout or
    # after-hours action ran: it waits for an agent, it is not timed out again.
    after_timeout = (
        StateChange.select(StateChange.interaction)
        .join(Interaction)
        .where(StateChange.to_state.in_((VOICEMAIL, CALLBACK)))
    )
    # Only calls come back after a timeout (the voice channel acts on it): nothing to ask otherwise.
    calls = [r.id for r in rows if r.channel == "voice"]
    if ids is not None:
        after_timeout = after_timeout.where(StateChange.interaction.in_(calls))
    else:
        after_timeout = after_timeout.where(
            Interaction.state.in_((QUEUED, OFFERED)), Interaction.channel == "voice"
        )
    timed_out = {c.interaction_id for c in after_timeout} if calls else set()
    items = {}
    for r in rows:
        if r.state == OFFERED and not ringing[r.id]:
            continue
        last_agent, last_served = _last_served(r)
        items[r.id] = routing.WorkItem(
            id=r.id,
            channel=r.channel,
            queue=r.queue.name,
            priority=r.priority,
            waiting_since=r.queued_at or r.created_at,
            queue_since=r.queue_since,
            skills=dict(r.skills or {}),
            last_agent_id=last_agent,
            last_served_at=last_served,
            tried_agents=frozenset(tried[r.id]),
            ringing=frozenset(ringing[r.id]) if r.state == OFFERED else frozenset(),
            last_ring_at=last_ring.get(r.id) if r.state == OFFERED else None,
            timed_out=r.id in timed_out,
        )
    return items


def _last_served(row: Interaction) -> tuple[int | None, dt.datetime | None]:
    """Sticky agent: who last served this contact (queues with sticky_seconds only)."""
    if not (row.queue.rules or {}).get("sticky_seconds"):
        return None, None
    last = (
        Interaction.select(Interaction.agent, Interaction.ended_at, Interaction.closed_at)
        .where(
            Interaction.contact == row.contact_id,
            Interaction.id != row.id,
            Interaction.agent.is_null(False),
            Interaction.state.in_((WRAP_UP, CLOSED)),
        )
        .order_by(Interaction.id.desc())
        .first()
    )
    if last is None:
        return None, None
    return last.agent_id, last.ended_at or last.closed_at


def agent_states(ids: Iterable[int] | None, now: dt.datetime) -> dict[int, routing.AgentState]:
    query = Agent.select().where(Agent.enabled == True)  # noqa: E712 - peewee expression
    id_list = None if ids is None else list(ids)
    if id_list is not None:
        query = query.where(Agent.id.in_(id_list))
    agents = list(query)
    if not agents:
        return {}

    def only(query):  # noqa: ANN001, ANN202 - narrow a peewee query to these agents
        return query if id_list is None else query.where(query.model.agent.in_(id_list))

    skills: dict[int, dict[str, int]] = defaultdict(dict)
    for s in only(AgentSkill.select()):
        skills[s.agent_id][s.skill] = s.level
    capacity: dict[int, dict[str, int]] = defaultdict(dict)
    for c in only(AgentCapacity.select()):
        capacity[c.agent_id][c.channel] = c.max_load
    load: dict[int, dict[str, int]] = defaultdict(dict)
    wrap_up: set[int] = set()
    held = Interaction.select(Interaction.agent, Interaction.channel, Interaction.state)
    for i in only(held.where(Interaction.state.in_(HELD_STATES))):
        load[i.agent_id][i.channel] = load[i.agent_id].get(i.channel, 0) + 1
        if i.state == WRAP_UP:
            wrap_up.add(i.agent_id)
    # offered work counts by its pending offers: ring-all rings several agents at once
    pending = Offer.select(Offer.agent, Interaction.channel).join(Interaction).where(Offer.state == "pending")
    for o in only(pending).objects():
        load[o.agent_id][o.channel] = load[o.agent_id].get(o.channel, 0) + 1
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    contacts: dict[int, int] = defaultdict(int)
    talk: dict[int, float] = defaultdict(float)
    today = Interaction.select(Interaction.agent, Interaction.answered_at, Interaction.ended_at)
    for i in only(today.where(Interaction.answered_at >= midnight)):
        contacts[i.agent_id] += 1
        talk[i.agent_id] += max(0.0, ((i.ended_at or now) - i.answered_at).total_seconds())
    return {
        a.id: routing.AgentState(
            id=a.id,
            name=a.name,
            presence=a.presence,
            skills=skills[a.id],
            capacity=capacity[a.id],
            load=load[a.id],
            idle_since=a.idle_since,
            wrap_up=a.id in wrap_up,
            contacts_today=contacts[a.id],
            talk_seconds_today=talk[a.id],
            order=a.routing_order,
        )
        for a in agents
    }


# Asked at every routing round (dozens a second under load): their SQL built once, rows as tuples.
_CHANGED_ITEMS = Prepared(
    lambda: (
        Interaction.select(Interaction.id, Interaction.agent, Interaction.updated_at)
        .where(Interaction.updated_at > slot("since", Interaction.updated_at))
        .tuples()
    ),
)
_DECIDED_OFFERS = Prepared(
    lambda: (
        Offer.select(Offer.interaction, Offer.agent, Offer.decided_at)
        .where(Offer.decided_at > slot("since", Offer.decided_at))
        .tuples()
    ),
)
_AGENTS_MOVED = Prepared(
    lambda: (
        Agent.select(Agent.id, Agent.presence_since)
        .where(Agent.presence_since > slot("since", Agent.presence_since))
        .tuples()
    ),
)


class StoreWatch:
    """Rows changed since the newest change already seen, per table. Catches what no event
    told this process about (the CLI, another process); the router's full rebuild every
    resync_seconds is the safety net for what it misses (clocks of other machines behind)."""

    def __init__(self) -> None:
        epoch = dt.datetime(1970, 1, 1)
        self._marks: dict[str, dt.datetime] = {"interaction": epoch, "offer": epoch, "agent": epoch}

    def changed_since(self, items: set[int], agents: set[int]) -> None:
        """Add to ``items`` and ``agents`` the interactions and agents whose rows changed
        since the last look."""
        marks = self._marks
        for item_id, agent_id, updated_at in _CHANGED_ITEMS.all(since=marks["interaction"]):
            items.add(item_id)
            if agent_id is not None:
                agents.add(agent_id)
            marks["interaction"] = max(marks["interaction"], updated_at)
        for item_id, agent_id, decided_at in _DECIDED_OFFERS.all(since=marks["offer"]):
            items.add(item_id)
            agents.add(agent_id)
            marks["offer"] = max(marks["offer"], decided_at)
        for agent_id, presence_since in _AGENTS_MOVED.all(since=marks["agent"]):
            agents.add(agent_id)
            marks["agent"] = max(marks["agent"], presence_since)

    def mark_now(self) -> None:
        """Everything in the store now counts as seen."""
        epoch = dt.datetime(1970, 1, 1)
        self._marks = {
            "interaction": Interaction.select(fn.MAX(Interaction.updated_at)).scalar() or epoch,
            "offer": Offer.select(fn.MAX(Offer.decided_at)).scalar() or epoch,
            "agent": Agent.select(fn.MAX(Agent.presence_since)).scalar() or epoch,
        }
