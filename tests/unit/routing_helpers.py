"""Builders for routing tests: agents, items and queues with sensible defaults."""

from __future__ import annotations

import datetime as dt

from callyard.routing import AgentState, QueueRules, WorkItem

NOW = dt.datetime(2026, 3, 2, 9, 0, 0)  # a Monday


def ago(seconds: float) -> dt.datetime:
    return NOW - dt.timedelta(seconds=seconds)


def agent(
    id: int,
    *,
    presence: str = "available",
    skills: dict[str, int] | None = None,
    capacity: dict[str, int] | None = None,
    load: dict[str, int] | None = None,
    idle: int = 0,
    name: str | None = None,
    **kwargs: object,
) -> AgentState:
    return AgentState(
        id=id,
        name=name or f"agent{id}",
        presence=presence,
        skills={"support": 5} if skills is None else skills,
        capacity={"chat": 3} if capacity is None else capacity,
        load=load or {},
        idle_since=ago(idle),
        **kwargs,  # type: ignore[arg-type]
    )


def item(
    id: int,
    *,
    channel: str = "chat",
    queue: str = "support",
    priority: int = 0,
    waited: float = 0,
    tried: frozenset[int] = frozenset(),
    **kwargs: object,
) -> WorkItem:
    return WorkItem(
        id=id,
        channel=channel,
        queue=queue,
        priority=priority,
        waiting_since=ago(waited),
        tried_agents=tried,
        **kwargs,  # type: ignore[arg-type]
    )


def queue(name: str = "support", *, skills: dict[str, int] | None = None, **kwargs: object) -> QueueRules:
    return QueueRules(name=name, skills={"support": 1} if skills is None else skills, **kwargs)  # type: ignore[arg-type]
