"""Each agent's journal of live pushes, numbered 1, 2, 3, … per agent.

A browser tab remembers the last number it applied. When its websocket drops and comes back it
asks for everything after that number and gets exactly what it missed, in order; a number it
already has is a duplicate it ignores. The journal keeps ``retention`` worth of events; a tab
that was away longer gets a fresh snapshot instead.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import peewee as pw

from ..clock import Clock
from ..models import AgentEvent
from ..store import Store

log = logging.getLogger(__name__)

# Numbers and stores one push in one statement (see ``AgentEventLog.record``). "?" placeholders
# are replaced by the driver's own.
_RECORD_SQL = """INSERT INTO agent_event (agent_id, seq, name, payload, created_at)
SELECT ?, COALESCE(MAX(e.seq), 0) + 1, ?, ?, ? FROM agent_event e WHERE e.agent_id = ?
RETURNING seq"""

# Numbers and stores many pushes in one statement (see ``AgentEventLog.record_many``): one row of
# VALUES per push (agent, its place among that agent's pushes here, name, payload, time).
_RECORD_MANY_SQL = """INSERT INTO agent_event (agent_id, seq, name, payload, created_at)
SELECT v.column1,
  COALESCE((SELECT MAX(e.seq) FROM agent_event e WHERE e.agent_id = v.column1), 0) + v.column2,
  v.column3, v.column4, v.column5
FROM (VALUES {rows}) AS v
RETURNING agent_id, seq"""

# Most events a catch-up returns; a tab further behind reloads the whole inbox instead.
CATCH_UP_LIMIT = 500


@dataclass(frozen=True)
class CatchUp:
    events: list[dict[str, Any]]  # {"seq", "name", "data"} in order
    # False when the journal no longer holds everything after the cursor (or the cursor is
    # from another database): the tab must reload its snapshot.
    complete: bool
    last_seq: int


class AgentEventLog:
    def __init__(self, store: Store, clock: Clock, *, retention_seconds: int) -> None:
        self._store = store
        self._clock = clock
        self._retention = dt.timedelta(seconds=retention_seconds)
        self._recorded = 0

    def record(self, agent_id: int, name: str, data: dict[str, Any]) -> int:
        """Journal one push for ``agent_id``; returns its number.

        One statement numbers and writes it (``_RECORD_SQL``): the unique (agent, seq) index
        refuses a number another writer committed or is committing first, and the retry takes
        the next one after it, so numbers follow commit order without a lock or a transaction
        of its own (a push used to cost BEGIN, a lock, a read, an INSERT and COMMIT).
        """
        now = self._clock()
        db = self._store.db
        sql = _RECORD_SQL.replace("?", db.param)
        params = (
            agent_id,
            name,
            AgentEvent.payload.db_value(data),
            AgentEvent.created_at.db_value(now),
            agent_id,
        )
        seq = self._numbered(sql, params)[0][0]
        self._counted(1)
        return seq

    def _numbered(self, sql: str, params: Any) -> list[tuple[Any, ...]]:
        """Run a numbering INSERT … RETURNING until no other writer took its numbers first."""
        db = self._store.db
        for _attempt in range(50):
            try:
                # Inside a caller's transaction a refused number must not spoil it: a savepoint.
                # SQLite takes its write lock first (BEGIN IMMEDIATE; no round trip there), as a
                # statement that reads and then writes could otherwise fail instead of waiting.
                own = self._store.dialect == "sqlite" or db.in_transaction()
                with self._store.atomic() if own else contextlib.nullcontext():
                    return db.execute_sql(sql, params).fetchall()
            except pw.IntegrityError:  # another writer took a number first: take the next ones
                continue
        raise RuntimeError("could not number journal events")  # pragma: no cover

    def _counted(self, recorded: int) -> None:
        """Prune the journal every thousand events recorded."""
        before, self._recorded = self._recorded, self._recorded + recorded
        if self._recorded // 1000 != before // 1000:
            self.prune(self._clock())

    def record_many(self, pushes: list[tuple[int, str, dict[str, Any]]]) -> list[int]:
        """Journal several (agent, name, data) pushes in one statement; their numbers, in order.

        Like ``record``: a number another writer took first refuses the whole statement, which
        is tried again with the next numbers. An agent's pushes here are numbered in the order
        given.
        """
        if len(pushes) == 1:
            return [self.record(*pushes[0])]
        now = AgentEvent.created_at.db_value(self._clock())
        db = self._store.db
        place: dict[int, int] = {}
        params: list[Any] = []
        for agent_id, name, data in pushes:
            place[agent_id] = place.get(agent_id, 0) + 1
            params += [agent_id, place[agent_id], name, AgentEvent.payload.db_value(data), now]
        sql = _RECORD_MANY_SQL.format(rows=", ".join(["(?, ?, ?, ?, ?)"] * len(pushes))).replace(
            "?", db.param
        )
        returned = self._numbered(sql, params)
        # The rows come back in no promised order; an agent's numbers, ascending, are its pushes'.
        numbers: dict[int, list[int]] = {}
        for agent_id, seq in sorted(returned, key=lambda r: (r[0], r[1]), reverse=True):
            numbers.setdefault(agent_id, []).append(seq)
        seqs = [numbers[agent_id].pop() for agent_id, _name, _data in pushes]
        self._counted(len(pushes))
        return seqs

    @staticmethod
    def last_seq(agent_id: int) -> int:
        return AgentEvent.select(pw.fn.MAX(AgentEvent.seq)).where(AgentEvent.agent == agent_id).scalar() or 0

    def since(self, agent_id: int, seq: int, limit: int = CATCH_UP_LIMIT) -> CatchUp:
        """What ``agent_id`` was sent after ``seq``.

        ``last_seq`` is the number of the last event returned (``seq`` when there is none): the
        tab resumes from it. A number read apart from the events could be behind them (a push
        journalled in between, which the tab then gets twice) or ahead (one it never gets).
        """
        rows = list(
            AgentEvent.select()
            .where(AgentEvent.agent == agent_id, AgentEvent.seq > seq)
            .order_by(AgentEvent.seq)
            .limit(limit + 1)
        )
        if not rows:
            # Nothing after the cursor: up to date, unless the cursor is past this journal's
            # end (another database, or a reset journal): then the tab must reload.
            last = self.last_seq(agent_id)
            return CatchUp([], complete=seq <= last, last_seq=seq if seq <= last else last)
        complete = len(rows) <= limit and rows[0].seq == seq + 1
        events = [{"seq": r.seq, "name": r.name, "data": r.payload} for r in rows[:limit]]
        return CatchUp(events, complete=complete, last_seq=events[-1]["seq"])

    def prune(self, now: dt.datetime) -> int:
        """Drop events older than the retention, but never an agent's newest (it holds the count)."""
        newest = AgentEvent.alias("newest")
        latest = newest.select(pw.fn.MAX(newest.seq)).where(newest.agent == AgentEvent.agent)
        with self._store.atomic():
            removed = (
                AgentEvent.delete()
                .where(AgentEvent.created_at < now - self._retention, AgentEvent.seq < latest)
                .execute()
            )
        log.debug("pruned %s agent events", removed)
        return removed
