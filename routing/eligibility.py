"""Whether one agent may take one work item, and if not, why not."""

from __future__ import annotations

from collections.abc import Mapping

from .model import AgentState, WorkItem


def disqualifier(agent: AgentState, item: WorkItem, load: Mapping[str, int]) -> str | None:
    """The reason ``agent`` cannot take ``item`` now, or None when they can.

    ``load`` is the agent's load including what this planning round already gave them.
    """
    if agent.presence != "available":
        return f"presence is {agent.presence}"
    for skill, minimum in sorted(item.required_skills.items()):
        level = agent.skills.get(skill)
        if level is None:
            return f"lacks skill {skill}"
        if level < minimum:
            return f"skill {skill} level {level} < {minimum}"
    limit = agent.capacity.get(item.channel, 0)
    used = load.get(item.channel, 0)
    if used >= limit:
        return f"at capacity for {item.channel} ({used}/{limit})"
    return None
