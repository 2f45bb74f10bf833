"""What a decision says about the agents: each one's score or disqualifier."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from .eligibility import disqualifier
from .index import SECOND, AgentIndex, IndexedAgent
from .model import Candidate, WorkItem
from .strategies import CONTACTS, ORDER, SKILL, TALK, Strategy

# Agents listed in a full explanation.
EXPLAIN_LIMIT = 50


def score(a: IndexedAgent, strategy: Strategy, required: Mapping[str, int], now: dt.datetime) -> float:
    """The strategy's measure of an agent (idle seconds, contacts today, level...)."""
    if strategy.ordering == CONTACTS:
        return float(a.contacts)
    if strategy.ordering == TALK:
        return float(a.state.talk_seconds_today)
    if strategy.ordering == ORDER:
        return float(a.state.order)
    if strategy.ordering == SKILL:
        return float(sum(a.state.skills.get(s, 0) for s in required))
    return float(int((now - a.state.idle_since) / SECOND))


def score_text(a: IndexedAgent, strategy: Strategy, required: Mapping[str, int], now: dt.datetime) -> str:
    idle = int((now - a.state.idle_since) / SECOND)
    if strategy.ordering == CONTACTS:
        return f"{a.contacts} contacts today, idle {idle}s"
    if strategy.ordering == TALK:
        return f"{int(a.state.talk_seconds_today)}s talk today, idle {idle}s"
    if strategy.ordering == ORDER:
        return f"position {a.state.order}"
    if strategy.ordering == SKILL:
        return f"skill score {sum(a.state.skills.get(s, 0) for s in required)}, idle {idle}s"
    return f"idle {idle}s"


def explain(
    index: AgentIndex,
    item: WorkItem,
    strategy: Strategy,
    required: Mapping[str, int],
    now: dt.datetime,
    chosen: tuple[int, ...] = (),
    limit: int = EXPLAIN_LIMIT,
) -> tuple[Candidate, ...]:
    """The agents that count for ``item`` now, up to ``limit``, each with their score or
    disqualifier: the chosen, then the eligible in the strategy's order, then agents with the
    required skill who cannot take it now, then the others. Looks at about ``limit`` agents
    plus the strategy's list for the item's channel, never at every agent."""
    agents = index.agents
    out = [
        Candidate(i, agents[i].state.name, True, "chosen", score(agents[i], strategy, required, now))
        for i in chosen
        if i in agents
    ]
    seen = set(chosen)

    def judge(a: IndexedAgent) -> Candidate:
        why = disqualifier(a.state, item.channel, required, a.load, index.blocks)
        if why is None and a.state.id in item.ringing:
            why = "already ringing"
        if why is not None:
            return Candidate(a.state.id, a.state.name, False, why)
        reason = "eligible, tried before" if a.state.id in item.tried_agents else "eligible"
        return Candidate(a.state.id, a.state.name, True, reason, score(a, strategy, required, now))

    rarest = min(required, key=lambda s: len(index.with_skill.get(s, ())), default=None)
    for entry in index.buckets.get((strategy.ordering, item.channel, rarest)) or ():
        if len(out) >= limit:
            break
        a = agents.get(entry[-1])
        if a is None or a.state.id in seen:
            continue
        candidate = judge(a)
        if candidate.eligible:
            out.append(candidate)
            seen.add(a.state.id)
    pools = (index.with_skill.get(rarest, ()), index.ids) if rarest else (index.ids,)
    for pool in pools:
        for agent_id in pool:
            if len(out) >= limit:
                return tuple(out)
            if agent_id not in seen:
                seen.add(agent_id)
                out.append(judge(agents[agent_id]))
    return tuple(out)
