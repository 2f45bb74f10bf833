"""One planning round over a snapshot: the brain, built, asked once, and thrown away."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

from .brain import Brain
from .eligibility import DEFAULT_BLOCKS
from .model import AgentState, Decision, QueueRules, WorkItem


def plan(
    items: Iterable[WorkItem],
    agents: Sequence[AgentState],
    now: dt.datetime,
    queues: Iterable[QueueRules] | None = None,
    *,
    blocks: Mapping[str, frozenset[str]] = DEFAULT_BLOCKS,
    explain: bool = True,
    seed: int = 0,
) -> list[Decision]:
    """Decide, for each waiting item, most urgent first, which agent(s) to offer it to, or why not.

    Queues not given get the default rules (longest-idle, no required skills). Each offer
    counts against the agent's capacity for the rest of the round.
    """
    items = list(items)
    rules = {q.name: q for q in queues or ()}
    for item in items:
        rules.setdefault(item.queue, QueueRules(item.queue))
    brain = Brain(rules.values(), blocks=blocks, explain=explain, seed=seed)
    for agent in agents:
        brain.set_agent(agent)
    for item in items:
        brain.hold_item(item, now)
    return brain.plan(now)
