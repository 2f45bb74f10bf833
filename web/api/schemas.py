"""The shapes of the REST API: what each request may carry and what each answer holds.

Requests are strict (no type coercion, unknown fields refused); answers ignore extra keys, so
a read model that grows does not break the API. ``openapi.py`` turns these into the document.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from callyard.config import CHANNELS
from callyard.models import STATES
from callyard.services.webhook_payloads import EVENTS, URL_PATTERN

INT_MAX = 2**31 - 1
MAX_PAGE = 200

Id = Annotated[int, Field(ge=1, le=INT_MAX)]
Name = Annotated[str, StringConstraints(max_length=255)]
Text255 = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Body = Annotated[str, StringConstraints(min_length=1, max_length=65536)]
QueueName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
Event = Literal[EVENTS]  # type: ignore[valid-type]
Channel = Literal[CHANNELS]  # type: ignore[valid-type]
State = Literal[STATES]  # type: ignore[valid-type]
IdentityKind = Literal["phone", "email", "telegram"]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    # Query strings are text: numbers are parsed from them, unknown parameters refused.
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


# -- common -----------------------------------------------------------------------------------


class ErrorBody(Out):
    error_id: str = Field(description="A stable code to branch on, e.g. `invalid-input`.")
    message: str = Field(description="What went wrong and how to fix it, for people.")
    details: dict[str, Any] | None = None


class Error(Out):
    error: ErrorBody


class PageQuery(Query):
    limit: int = Field(50, ge=1, le=MAX_PAGE, description="Items per page.")
    cursor: int | None = Field(
        None, ge=1, le=INT_MAX, description="`next_cursor` of the previous page; absent for the first page."
    )


class Me(Out):
    name: str
    role: str
    prefix: str


# -- contacts ---------------------------------------------------------------------------------


class IdentityIn(In):
    kind: IdentityKind
    value: Text255


class IdentityOut(Out):
    kind: str
    value: str


class ContactCreate(In):
    name: Name = ""
    identities: list[IdentityIn] = Field(min_length=1, max_length=10)


class CrmCard(Out):
    data: dict[str, Any] = Field(description="What the CRM lookup answered (a flat JSON object).")
    fetched_at: str


class ContactOut(Out):
    id: int
    name: str
    identities: list[IdentityOut]
    created_at: str
    crm: CrmCard | None = Field(None, description="The CRM lookup's answer, when one is configured.")


class ContactPage(Out):
    items: list[ContactOut]
    next_cursor: int | None


class ContactQuery(PageQuery):
    kind: IdentityKind | None = Field(None, description="Only contacts with an identity of this kind.")
    value: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        None, description="Only contacts with an identity of this value."
    )


# -- interactions and messages ----------------------------------------------------------------


class ContactRef(Out):
    id: int
    name: str
    identities: list[IdentityOut]


class InteractionOut(Out):
    id: int
    channel: str
    state: str
    queue: str | None
    agent_id: int | None
    contact: ContactRef
    created_at: str
    queued_at: str | None
    answered_at: str | None
    ended_at: str | None
    closed_at: str | None
    last_message_at: str | None
    preview: str
    source: str | None = Field(None, description="API interactions: the integrator's channel, e.g. `sms`.")
    thread: str | None = Field(None, description="API interactions: the integrator's conversation id.")


class InteractionPage(Out):
    items: list[InteractionOut]
    next_cursor: int | None


class InteractionQuery(PageQuery):
    state: State | None = None
    channel: Channel | None = None
    queue: QueueName | None = None
    agent_id: int | None = Field(None, ge=1, le=INT_MAX)
    contact_id: int | None = Field(None, ge=1, le=INT_MAX)


class NewContact(In):
    kind: IdentityKind
    value: Text255
    name: Name = ""


class InteractionCreate(In):
    source: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")] = Field(
        description="Where the conversation happens on your side: `sms`, `whatsapp`, `crm-form`…"
    )
    thread: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="Your id of the conversation; the next message with the same source and thread continues it."
    )
    contact: NewContact
    body: Body
    queue: QueueName | None = Field(None, description="Default: channels.api.queue.")
    external_id: Text255 | None = Field(
        None, description="Your id of this message; sending it again does not store it twice."
    )


class CustomerMessage(In):
    body: Body
    external_id: Text255 | None = None


class Reply(In):
    body: Body


class Assign(In):
    agent_id: Id


class Delivery(Out):
    state: str
    attempts: int
    error: str


class MessageOut(Out):
    id: int
    interaction_id: int
    direction: Literal["in", "out"]
    body: str
    created_at: str
    agent_name: str | None
    delivery: Delivery | None = None


class MessageList(Out):
    items: list[MessageOut]


class Ingested(Out):
    interaction: InteractionOut
    message: MessageOut
    duplicate: bool = Field(description="True when this external_id was stored before (nothing new stored).")


class RoutingDecisionOut(Out):
    agent_id: int | None
    strategy: str
    reason: str
    candidates: list[dict[str, Any]]
    created_at: str


class RoutingList(Out):
    items: list[RoutingDecisionOut]


# -- queues, agents, calls --------------------------------------------------------------------


class QueueOut(Out):
    name: str
    strategy: str
    priority: int
    skills: dict[str, int]
    wrap_up_seconds: int
    waiting: int = Field(description="Interactions queued now.")
    created_at: str


class QueueList(Out):
    items: list[QueueOut]


class QueueCreate(In):
    name: QueueName
    strategy: Literal["longest-idle"] = "longest-idle"
    priority: int = Field(0, ge=-1000, le=1000)
    skills: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=64)], Annotated[int, Field(ge=1, le=10)]
    ] = Field(default_factory=dict, max_length=20)
    wrap_up_seconds: int = Field(0, ge=0, le=86400)


class AgentOut(Out):
    id: int
    login: str
    name: str
    role: str
    enabled: bool
    presence: str
    presence_reason: str
    presence_since: str | None
    skills: dict[str, int]
    capacity: dict[str, int]


class AgentList(Out):
    items: list[AgentOut]


class Presence(In):
    presence: Literal["offline", "available", "break"]
    reason: Annotated[str, StringConstraints(max_length=64)] = ""


class CallPage(Out):
    available: bool = Field(description="False while the voice channel is not installed.")
    note: str
    items: list[dict[str, Any]]
    next_cursor: int | None


# -- webhooks ---------------------------------------------------------------------------------


Url = Annotated[str, StringConstraints(min_length=1, max_length=2048, pattern=URL_PATTERN)]


class WebhookCreate(In):
    url: Url
    events: list[Event] = Field(min_length=1, max_length=len(EVENTS))
    description: Name = ""


class WebhookUpdate(In):
    url: Url | None = None
    events: list[Event] | None = Field(None, min_length=1, max_length=len(EVENTS))
    description: Name | None = None
    enabled: bool | None = Field(None, description="true turns a disabled subscription back on.")


class WebhookOut(Out):
    id: int
    url: str
    events: list[str]
    description: str
    enabled: bool
    consecutive_failures: int
    disabled_reason: str
    disabled_at: str | None
    created_at: str


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Signs every delivery (HMAC-SHA256). Shown only now: keep it.")


class WebhookList(Out):
    items: list[WebhookOut]


class AttemptOut(Out):
    number: int
    at: str
    status_code: int | None
    error: str
    duration_ms: int


class DeliveryOut(Out):
    id: int
    event: str
    state: Literal["pending", "sent", "failed"]
    attempts: list[AttemptOut]
    next_attempt_at: str | None
    created_at: str


class DeliveryPage(Out):
    items: list[DeliveryOut]
    next_cursor: int | None
