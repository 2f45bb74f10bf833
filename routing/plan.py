"""One planning round: give waiting work to eligible agents, most urgent work first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from .eligibility import disqualifier
from .model import AgentState, Candidate, Decision, WorkItem
from .strategies import STRATEGIES


def urgency(item: WorkItem) -> tuple:
    """Higher queue priority, then higher item priority, then first come first served."""
    return (-item.queue_priority, -item.priority, item.waiting_since, item.id)


def plan(items: Iterable[WorkItem], agents: Sequence[AgentState], now: dt.datetime) -> list[Decision]:
    """Decide, for each waiting item, which agent to offer it to (or why nobody).

    Each assignment counts against the agent's capacity for the rest of the round, so one
    round never gives an agent more than they can hold.
    """
    loads = {a.id: dict(a.load) for a in agents}
    decisions = []
    for item in sorted(items, key=urgency):
        strategy = STRATEGIES.get(item.strategy)
        if strategy is None:
            raise ValueError(f"queue {item.queue!r}: unknown strategy {item.strategy!r}")
        candidates = []
        eligible = []
        for agent in agents:
            why_not = disqualifier(agent, item, loads[agent.id])
            if why_not is None:
                eligible.append(agent)
            candidates.append(Candidate(agent.id, agent.name, why_not is None, why_not or "eligible"))
        ranked = strategy(eligible, item, now)
        if not ranked:
            decisions.append(Decision(item.id, None, item.strategy, "no eligible agent", tuple(candidates)))
            continue
        chosen = ranked[0]
        loads[chosen.id][item.channel] = loads[chosen.id].get(item.channel, 0) + 1
        idle = int((now - chosen.idle_since).total_seconds())
        reason = f"{item.strategy}: {chosen.name} idle {idle}s, {len(ranked)} eligible"
        decisions.append(Decision(item.id, chosen.id, item.strategy, reason, tuple(candidates)))
    return decisions
