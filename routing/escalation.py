"""Escalation over wait time: which step applies, and what an item then requires."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from .model import EscalationStep, QueueRules


def step_index(queue: QueueRules, waited_seconds: float) -> int:
    """How many steps have been reached (0: none, the queue's base rules)."""
    reached = 0
    for step in queue.escalation:
        if waited_seconds < step.after_seconds:
            break
        reached += 1
    return reached


def next_step_at(queue: QueueRules, since: dt.datetime, reached: int) -> dt.datetime | None:
    """When the step after ``reached`` begins, or None when there is none."""
    if reached >= len(queue.escalation):
        return None
    return since + dt.timedelta(seconds=queue.escalation[reached].after_seconds)


def describe(queue: QueueRules, reached: int) -> str:
    return "base" if reached == 0 else f"step {reached} ({queue.escalation[reached - 1].describe()})"


def requirements(queue: QueueRules, extra: Mapping[str, int], reached: int) -> dict[str, int]:
    """The skills (with minimum levels) an agent needs once ``reached`` steps apply.

    The queue's skills and the interaction's own are combined (the higher level wins); each
    step then caps levels or drops skills, cumulatively.
    """
    required = dict(queue.skills)
    for skill, level in extra.items():
        if level > required.get(skill, 0):
            required[skill] = level
    for step in queue.escalation[:reached]:
        if step.min_level is not None:
            cap = step.min_level
            required = {s: (cap if lvl > cap else lvl) for s, lvl in required.items()}
        for skill in step.drop_skills:
            required.pop(skill, None)
    return required


def pending_action(queue: QueueRules, reached: int) -> EscalationStep | None:
    """The overflow or timeout step reached, if any: it applies when no agent can take the item."""
    for step in reversed(queue.escalation[:reached]):
        if step.overflow or step.timeout:
            return step
    return None
