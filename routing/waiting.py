"""Waiting work: per (queue, channel) in priority and arrival order, with the moments their
next escalation step comes due, and the ring-progressively items still ringing."""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Mapping

from sortedcontainers import SortedList

from . import escalation as esc
from .eligibility import lacks
from .index import SECOND, IndexedAgent, ts
from .model import QueueRules, WorkItem

Requirements = Callable[[QueueRules, WorkItem, int], Mapping[str, int]]


class Waiting:
    def __init__(self, queues: Mapping[str, QueueRules]) -> None:
        self.queues = queues
        self.items: dict[int, WorkItem] = {}
        # item id -> (-priority, arrival, id): its place in its (queue, channel) list
        self.keys: dict[int, tuple] = {}
        self.lists: dict[tuple[str, str], SortedList] = {}
        self.ringing: dict[int, WorkItem] = {}
        # (when, item id, its queue entry time): escalation steps coming due
        self._due: list[tuple[float, int, float]] = []

    def hold(self, item: WorkItem, now: dt.datetime) -> None:
        if item.queue not in self.queues:
            raise ValueError(f"item {item.id}: unknown queue {item.queue!r}")
        self.remove(item.id)
        if item.ringing:
            self.ringing[item.id] = item
            return
        key = (-item.priority, ts(item.waiting_since), item.id)
        self.items[item.id] = item
        self.keys[item.id] = key
        lst = self.lists.get((item.queue, item.channel))
        if lst is None:
            lst = self.lists[(item.queue, item.channel)] = SortedList()
        lst.add(key)
        self.schedule(item, now)

    def remove(self, item_id: int) -> None:
        self.ringing.pop(item_id, None)
        item = self.items.pop(item_id, None)
        if item is not None:
            self.lists[(item.queue, item.channel)].remove(self.keys.pop(item_id))

    def schedule(self, item: WorkItem, now: dt.datetime) -> None:
        """Remember when the item's next escalation step comes due."""
        queue = self.queues[item.queue]
        if not queue.escalation:
            return
        since = item.in_queue_since
        reached = esc.step_index(queue, (now - since) / SECOND)
        at = esc.next_step_at(queue, since, reached)
        if at is not None:
            heapq.heappush(self._due, (ts(at), item.id, ts(since)))

    def due(self, now: dt.datetime) -> set[int]:
        """Items whose next escalation step has come."""
        now_ts = ts(now)
        found = set()
        while self._due and self._due[0][0] <= now_ts:
            _at, item_id, since_ts = heapq.heappop(self._due)
            item = self.items.get(item_id)
            if item is not None and ts(item.in_queue_since) == since_ts:
                found.add(item_id)  # else gone, or moved queue since: a fresher entry exists
        return found

    def urgency(self, item_id: int) -> tuple:
        """Queue priority, then item priority, then first come first served."""
        item = self.items[item_id]
        return (-self.queues[item.queue].priority, *self.keys[item_id])

    def most_urgent_for(
        self,
        a: IndexedAgent,
        channel: str,
        now: dt.datetime,
        is_open: Callable[[QueueRules, dt.datetime], bool],
        requirements: Requirements,
    ) -> tuple | None:
        """The place of the most urgent ``channel`` item the agent qualifies for now."""
        skills = a.state.skills
        for names in a.servable:
            best = None
            for name in names:
                lst = self.lists.get((name, channel))
                if not lst:
                    continue
                queue = self.queues[name]
                if not is_open(queue, now):
                    continue
                i, n = 0, len(lst)
                while i < n:
                    key = lst[i]
                    item = self.items[key[-1]]
                    reached = esc.step_index(queue, (now - item.in_queue_since) / SECOND)
                    if not lacks(skills, requirements(queue, item, reached)):
                        if best is None or key < best:
                            best = key
                        break
                    if not item.skills and item.queue_since is None:
                        # later items of this priority waited less: their step asks at least
                        # as much, so none of them fits either; go on with the next priority
                        i = lst.bisect_left((key[0] + 1,))
                    else:
                        i += 1
            if best is not None:
                return best
        return None
