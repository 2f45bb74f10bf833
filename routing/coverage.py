"""Queues nobody can serve: reported at start and in the inbox, never silently starved."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .eligibility import skill_gap
from .escalation import requirements
from .model import QueueRules


def unservable(queues: Iterable[QueueRules], agent_skills: Iterable[Mapping[str, int]]) -> dict[str, str]:
    """Queue name -> why no agent could ever take its work, even at its last escalation step.

    ``agent_skills`` are the skills of every agent who may work (enabled), whatever their
    presence now: a queue whose agents are all on break is staffed, just busy.
    """
    skills = list(agent_skills)
    out = {}
    for queue in queues:
        loosest = requirements(queue, {}, len(queue.escalation))
        if any(not skill_gap(s, loosest) for s in skills):
            continue
        if not skills:
            why = "there are no agents"
        else:
            needs = ", ".join(f"{skill} ≥ {level}" for skill, level in sorted(loosest.items()))
            why = f"no agent has {needs}"
        last = queue.escalation[-1] if queue.escalation else None
        if last is not None and (last.overflow or last.timeout):
            why += f"; its work leaves {last.describe()}"
        out[queue.name] = why
    return out
