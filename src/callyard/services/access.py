"""Who may see what: an agent sees their own work and their queues'; supervisors and admins all.

"Their queues" are the queues whose required skills the agent has at the required levels:
the same rule routing uses to offer them work.
"""

from __future__ import annotations

from typing import Any

from ..models import Agent, AgentSkill, Interaction, Offer, Queue

MANAGERS = ("supervisor", "admin")


def is_manager(agent: Agent) -> bool:
    return agent.role in MANAGERS


def queue_ids_of(agent: Agent) -> list[int]:
    skills = {s.skill: s.level for s in AgentSkill.select().where(AgentSkill.agent == agent.id)}
    return [
        q.id
        for q in Queue.select()
        if all(skills.get(skill, 0) >= level for skill, level in (q.skills or {}).items())
    ]


def visible(agent: Agent) -> Any:
    """A peewee condition on Interaction: what ``agent`` may look at (read only)."""
    if is_manager(agent):
        return Interaction.id.is_null(False)
    offered = Offer.select(Offer.interaction).where(Offer.agent == agent.id, Offer.state == "pending")
    return (
        (Interaction.agent == agent.id)
        | Interaction.queue.in_(queue_ids_of(agent))
        | Interaction.id.in_(offered)
    )


def can_see(agent: Agent, interaction_id: int) -> bool:
    return Interaction.select().where(Interaction.id == interaction_id, visible(agent)).exists()
