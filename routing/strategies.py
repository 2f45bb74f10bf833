"""Strategies: in which order eligible agents are tried, and how many are offered at once.

Every strategy of FreeSWITCH's mod_callcenter and Asterisk's app_queue, plus skill-based best
match. The brain keeps agents indexed in each ordering a configured queue uses, so picking the
best agent walks a sorted list instead of sorting every agent for every item.
"""

from __future__ import annotations

from dataclasses import dataclass

# Orderings the index keeps (see index.py for their keys).
IDLE = "idle"  # longest idle first
CONTACTS = "contacts"  # fewest contacts today first, then longest idle
TALK = "talk"  # least talk time today first, then longest idle
ORDER = "order"  # fixed agent order (order, id)
SKILL = "skill"  # highest level on a skill first, then longest idle

ONE, ALL, PROGRESSIVE = "one", "all", "progressive"


@dataclass(frozen=True)
class Strategy:
    name: str
    ordering: str
    # how many agents one decision rings: one, all (ring-all) or one more every ring_interval
    offers: str
    # walk from the queue's remembered position, round and round
    cyclic: bool = False
    # start the walk at a random place
    random_start: bool = False
    # rank by the sum of levels on the required skills, not only the first walked
    best_skill: bool = False
    description: str = ""


STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("longest-idle", IDLE, ONE, description="the agent free for the longest time"),
        Strategy("ring-all", IDLE, ALL, description="every eligible agent at once; first to accept wins"),
        Strategy("round-robin", ORDER, ONE, cyclic=True, description="the next agent after the last one"),
        Strategy("fewest-contacts", CONTACTS, ONE, description="the agent with the fewest contacts today"),
        Strategy("least-talk-time", TALK, ONE, description="the agent with the least talk time today"),
        Strategy("top-down", ORDER, ONE, description="always from the first agent in the fixed order"),
        Strategy("random", IDLE, ONE, random_start=True, description="an eligible agent at random"),
        Strategy(
            "ring-progressively",
            ORDER,
            PROGRESSIVE,
            description="agents in order, one more every ring interval, all keep ringing",
        ),
        Strategy(
            "most-skilled",
            SKILL,
            ONE,
            best_skill=True,
            description="highest level on the required skills, ties by longest idle",
        ),
    )
}
