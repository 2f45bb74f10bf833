"""The store's tables, as peewee models.

Models are plain records: they never make network calls and never publish events; domain
services do that. All times are naive UTC. The schema itself is created and changed only by
the versioned migrations in ``callyard.migrations``; these classes must match the newest one
(a test checks it).
"""

from __future__ import annotations

import json
from typing import Any

import peewee as pw

# peewee binds models to a database through a proxy; the Store initialises it with the
# configured database. This is the one piece of module state in the kernel, and it is how
# peewee is meant to be used.
database = pw.DatabaseProxy()


class JSONField(pw.TextField):
    """JSON in a TEXT column, portable between SQLite and PostgreSQL."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True)

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


class BaseModel(pw.Model):
    class Meta:
        database = database
        legacy_table_names = False


# Interaction states, in the order of a normal life. `abandoned` ends one the customer left.
NEW, QUEUED, OFFERED, ACTIVE, WRAP_UP, CLOSED, ABANDONED = (
    "new",
    "queued",
    "offered",
    "active",
    "wrap_up",
    "closed",
    "abandoned",
)
STATES = (NEW, QUEUED, OFFERED, ACTIVE, WRAP_UP, CLOSED, ABANDONED)
OPEN_STATES = (NEW, QUEUED, OFFERED, ACTIVE, WRAP_UP)
# Which state may follow which: the interaction state machine.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    NEW: (QUEUED, ABANDONED, CLOSED),
    QUEUED: (OFFERED, ABANDONED, CLOSED),
    OFFERED: (ACTIVE, QUEUED, ABANDONED, CLOSED),
    ACTIVE: (WRAP_UP, CLOSED, QUEUED),
    WRAP_UP: (CLOSED,),
    CLOSED: (),
    ABANDONED: (),
}

PRESENCES = ("offline", "available", "break")
ROLES = ("agent", "supervisor", "admin")
IDENTITY_KINDS = ("phone", "email", "telegram", "chat_visitor")


class SchemaVersion(BaseModel):
    version = pw.IntegerField(primary_key=True)
    name = pw.CharField()
    applied_at = pw.DateTimeField()


class Contact(BaseModel):
    name = pw.CharField(default="")
    created_at = pw.DateTimeField()


class Identity(BaseModel):
    contact = pw.ForeignKeyField(Contact, backref="identities", on_delete="CASCADE")
    kind = pw.CharField()  # one of IDENTITY_KINDS
    value = pw.CharField()
    created_at = pw.DateTimeField()

    class Meta:
        indexes = ((("kind", "value"), True),)


class Queue(BaseModel):
    name = pw.CharField(unique=True)
    strategy = pw.CharField(default="longest-idle")
    priority = pw.IntegerField(default=0)
    skills = JSONField(default=dict)  # skill -> minimum level
    wrap_up_seconds = pw.IntegerField(default=0)
    created_at = pw.DateTimeField()


class Agent(BaseModel):
    login = pw.CharField(unique=True)
    name = pw.CharField()
    password_hash = pw.CharField()
    role = pw.CharField(default="agent")  # one of ROLES
    enabled = pw.BooleanField(default=True)
    presence = pw.CharField(default="offline")
    presence_reason = pw.CharField(default="")
    presence_since = pw.DateTimeField()
    # When the agent last became free for work; longest-idle routing sorts by it.
    idle_since = pw.DateTimeField()
    created_at = pw.DateTimeField()
    # Part of every login session; raised at logout so that copies of an old session cookie
    # (signed, kept by the browser) stop working.
    session_epoch = pw.IntegerField(default=0)


class AgentSkill(BaseModel):
    agent = pw.ForeignKeyField(Agent, backref="skills", on_delete="CASCADE")
    skill = pw.CharField()
    level = pw.IntegerField()

    class Meta:
        indexes = ((("agent", "skill"), True),)


class AgentCapacity(BaseModel):
    agent = pw.ForeignKeyField(Agent, backref="capacities", on_delete="CASCADE")
    channel = pw.CharField()
    max_load = pw.IntegerField()

    class Meta:
        indexes = ((("agent", "channel"), True),)


class Interaction(BaseModel):
    contact = pw.ForeignKeyField(Contact, backref="interactions")
    channel = pw.CharField(index=True)
    queue = pw.ForeignKeyField(Queue, null=True, backref="interactions")
    state = pw.CharField(index=True, default=NEW)
    priority = pw.IntegerField(default=0)
    subject = pw.CharField(default="")
    agent = pw.ForeignKeyField(Agent, null=True, backref="interactions")
    # The channel's own handle on the conversation (chat visitor id, email thread, call uuid).
    thread_key = pw.CharField(null=True, index=True)
    created_at = pw.DateTimeField()
    queued_at = pw.DateTimeField(null=True)
    answered_at = pw.DateTimeField(null=True)
    ended_at = pw.DateTimeField(null=True)
    closed_at = pw.DateTimeField(null=True)
    last_message_at = pw.DateTimeField(null=True)
    updated_at = pw.DateTimeField()


class StateChange(BaseModel):
    """Every transition of an interaction: the history reports are built from."""

    interaction = pw.ForeignKeyField(Interaction, backref="state_changes", on_delete="CASCADE")
    from_state = pw.CharField(null=True)
    to_state = pw.CharField()
    agent = pw.ForeignKeyField(Agent, null=True)
    at = pw.DateTimeField()


class Message(BaseModel):
    interaction = pw.ForeignKeyField(Interaction, backref="messages", on_delete="CASCADE")
    channel = pw.CharField()
    direction = pw.CharField()  # "in" (from the customer) or "out" (to the customer)
    agent = pw.ForeignKeyField(Agent, null=True)
    body = pw.TextField()
    # The channel's id for this message; with the channel it makes a message unique, so a
    # message sent twice (a retry, a reconnect) is stored once.
    external_id = pw.CharField(null=True)
    created_at = pw.DateTimeField()

    class Meta:
        indexes = ((("channel", "external_id"), True),)


class Offer(BaseModel):
    interaction = pw.ForeignKeyField(Interaction, backref="offers", on_delete="CASCADE")
    agent = pw.ForeignKeyField(Agent, backref="offers", on_delete="CASCADE")
    state = pw.CharField(default="pending", index=True)  # pending accepted rejected expired withdrawn
    created_at = pw.DateTimeField()
    expires_at = pw.DateTimeField()
    decided_at = pw.DateTimeField(null=True)


class RoutingDecision(BaseModel):
    interaction = pw.ForeignKeyField(Interaction, backref="routing_decisions", on_delete="CASCADE")
    agent = pw.ForeignKeyField(Agent, null=True)
    strategy = pw.CharField()
    reason = pw.TextField()
    candidates = JSONField(default=list)
    created_at = pw.DateTimeField()


class OutboxItem(BaseModel):
    """Something to send to the outside world, kept until it is delivered or given up on."""

    channel = pw.CharField(index=True)
    message = pw.ForeignKeyField(Message, null=True, backref="outbox_items", on_delete="CASCADE")
    payload = JSONField(default=dict)
    state = pw.CharField(default="pending", index=True)  # pending sent failed
    attempts = pw.IntegerField(default=0)
    next_attempt_at = pw.DateTimeField(index=True)
    last_error = pw.TextField(default="")
    created_at = pw.DateTimeField()
    sent_at = pw.DateTimeField(null=True)


MODELS: list[type[BaseModel]] = [
    SchemaVersion,
    Contact,
    Identity,
    Queue,
    Agent,
    AgentSkill,
    AgentCapacity,
    Interaction,
    StateChange,
    Message,
    Offer,
    RoutingDecision,
    OutboxItem,
]
