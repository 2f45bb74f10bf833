"""Whether one agent may take one work item, and if not, why not."""

from __future__ import annotations

from collections.abc import Mapping

from .model import AgentState

# channel -> the channels it blocks while the agent holds one: by default a call blocks new
# chats and emails (and the other written channels); emails do not block calls.
DEFAULT_BLOCKS: Mapping[str, frozenset[str]] = {
    "voice": frozenset({"chat", "email", "telegram", "api"}),
}


def free(
    capacity: Mapping[str, int],
    load: Mapping[str, int],
    channel: str,
    blocks: Mapping[str, frozenset[str]] = DEFAULT_BLOCKS,
) -> int:
    """How many more ``channel`` interactions the agent may take now."""
    for holding, blocked in blocks.items():
        if channel in blocked and load.get(holding, 0) > 0:
            return 0
    return capacity.get(channel, 0) - load.get(channel, 0)


def blocked_by(load: Mapping[str, int], channel: str, blocks: Mapping[str, frozenset[str]]) -> str | None:
    for holding, blocked in sorted(blocks.items()):
        if channel in blocked and load.get(holding, 0) > 0:
            return holding
    return None


def lacks(skills: Mapping[str, int], required: Mapping[str, int]) -> bool:
    """Whether any required skill is missing or below its level (fast; no reason)."""
    for skill, minimum in required.items():  # noqa: SIM110 - a plain loop beats any() here
        if skills.get(skill, 0) < minimum:
            return True
    return False


def skill_gap(skills: Mapping[str, int], required: Mapping[str, int]) -> str | None:
    """The first missing or too-low skill (by name), or None when the agent has them all."""
    for skill, minimum in required.items():  # the common case, without sorting
        if skills.get(skill, 0) < minimum:
            break
    else:
        return None
    for skill, minimum in sorted(required.items()):
        level = skills.get(skill)
        if level is None:
            return f"lacks skill {skill}"
        if level < minimum:
            return f"skill {skill} level {level} < {minimum}"
    return None


def disqualifier(
    agent: AgentState,
    channel: str,
    required: Mapping[str, int],
    load: Mapping[str, int],
    blocks: Mapping[str, frozenset[str]] = DEFAULT_BLOCKS,
) -> str | None:
    """The reason ``agent`` cannot take a ``channel`` item needing ``required`` now, or None.

    ``load`` is the agent's load including what the brain already gave them.
    """
    if agent.presence != "available":
        return f"presence is {agent.presence}"
    if agent.wrap_up:
        return "in wrap-up"
    gap = skill_gap(agent.skills, required)
    if gap:
        return gap
    holding = blocked_by(load, channel, blocks)
    if holding:
        return f"{channel} blocked while on {holding}"
    limit = agent.capacity.get(channel, 0)
    used = load.get(channel, 0)
    if used >= limit:
        return f"at capacity for {channel} ({used}/{limit})"
    return None
