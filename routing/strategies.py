"""Strategies order the eligible agents; the first one gets the offer.

A strategy is a function ``(agents, item, now) -> list[agents]`` (best first) plus a short
description of what counted, used in the decision's reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from .model import AgentState, WorkItem

Strategy = Callable[[Sequence[AgentState], WorkItem, dt.datetime], list[AgentState]]


def longest_idle(agents: Sequence[AgentState], item: WorkItem, now: dt.datetime) -> list[AgentState]:
    """The agent free for the longest time first; agents who already let this item lapse last.

    Ties (same idle time) go to the lower id, so the order is total and repeatable.
    """
    return sorted(agents, key=lambda a: (a.id in item.tried_agents, a.idle_since, a.id))


STRATEGIES: dict[str, Strategy] = {
    "longest-idle": longest_idle,
}
