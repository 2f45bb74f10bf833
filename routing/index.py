"""The agent index: who can take work now, sorted the ways the strategies walk them.

For every ordering a configured queue uses, every channel and every skill (and ``None``: any
skill), a sorted list of entries ``(key..., agent id)`` of the agents who can take work on that
channel now. Entries of agents who filled up are left in place and dropped by the walks that
meet them (``Brain._pick``), so an offer costs the index almost nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

from sortedcontainers import SortedList

from .eligibility import free
from .model import AgentState
from .strategies import CONTACTS, IDLE, ORDER, TALK

EPOCH = dt.datetime(1970, 1, 1)
SECOND = dt.timedelta(seconds=1)


def ts(moment: dt.datetime) -> float:
    """Seconds since the epoch: floats compare faster than datetimes in sort keys."""
    return (moment - EPOCH) / SECOND


class IndexedAgent:
    """An agent as the brain tracks them: their state plus what the brain gave them since."""

    __slots__ = ("state", "load", "contacts", "idle_ts", "ready", "entries", "servable")

    def __init__(self, state: AgentState) -> None:
        self.state = state
        self.load = dict(state.load)
        self.contacts = state.contacts_today
        self.idle_ts = ts(state.idle_since)
        # channels the agent can take work on now
        self.ready: frozenset[str] = frozenset()
        # (ordering, channel, skill) -> the entry filed there
        self.entries: dict[tuple, tuple] = {}
        # per queue priority level, the queues whose loosest step this agent's skills meet
        self.servable: list[list[str]] = []


class AgentIndex:
    def __init__(self, orderings: set[str], blocks: Mapping[str, frozenset[str]]) -> None:
        self.orderings = orderings
        self.blocks = blocks
        self.agents: dict[int, IndexedAgent] = {}
        self.buckets: dict[tuple, SortedList] = {}
        # every agent's id, and who has each skill, sorted by id (for explanations)
        self.ids = SortedList()
        self.with_skill: dict[str, SortedList] = {}

    def set(self, state: AgentState) -> tuple[IndexedAgent, bool]:
        """File or re-file an agent; also says whether more than their load changed."""
        a = self.agents.get(state.id)
        if a is not None and dataclasses.replace(a.state, load=state.load) == state:
            # only the load changed (work finished, an offer ended): only where they are ready
            was = a.ready
            a.state, a.load = state, dict(state.load)
            self.reindex(a, only_new=was)
            return a, False
        if a is None:
            a = self.agents[state.id] = IndexedAgent(state)
            self.ids.add(state.id)
            old_skills: Mapping[str, int] = {}
        else:
            old_skills = a.state.skills
            a.state, a.load, a.contacts, a.idle_ts = (
                state,
                dict(state.load),
                state.contacts_today,
                ts(state.idle_since),
            )
        for skill in old_skills:
            if skill not in state.skills:
                self.with_skill[skill].remove(state.id)
        for skill in state.skills:
            if skill not in old_skills:
                self.with_skill.setdefault(skill, SortedList()).add(state.id)
        self.reindex(a)
        return a, True

    def remove(self, agent_id: int) -> None:
        a = self.agents.pop(agent_id, None)
        if a is not None:
            for key, entry in a.entries.items():
                self.buckets[key].remove(entry)
            self.ids.remove(agent_id)
            for skill in a.state.skills:
                self.with_skill[skill].remove(agent_id)

    def ready_channels(self, a: IndexedAgent) -> frozenset[str]:
        st = a.state
        if st.presence != "available" or st.wrap_up:
            return frozenset()
        return frozenset(c for c in st.capacity if free(st.capacity, a.load, c, self.blocks) > 0)

    @staticmethod
    def entry(a: IndexedAgent, ordering: str, skill: str | None) -> tuple:
        st = a.state
        if ordering == IDLE:
            return (a.idle_ts, st.id)
        if ordering == ORDER:
            return (st.order, st.id)
        if ordering == CONTACTS:
            return (a.contacts, a.idle_ts, st.id)
        if ordering == TALK:
            return (st.talk_seconds_today, a.idle_ts, st.id)
        return (-st.skills.get(skill, 0) if skill else 0, a.idle_ts, st.id)  # SKILL

    def reindex(self, a: IndexedAgent, only_new: frozenset[str] | None = None) -> None:
        """File the agent in the lists of every channel they can take work on now (with
        ``only_new``: only of channels not among those, the keys being unchanged)."""
        a.ready = self.ready_channels(a)
        channels = a.ready if only_new is None else a.ready - only_new
        if not channels:
            return
        skills: tuple[str | None, ...] = (None, *a.state.skills)
        buckets, entries = self.buckets, a.entries
        for channel in channels:
            for ordering in self.orderings:
                for skill in skills:
                    key = (ordering, channel, skill)
                    entry = self.entry(a, ordering, skill)
                    old = entries.get(key)
                    if old == entry:
                        continue
                    bucket = buckets.get(key)
                    if bucket is None:
                        bucket = buckets[key] = SortedList()
                    elif old is not None:
                        bucket.remove(old)
                    bucket.add(entry)
                    entries[key] = entry
        stale = [k for k in entries if k[2] is not None and k[2] not in a.state.skills]
        for key in stale:  # a skill taken away
            buckets[key].remove(entries.pop(key))

    def took(self, a: IndexedAgent, channel: str) -> None:
        """The brain offered the agent one more ``channel`` item. An offer only takes room
        away: where they are no longer ready, and where their fewest-contacts place moved, is
        fixed by the walks that meet them."""
        a.load[channel] = a.load.get(channel, 0) + 1
        a.contacts += 1
        a.ready = self.ready_channels(a)

    def smallest(
        self, ordering: str, channel: str, required: Mapping[str, int]
    ) -> tuple[SortedList | None, str | None]:
        """The shortest list to walk for an item needing ``required``: that of its rarest
        skill among agents ready now (every one of them has that skill)."""
        if not required:
            return self.buckets.get((ordering, channel, None)), None
        best, best_skill = None, None
        for skill in required:
            bucket = self.buckets.get((ordering, channel, skill))
            if bucket is None:
                return None, None
            if best is None or len(bucket) < len(best):
                best, best_skill = bucket, skill
        return best, best_skill

    def drop(self, key: tuple, entries: list[tuple]) -> None:
        """Drop entries a walk found stale (the agent is no longer ready on that channel)."""
        bucket = self.buckets[key]
        for entry in entries:
            bucket.remove(entry)
            del self.agents[entry[-1]].entries[key]

    def refile(self, key: tuple, entries: list[tuple]) -> list[tuple]:
        """Re-file entries whose key moved (fewest-contacts after an offer); the fresh ones."""
        bucket = self.buckets[key]
        fresh_entries = []
        for entry in entries:
            a = self.agents[entry[-1]]
            fresh = self.entry(a, key[0], key[2])
            bucket.remove(entry)
            bucket.add(fresh)
            a.entries[key] = fresh
            fresh_entries.append(fresh)
        return fresh_entries
