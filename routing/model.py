"""What the router sees and what it answers. Plain frozen dataclasses, no behaviour."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AgentState:
    id: int
    name: str
    # offline, available or break; only available agents get work.
    presence: str
    skills: Mapping[str, int]
    # channel -> how many interactions of that channel the agent may hold at once
    capacity: Mapping[str, int]
    # channel -> how many the agent holds now (offered, active or in wrap-up)
    load: Mapping[str, int]
    # since when the agent has been free; longest-idle picks the oldest
    idle_since: dt.datetime


@dataclass(frozen=True)
class WorkItem:
    id: int
    channel: str
    queue: str
    strategy: str
    # skill -> minimum level the agent needs
    required_skills: Mapping[str, int]
    queue_priority: int
    priority: int
    waiting_since: dt.datetime
    # agents that let this item's earlier offers lapse or rejected them: tried last
    tried_agents: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Candidate:
    agent_id: int
    name: str
    eligible: bool
    # why not (when not eligible) or what counted for them (when eligible)
    reason: str


@dataclass(frozen=True)
class Decision:
    item_id: int
    agent_id: int | None
    strategy: str
    reason: str
    candidates: tuple[Candidate, ...]
