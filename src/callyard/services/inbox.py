"""Read side of the agent inbox: work items with unread counts, stage, labels and SLA, the
snapshot a tab starts from, read-only looks at the team's work, and search. Changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import peewee as pw

from ..config import InboxConfig
from ..errors import Forbidden, InvalidInput, NotFound
from ..models import (
    OPEN_STATES,
    STATES,
    WRAP_UP,
    Agent,
    CallRecord,
    Contact,
    ContactCrm,
    Identity,
    Interaction,
    InteractionLabel,
    InteractionLog,
    InteractionRead,
    InteractionWork,
    Message,
    Offer,
    Queue,
)
from ..prepared import Prepared, PreparedIn, slot
from . import access
from .agent_events import AgentEventLog
from .calls import call_view
from .router import unservable_queues
from .views import Views, agent_dict, interaction_dict, iso, preview_of

SEARCH_LIMIT = 50

# Written with "?" placeholders, replaced by the driver's own (psycopg2 takes %s). One statement
# for all a work item reads: its first row ("facts") holds the stage, disposition, SLA start,
# preview and unread count, the others its labels, transfers, the contact's identities and CRM
# card. The columns line up in type across the parts (text, text, text, timestamp, text, number).
_FACTS_SQL = """SELECT ?, 'facts',
  (SELECT w.stage FROM interaction_work w WHERE w.interaction_id = ?),
  (SELECT w.disposition FROM interaction_work w WHERE w.interaction_id = ?),
  (SELECT MIN(m.created_at) FROM message m WHERE m.interaction_id = ? AND m.direction = 'in'
    AND m.id > COALESCE((SELECT MAX(o.id) FROM message o
                         WHERE o.interaction_id = ? AND o.direction = 'out'), 0)),
  (SELECT p.body FROM message p WHERE p.interaction_id = ? ORDER BY p.id DESC LIMIT 1),
  (SELECT COUNT(*) FROM message m WHERE m.interaction_id = ? AND m.direction = 'in'
    AND m.id > COALESCE((SELECT r.message_id FROM interaction_read r
                         WHERE r.agent_id = ? AND r.interaction_id = ?), 0))
UNION ALL
SELECT ?, 'label', l.label, NULL, NULL, NULL, NULL FROM interaction_label l
  WHERE l.interaction_id = ?
UNION ALL
SELECT ?, 'transfer', g.value, g.note, g.at, a.name, g.id FROM interaction_log g
  LEFT JOIN agent a ON a.id = g.agent_id
  WHERE g.interaction_id = ? AND g.kind = 'transferred'
UNION ALL
SELECT ?, 'identity', i.kind, i.value, NULL, NULL, i.id FROM identity i WHERE i.contact_id = ?
UNION ALL
SELECT ?, 'crm', c.data, NULL, c.fetched_at, NULL, c.id FROM contact_crm c WHERE c.contact_id = ?"""


def _facts_params(key: int, interaction_id: int, contact_id: int, agent_id: int) -> tuple[int, ...]:
    """_FACTS_SQL's parameters; every row it returns starts with ``key``."""
    i, c = interaction_id, contact_id
    return (key, i, i, i, i, i, i, agent_id, i, key, i, key, i, key, c, key, c)


# Read for every push about a call or an interaction (several a call): their SQL built once.
def _item_query() -> pw.ModelSelect:
    return (
        Interaction.select(Interaction, Contact, Queue)
        .join(Contact)
        .switch(Interaction)
        .join(Queue, pw.JOIN.LEFT_OUTER)
    )


_ITEM = Prepared(lambda: _item_query().where(Interaction.id == slot("interaction_id")).limit(1))
# The same for a run of pushes, its SQL built once per length of the list.
_ITEMS = PreparedIn(lambda ids: _item_query().where(Interaction.id.in_(ids)))
_CALL = Prepared(
    lambda: (
        CallRecord.select(CallRecord, Agent.name)
        .join(Agent, pw.JOIN.LEFT_OUTER, on=(CallRecord.agent == Agent.id))
        .where(CallRecord.interaction == slot("interaction_id"))
        .objects()
        .limit(1)
    ),
)


def _facts_of(extra: list[tuple[Any, ...]]) -> dict[str, Any]:
    """One work item's facts from its rows of _FACTS_SQL (without the key)."""
    row = next(r for r in extra if r[0] == "facts")
    transfers = sorted((r for r in extra if r[0] == "transfer"), key=lambda r: r[5])
    transfer = None
    if transfers:
        _kind, value, note, at, agent_name, _id = transfers[-1]
        transfer = {
            "kind": "transferred",
            "value": value,
            "note": note,
            "agent_name": agent_name,
            "at": iso(InteractionLog.at.python_value(at)),
        }
    crm = next((r for r in extra if r[0] == "crm"), None)
    return {
        "stage": row[1],
        "disposition": row[2],
        "unread": row[5] or 0,
        "waiting_since": Message.created_at.python_value(row[3]),
        "preview": preview_of(row[4]),
        "labels": sorted(r[1] for r in extra if r[0] == "label"),
        "transfer": transfer,
        "identities": [
            {"kind": r[1], "value": r[2]}
            for r in sorted((r for r in extra if r[0] == "identity"), key=lambda r: r[5])
        ],
        "crm": None
        if crm is None
        else {
            "data": ContactCrm.data.python_value(crm[1]),
            "fetched_at": iso(ContactCrm.fetched_at.python_value(crm[3])),
        },
    }


def log_dict(entry: InteractionLog) -> dict[str, Any]:
    return {
        "kind": entry.kind,
        "value": entry.value,
        "note": entry.note,
        "agent_name": entry.agent.name if entry.agent_id else None,
        "at": iso(entry.at),
    }


class InboxViews:
    def __init__(self, views: Views, journal: AgentEventLog, inbox: InboxConfig) -> None:
        self._views = views
        self._journal = journal
        self._inbox = inbox

    # -- one item --------------------------------------------------------------------------

    @staticmethod
    def interaction(interaction_id: int) -> Interaction | None:
        """An interaction with its contact and queue, as ``work_item`` reads them: one query
        instead of three (a push builds a work item for every step of every call)."""
        return _ITEM.first(interaction_id=interaction_id)

    @staticmethod
    def interactions(ids: list[int]) -> dict[int, Interaction]:
        """``interaction`` for each of ``ids`` that exists (a run of pushes): one query."""
        if len(ids) == 1:
            found = _ITEM.first(interaction_id=ids[0])
            return {} if found is None else {found.id: found}
        return {i.id: i for i in _ITEMS.rows(ids)}

    def work_item(
        self, interaction: Interaction, agent_id: int | None, offer: Offer | None = None
    ) -> dict[str, Any]:
        """An interaction as the inbox lists it, for ``agent_id`` (whose unread count it shows)."""
        return self.work_items([(interaction, agent_id)], offer)[0]

    def work_items(
        self, wanted: list[tuple[Interaction, int | None]], offer: Offer | None = None
    ) -> list[dict[str, Any]]:
        """``work_item`` for each (interaction, agent), their facts read in one query (a burst
        of pushes is made together)."""
        all_facts = self._facts([(i.id, i.contact_id, agent_id or 0) for i, agent_id in wanted])
        return [
            self._item(interaction, agent_id, offer, facts)
            for (interaction, agent_id), facts in zip(wanted, all_facts, strict=True)
        ]

    def _item(
        self, interaction: Interaction, agent_id: int | None, offer: Offer | None, facts: dict[str, Any]
    ) -> dict[str, Any]:
        out = interaction_dict(interaction, offer, known=facts)
        out["subject"] = interaction.subject
        # Full precision (iso() drops microseconds): the work list sorts by it, newest first.
        out["activity_at"] = (interaction.last_message_at or interaction.created_at).isoformat() + "Z"
        out["stage"] = facts["stage"] or self._inbox.stages[0]
        out["disposition"] = facts["disposition"] or ""
        out["labels"] = facts["labels"]
        out["unread"] = facts["unread"] if agent_id else 0
        waiting = (
            facts["waiting_since"]
            if interaction.state in OPEN_STATES and interaction.state != WRAP_UP
            else None
        )
        out["waiting_since"] = iso(waiting)
        out["sla_seconds"] = self._inbox.sla_seconds
        deadline = None
        if interaction.state == WRAP_UP and interaction.queue_id and interaction.queue.wrap_up_seconds > 0:
            deadline = interaction.ended_at + dt.timedelta(seconds=interaction.queue.wrap_up_seconds)
        out["wrap_up_until"] = iso(deadline)
        out["transfer"] = facts["transfer"]
        if interaction.channel == "voice":
            out["call"] = self.call_of(interaction.id)
        return out

    @staticmethod
    def call_of(interaction_id: int) -> dict[str, Any] | None:
        """A phone call's state, clock and recording (issue 5); None before its record exists."""
        # The agent's name in the same query.
        record = _CALL.first(interaction_id=interaction_id)
        if record is None:
            return None
        return call_view(record, record.name if record.agent_id else None)

    @staticmethod
    def _facts(keys: list[tuple[int, int, int]]) -> list[dict[str, Any]]:
        """For each (interaction, contact, agent): stage, disposition, unread count, SLA start,
        preview, labels, last transfer, the contact's identities and CRM card; all in one query.

        Every push of a message carries the work item, so this runs for each message; built with
        peewee's query builder (and one query for each part) it was most of the server's time per
        message. A burst of pushes asks for many at once: one round trip instead of one each.
        """
        if not keys:
            return []
        db = Interaction._meta.database
        sql = "\nUNION ALL\n".join([_FACTS_SQL] * len(keys)).replace("?", db.param)
        params = [p for n, key in enumerate(keys) for p in _facts_params(n, *key)]
        rows: list[list[tuple[Any, ...]]] = [[] for _ in keys]
        for row in db.execute_sql(sql, params).fetchall():
            rows[row[0]].append(row[1:])
        return [_facts_of(extra) for extra in rows]

    @staticmethod
    def unread(agent_id: int, interaction_id: int) -> int:
        cursor = (
            InteractionRead.select(InteractionRead.message_id)
            .where(InteractionRead.agent == agent_id, InteractionRead.interaction == interaction_id)
            .scalar()
            or 0
        )
        return (
            Message.select()
            .where(Message.interaction == interaction_id, Message.direction == "in", Message.id > cursor)
            .count()
        )

    @staticmethod
    def waiting_since(interaction: Interaction) -> dt.datetime | None:
        """Since when the customer has waited for us: their first message after our last answer."""
        if interaction.state not in OPEN_STATES or interaction.state == WRAP_UP:
            return None
        last_out = (
            Message.select(pw.fn.MAX(Message.id))
            .where(Message.interaction == interaction.id, Message.direction == "out")
            .scalar()
            or 0
        )
        return (
            Message.select(pw.fn.MIN(Message.created_at))
            .where(Message.interaction == interaction.id, Message.direction == "in", Message.id > last_out)
            .scalar()
        )

    # -- the whole inbox -------------------------------------------------------------------

    def snapshot(self, agent: Agent) -> dict[str, Any]:
        """Everything a tab shows, with the journal number it is current to."""
        seq = self._journal.last_seq(agent.id)  # read first: later events are newer than the snapshot
        mine = (
            Interaction.select()
            .where(
                Interaction.agent == agent.id,
                Interaction.state.in_(OPEN_STATES),
                Interaction.state != "offered",
            )
            .order_by(Interaction.last_message_at.desc(nulls="LAST"), Interaction.id.desc())
        )
        offers = Offer.select().where(Offer.agent == agent.id, Offer.state == "pending")
        return {
            "seq": seq,
            "agent": agent_dict(agent),
            "interactions": [self.work_item(i, agent.id) for i in mine],
            "offers": [self.work_item(o.interaction, agent.id, o) for o in offers],
            # queues no agent could ever serve: shown, not silently starved
            "unservable_queues": [
                {"queue": name, "reason": why} for name, why in sorted(unservable_queues().items())
            ],
            "settings": {
                "break_reasons": self._inbox.all_break_reasons(),
                "dispositions": self._inbox.dispositions,
                "stages": self._inbox.stages,
                "sla_seconds": self._inbox.sla_seconds,
                "queues": [q.name for q in Queue.select().order_by(Queue.name)],
                "manager": access.is_manager(agent),
            },
        }

    def conversation(self, agent: Agent, interaction_id: int) -> dict[str, Any]:
        """The conversation an agent works on (theirs or offered to them), with what goes beside it."""
        out = self._views.conversation(agent, interaction_id)
        interaction = Interaction.get_by_id(interaction_id)
        out["interaction"] = self.work_item(interaction, agent.id)
        out["log"] = self.log(interaction_id)
        out["script"] = self.script(interaction)
        return out

    def peek(self, agent: Agent, interaction_id: int) -> dict[str, Any]:
        """A read-only look at any interaction the agent may see (their team's, their history)."""
        interaction = self.visible(agent, interaction_id)
        return {
            "interaction": self.work_item(interaction, None),
            "messages": self._views.messages(interaction.id),
            "log": self.log(interaction.id),
        }

    def visible(self, agent: Agent, interaction_id: int) -> Interaction:
        interaction = Interaction.get_or_none(Interaction.id == interaction_id)
        if interaction is None:
            raise NotFound(f"no interaction with id {interaction_id}", error_id="interaction-not-found")
        if not access.can_see(agent, interaction_id):
            raise Forbidden("this interaction is not yours or your queues'", error_id="not-your-interaction")
        return interaction

    @staticmethod
    def log(interaction_id: int) -> list[dict[str, Any]]:
        return [
            log_dict(e)
            for e in InteractionLog.select()
            .where(InteractionLog.interaction == interaction_id)
            .order_by(InteractionLog.id)
        ]

    def script(self, interaction: Interaction) -> list[str]:
        text = self._inbox.scripts.get(interaction.queue.name, "") if interaction.queue_id else ""
        return [line.strip() for line in text.splitlines() if line.strip()]

    # -- search ----------------------------------------------------------------------------

    def search(self, agent: Agent, criteria: dict[str, Any]) -> list[dict[str, Any]]:
        """My and my team's interactions matching every given criterion, newest first.

        ``contact`` (name or any identity), ``text`` (in messages or subject), ``date_from`` and
        ``date_to`` (YYYY-MM-DD, by creation), ``channel``, ``state`` (queued, active, closed, …),
        ``stage`` (the request stage),
        ``label``, ``scope`` (``mine`` or ``team``).
        """
        query = Interaction.select().where(access.visible(agent))
        if criteria.get("scope") == "mine":
            query = query.where(Interaction.agent == agent.id)
        contact = _text(criteria, "contact")
        if contact:
            by_identity = Identity.select(Identity.contact).where(Identity.value.contains(contact))
            by_name = Contact.select(Contact.id).where(Contact.name.contains(contact))
            query = query.where(Interaction.contact.in_(by_identity) | Interaction.contact.in_(by_name))
        text = _text(criteria, "text")
        if text:
            in_messages = Message.select(Message.interaction).where(Message.body.contains(text))
            query = query.where(Interaction.id.in_(in_messages) | Interaction.subject.contains(text))
        for key, op in (("date_from", "from"), ("date_to", "to")):
            day = _date(criteria, key)
            if day is not None:
                start = dt.datetime.combine(day, dt.time())
                query = query.where(
                    Interaction.created_at >= start
                    if op == "from"
                    else Interaction.created_at < start + dt.timedelta(days=1)
                )
        channel = _text(criteria, "channel")
        if channel:
            query = query.where(Interaction.channel == channel)
        state = _text(criteria, "state")
        if state:
            if state not in STATES:
                raise InvalidInput(f"state must be one of {', '.join(STATES)}", error_id="invalid-search")
            query = query.where(Interaction.state == state)
        stage = _text(criteria, "stage")
        if stage:
            staged = InteractionWork.select(InteractionWork.interaction).where(InteractionWork.stage == stage)
            if stage == self._inbox.stages[0]:  # never staged means still in the first stage
                unstaged = InteractionWork.select(InteractionWork.interaction)
                query = query.where(Interaction.id.in_(staged) | Interaction.id.not_in(unstaged))
            else:
                query = query.where(Interaction.id.in_(staged))
        label = _text(criteria, "label")
        if label:
            labelled = InteractionLabel.select(InteractionLabel.interaction).where(
                InteractionLabel.label == label.lower()
            )
            query = query.where(Interaction.id.in_(labelled))
        rows = query.order_by(Interaction.created_at.desc(), Interaction.id.desc()).limit(SEARCH_LIMIT)
        return [self.work_item(i, None) for i in rows]


def _text(criteria: dict[str, Any], key: str) -> str:
    value = criteria.get(key)
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value) > 200:
        raise InvalidInput(f"{key} must be text of at most 200 characters", error_id="invalid-search")
    return value.strip()


def _date(criteria: dict[str, Any], key: str) -> dt.date | None:
    value = _text(criteria, key)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{key} must be a date like 2026-03-02", error_id="invalid-search") from None
