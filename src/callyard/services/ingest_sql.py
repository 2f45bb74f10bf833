"""The statements of a customer message on PostgreSQL, in fewer round trips.

Each statement sent is a round trip, and on the machines measured a round trip cost the core
more CPU (the socket's send and receive, the wake-up) than building and reading it: an email
took 9 statements of its own. Here the lock, the contact's identity and the open conversation
are asked in one round trip (two statements sent together: the reads run after the lock is
held, each with a snapshot of its own, as when sent apart), and a new interaction, its first
two steps and the message are written by one statement (data-modifying CTEs). SQLite keeps
the separate statements (its round trips are function calls).

The SQL is written from the models' table and column names, once per process.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from ..models import ACTIVE, NEW, OFFERED, QUEUED, Identity, Interaction, Message, StateChange, database

# States in which a new message continues a conversation (interactions.CONTINUING).
CONTINUING_STATES = (NEW, QUEUED, OFFERED, ACTIVE)


def _table(model: Any) -> str:
    return f'"{model._meta.table_name}"'


def _columns(model: Any, *names: str) -> str:
    return ", ".join(f'"{model._meta.fields[n].column_name}"' for n in names)


@functools.cache
def _find_sql() -> str:
    i, t = Identity._meta, Interaction._meta
    states = ", ".join(["%s"] * len(CONTINUING_STATES))
    # The names come from the models; every value is a parameter.
    return (
        "SELECT pg_advisory_xact_lock(hashtext(%s)); "  # noqa: S608
        f'SELECT (SELECT "{i.fields["contact"].column_name}" FROM {_table(Identity)} '
        f'WHERE "{i.fields["kind"].column_name}" = %s AND "{i.fields["value"].column_name}" = %s LIMIT 1), '
        f'(SELECT "{t.fields["id"].column_name}" FROM {_table(Interaction)} '
        f'WHERE "{t.fields["channel"].column_name}" = %s AND "{t.fields["thread_key"].column_name}" = %s '
        f'AND "{t.fields["state"].column_name}" IN ({states}) ORDER BY "{t.fields["id"].column_name}" DESC LIMIT 1)'
    )


def lock_and_find(lock_key: str, identity: tuple[str, str], channel: str, thread_key: str) -> tuple[Any, Any]:
    """Take the conversation's lock, then read (the contact owning the identity, the open
    interaction of the thread): ids, or None."""
    cursor = database.execute_sql(_find_sql(), (lock_key, *identity, channel, thread_key, *CONTINUING_STATES))
    row = cursor.fetchone()
    return row[0], row[1]


_INTERACTION_COLUMNS = (
    "contact", "channel", "queue", "state", "priority", "subject", "thread_key", "created_at",
    "updated_at", "last_message_at", "skills", "queued_at", "ended_at", "closed_at",
)  # fmt: skip
_MESSAGE_COLUMNS = ("channel", "direction", "body", "external_id", "created_at", "meta")


@functools.cache
def _open_sql() -> str:
    m = Message._meta
    state_cols = _columns(StateChange, "interaction", "from_state", "to_state", "agent", "at")
    values = ", ".join(["%s"] * len(_INTERACTION_COLUMNS))
    # The names come from the models; every value is a parameter.
    return (
        f"WITH i AS (INSERT INTO {_table(Interaction)} ({_columns(Interaction, *_INTERACTION_COLUMNS)}) "  # noqa: S608
        f'VALUES ({values}) RETURNING "{Interaction._meta.fields["id"].column_name}" AS id), '
        f"s AS (INSERT INTO {_table(StateChange)} ({state_cols}) "
        "SELECT id, NULL::text, %s, NULL::integer, %s FROM i UNION ALL SELECT id, %s, %s, NULL::integer, %s FROM i) "
        f"INSERT INTO {_table(Message)} ({_columns(Message, 'interaction', *_MESSAGE_COLUMNS)}) "
        f"SELECT id, {', '.join(['%s'] * len(_MESSAGE_COLUMNS))} FROM i "
        f'RETURNING "{m.fields["interaction"].column_name}", "{m.fields["id"].column_name}"'
    )


def open_with_message(
    interaction: dict[str, Any], message: dict[str, Any], to_state: str, now: dt.datetime
) -> tuple[int, int]:
    """Insert a new interaction (``interaction``: its columns by field name), its steps new ->
    ``to_state`` and its first message; returns (interaction id, message id)."""
    fields = Interaction._meta.fields
    params = [fields[n].db_value(interaction[n]) for n in _INTERACTION_COLUMNS]
    params += [NEW, now, NEW, to_state, now]
    params += [Message._meta.fields[n].db_value(message[n]) for n in _MESSAGE_COLUMNS]
    cursor = database.execute_sql(_open_sql(), params)
    interaction_id, message_id = cursor.fetchone()
    return interaction_id, message_id
