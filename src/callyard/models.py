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
    # routing rules beyond the strategy (escalation, hours, sticky...), from the config file
    rules = JSONField(default=dict)
    # round-robin: the agent the queue served last, so a restart resumes from there
    rr_position = pw.IntegerField(null=True)


class Agent(BaseModel):
    login = pw.CharField(unique=True)
    name = pw.CharField()
    password_hash = pw.CharField()
    role = pw.CharField(default="agent")  # one of ROLES
    enabled = pw.BooleanField(default=True)
    presence = pw.CharField(default="offline")
    presence_reason = pw.CharField(default="")
    presence_since = pw.DateTimeField(index=True)  # the router's store watch asks by it
    # When the agent last became free for work; longest-idle routing sorts by it.
    idle_since = pw.DateTimeField()
    created_at = pw.DateTimeField()
    # Part of every login session; raised at logout so that copies of an old session cookie
    # (signed, kept by the browser) stop working.
    session_epoch = pw.IntegerField(default=0)
    # offers in a row the agent let time out; at routing.max_no_answer they go "not-ready"
    missed_offers = pw.IntegerField(default=0)
    # top-down, round-robin and ring-progressively go through agents in this order (then id)
    routing_order = pw.IntegerField(default=0)
    # How FreeSWITCH reaches the agent's phone (e.g. "user/1001"); None: "user/<login>".
    dial_string = pw.CharField(null=True)


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
    updated_at = pw.DateTimeField(index=True)  # the router's store watch asks by it
    # skills this interaction needs on top of its queue's (language, IVR choice): skill -> level
    skills = JSONField(default=dict)
    # since when it waits in its current queue (escalation counts from here; overflow resets it)
    queue_since = pw.DateTimeField(null=True)


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
    # What a channel knows beyond the text: an email's subject, sanitised HTML, addresses,
    # whether it was an automatic message (auto-reply, bounce). Shown by the inbox.
    meta = JSONField(default=dict)

    class Meta:
        indexes = ((("channel", "external_id"), True),)


class Offer(BaseModel):
    interaction = pw.ForeignKeyField(Interaction, backref="offers", on_delete="CASCADE")
    agent = pw.ForeignKeyField(Agent, backref="offers", on_delete="CASCADE")
    state = pw.CharField(default="pending", index=True)  # pending accepted rejected expired withdrawn
    created_at = pw.DateTimeField()
    expires_at = pw.DateTimeField()
    decided_at = pw.DateTimeField(null=True, index=True)  # the router's store watch asks by it


class RoutingDecision(BaseModel):
    interaction = pw.ForeignKeyField(Interaction, backref="routing_decisions", on_delete="CASCADE")
    agent = pw.ForeignKeyField(Agent, null=True)
    strategy = pw.CharField()
    reason = pw.TextField()
    candidates = JSONField(default=list)
    created_at = pw.DateTimeField()
    # what the decision did (offer, wait, overflow, timeout, after-hours) and at which
    # escalation step ("base" or the step's description)
    action = pw.CharField(default="offer")
    step = pw.CharField(default="base")


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
    # A gateway (a process of its own) claims an item for a while; when the lease runs out
    # without a word from it (it crashed), the item can be claimed again.
    claimed_by = pw.CharField(default="")
    lease_until = pw.DateTimeField(null=True)


class Attachment(BaseModel):
    """A file that came with a message, kept under ``data_dir/attachments``."""

    message = pw.ForeignKeyField(Message, backref="attachments", on_delete="CASCADE")
    filename = pw.CharField()  # safe for a file system and a Content-Disposition header
    content_type = pw.CharField()
    size = pw.IntegerField()
    path = pw.CharField()  # relative to the attachments folder
    # Inline images are referred to from the HTML body by their Content-ID.
    content_id = pw.CharField(default="")
    inline = pw.BooleanField(default=False)
    created_at = pw.DateTimeField()


class CallRecord(BaseModel):
    """One phone call: what the caller went through, how long each part took, who took it."""

    interaction = pw.ForeignKeyField(Interaction, backref="calls", on_delete="CASCADE", unique=True)
    uuid = pw.CharField(unique=True)  # the caller's channel on FreeSWITCH
    caller_number = pw.CharField(default="")
    state = pw.CharField(default="ivr", index=True)  # ivr queued ringing talking ended
    agent = pw.ForeignKeyField(Agent, null=True)
    agent_uuid = pw.CharField(null=True, index=True)  # the agent's leg while it rings or talks
    entered_at = pw.DateTimeField()
    queued_at = pw.DateTimeField(null=True)
    answered_at = pw.DateTimeField(null=True)
    ended_at = pw.DateTimeField(null=True)
    held_since = pw.DateTimeField(null=True)
    wait_ms = pw.IntegerField(default=0)
    talk_ms = pw.IntegerField(default=0)
    hold_ms = pw.IntegerField(default=0)
    wrap_up_ms = pw.IntegerField(default=0)
    outcome = pw.CharField(default="")  # answered abandoned voicemail callback failed
    reason = pw.CharField(default="")
    recording = pw.CharField(null=True)
    # The FreeSWITCH node the call is on (its Core-UUID): commands for the call go there.
    node = pw.CharField(null=True)


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
    Attachment,
]


# -- integrators: API tokens, webhooks, CRM lookups (migration 0004) --------------------------

TOKEN_ROLES = ("integrator", "supervisor", "admin")


class ApiToken(BaseModel):
    """A REST API credential. Only a hash of the secret is kept; the secret is shown once."""

    name = pw.CharField()
    role = pw.CharField()  # one of TOKEN_ROLES
    # The first characters of the token, to tell tokens apart in listings and logs.
    prefix = pw.CharField()
    token_hash = pw.CharField(unique=True)
    created_at = pw.DateTimeField()
    last_used_at = pw.DateTimeField(null=True)
    revoked_at = pw.DateTimeField(null=True)


class WebhookSubscription(BaseModel):
    url = pw.TextField()
    events = JSONField(default=list)  # wire names, e.g. ["interaction.created"]
    # Signs every delivery (HMAC-SHA256); needed in clear to sign, shown once at creation.
    secret = pw.CharField()
    description = pw.CharField(default="")
    enabled = pw.BooleanField(default=True)
    # Failed attempts in a row; at webhooks.disable_after the subscription is disabled.
    consecutive_failures = pw.IntegerField(default=0)
    disabled_reason = pw.TextField(default="")
    disabled_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField()


class WebhookDelivery(BaseModel):
    """One event sent to one subscription: an outbox item, with its attempts logged below."""

    subscription = pw.ForeignKeyField(WebhookSubscription, backref="deliveries", on_delete="CASCADE")
    outbox_item = pw.ForeignKeyField(OutboxItem, unique=True, on_delete="CASCADE")
    event = pw.CharField()
    created_at = pw.DateTimeField()


class WebhookAttempt(BaseModel):
    delivery = pw.ForeignKeyField(WebhookDelivery, backref="attempts", on_delete="CASCADE")
    number = pw.IntegerField()
    at = pw.DateTimeField()
    status_code = pw.IntegerField(null=True)  # None: no HTTP answer (timeout, refused)
    error = pw.TextField(default="")
    duration_ms = pw.IntegerField()


class ContactCrm(BaseModel):
    """What the CRM lookup hook answered for a contact, shown on the contact card."""

    contact = pw.ForeignKeyField(Contact, unique=True, on_delete="CASCADE")
    data = JSONField(default=dict)
    fetched_at = pw.DateTimeField()


MODELS += [ApiToken, WebhookSubscription, WebhookDelivery, WebhookAttempt, ContactCrm]
# Routing's timeout and after-hours actions end an interaction as voicemail or callback; the
# voice channel takes it from there (InteractionTimedOut tells it).
VOICEMAIL, CALLBACK = "voicemail", "callback"
for _state in (VOICEMAIL, CALLBACK):
    if _state not in STATES:
        STATES += (_state,)
        TRANSITIONS[_state] = ()
    if _state not in TRANSITIONS[QUEUED]:
        TRANSITIONS[QUEUED] += (_state,)
# A call timed out to voicemail or callback goes back in line once the caller left the message
# or asked for the callback: an agent listens to it or calls back (keeping its arrival order).
for _state in (VOICEMAIL, CALLBACK):
    if QUEUED not in TRANSITIONS[_state]:
        TRANSITIONS[_state] += (QUEUED,)
# -- the agent inbox (issue 8) ---------------------------------------------------------------


class AgentEvent(BaseModel):
    """Each live push to an agent, numbered per agent, so a tab that lost its websocket asks
    for everything after the last number it saw and gets exactly what it missed."""

    agent = pw.ForeignKeyField(Agent, backref="events", on_delete="CASCADE")
    seq = pw.IntegerField()
    name = pw.CharField()
    payload = JSONField(default=dict)
    created_at = pw.DateTimeField(index=True)

    class Meta:
        indexes = ((("agent", "seq"), True),)


class InteractionRead(BaseModel):
    """How far an agent has read an interaction: unread counts survive reloads and other tabs."""

    agent = pw.ForeignKeyField(Agent, on_delete="CASCADE")
    interaction = pw.ForeignKeyField(Interaction, on_delete="CASCADE")
    message_id = pw.IntegerField(default=0)

    class Meta:
        indexes = ((("agent", "interaction"), True),)


class InteractionWork(BaseModel):
    """What agents add to an interaction: its request stage and its wrap-up."""

    interaction = pw.ForeignKeyField(Interaction, unique=True, on_delete="CASCADE")
    stage = pw.CharField(default="")
    disposition = pw.CharField(default="")
    wrap_up_notes = pw.TextField(default="")
    updated_at = pw.DateTimeField()


class InteractionLabel(BaseModel):
    interaction = pw.ForeignKeyField(Interaction, backref="labels", on_delete="CASCADE")
    label = pw.CharField(index=True)

    class Meta:
        indexes = ((("interaction", "label"), True),)


class InteractionLog(BaseModel):
    """The history of what agents did to an interaction: stages, labels, transfers, wrap-up."""

    interaction = pw.ForeignKeyField(Interaction, backref="log", on_delete="CASCADE")
    agent = pw.ForeignKeyField(Agent, null=True, on_delete="SET NULL")
    kind = pw.CharField()  # stage label_added label_removed transferred wrapped_up
    value = pw.CharField(default="")
    note = pw.TextField(default="")
    at = pw.DateTimeField()


class ContactNote(BaseModel):
    contact = pw.ForeignKeyField(Contact, backref="notes", on_delete="CASCADE")
    agent = pw.ForeignKeyField(Agent, null=True, on_delete="SET NULL")
    body = pw.TextField()
    created_at = pw.DateTimeField()


class CannedResponse(BaseModel):
    """A saved answer; shared with everyone when ``agent`` is null, else the agent's own."""

    agent = pw.ForeignKeyField(Agent, null=True, on_delete="CASCADE")
    title = pw.CharField()
    body = pw.TextField()
    created_at = pw.DateTimeField()


class KbArticle(BaseModel):
    """A short knowledge-base article the team writes, searchable from the composer."""

    title = pw.CharField()
    body = pw.TextField()
    agent = pw.ForeignKeyField(Agent, null=True, on_delete="SET NULL")
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()


MODELS += [
    AgentEvent,
    InteractionRead,
    InteractionWork,
    InteractionLabel,
    InteractionLog,
    ContactNote,
    CannedResponse,
    KbArticle,
    CallRecord,
]


class ComposerUpload(BaseModel):
    """A file an agent uploaded for a reply not sent yet (see services/compose.py)."""

    agent = pw.ForeignKeyField(Agent, on_delete="CASCADE")
    interaction = pw.ForeignKeyField(Interaction, on_delete="CASCADE")
    filename = pw.CharField()
    content_type = pw.CharField()
    size = pw.IntegerField()
    path = pw.CharField()  # relative to the attachments folder
    created_at = pw.DateTimeField()


MODELS += [ComposerUpload]
