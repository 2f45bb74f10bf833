"""What webhooks say and accept: the event types, subscription checks, and the payload of an
event (its fields plus the things it names, as they are when it happens). No network I/O."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from ..errors import InvalidInput
from ..events import Event
from ..models import Agent, CallRecord, Interaction, Message, WebhookSubscription
from .views import agent_dict, interaction_dict, iso, message_dict

# What may be subscribed to. The call events come from the voice channel when it is installed.
EVENTS = (
    "interaction.created",
    "interaction.queued",
    "interaction.offered",
    "interaction.assigned",
    "interaction.wrapped_up",
    "interaction.closed",
    "interaction.abandoned",
    "message.created",
    "message.delivery_failed",
    "call.answered",
    "call.ended",
    "agent.presence_changed",
    "webhook.disabled",
)
MAX_URL = 2048


# ASCII only (percent-encode the rest): a host name is DNS labels or a bracketed IPv6 address.
URL_PATTERN = (
    r"^https?://([A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?([/?#][!-~]*)?$"
)
_URL_RE = re.compile(URL_PATTERN)


def check_url(url: str) -> str:
    problem = len(url) > MAX_URL or not _URL_RE.match(url)
    if not problem:
        try:  # urlsplit refuses malformed IPv6 literals and ports with ValueError
            parts = urlsplit(url)
            problem = not parts.hostname or len(parts.hostname) > 253 or (parts.port or 1) > 65535
            if parts.netloc.startswith("["):
                ipaddress.IPv6Address(parts.hostname)
        except ValueError:
            problem = True
    if problem:
        raise InvalidInput(
            f"a webhook URL must be an ASCII http:// or https:// URL with a host, at most {MAX_URL} "
            "characters (percent-encode anything else)",
            error_id="invalid-url",
        )
    return url


def check_events(events: list[str]) -> list[str]:
    if not events:
        raise InvalidInput("subscribe to at least one event", error_id="invalid-events")
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise InvalidInput(
            f"unknown event {unknown[0]!r}; use any of {', '.join(EVENTS)}", error_id="invalid-events"
        )
    return sorted(set(events))


def subscription_dict(sub: WebhookSubscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "url": sub.url,
        "events": list(sub.events),
        "description": sub.description,
        "enabled": sub.enabled,
        "consecutive_failures": sub.consecutive_failures,
        "disabled_reason": sub.disabled_reason,
        "disabled_at": iso(sub.disabled_at),
        "created_at": iso(sub.created_at),
    }


def snapshot(event: Event) -> dict[str, Any]:
    """What a delivery says about an event: its fields, and the things it names as they are now."""
    data: dict[str, Any] = {}
    for key, value in dataclasses.asdict(event).items():
        data[key] = iso(value) if isinstance(value, dt.datetime) else value
    interaction_id = data.get("interaction_id")
    if isinstance(interaction_id, int):
        interaction = Interaction.get_or_none(Interaction.id == interaction_id)
        if interaction is not None:
            data["interaction"] = interaction_dict(interaction)
            if interaction.channel == "api":  # the integrator's own names for the conversation
                source, _, thread = (interaction.thread_key or "").partition(":")
                data["interaction"].update(source=source, thread=thread)
    message_id = data.get("message_id")
    if isinstance(message_id, int):
        message = Message.get_or_none(Message.id == message_id)
        if message is not None:
            data["message"] = message_dict(message)
    agent_id = data.get("agent_id")
    if isinstance(agent_id, int) and "presence" in data:
        agent = Agent.get_or_none(Agent.id == agent_id)
        if agent is not None:
            data["agent"] = agent_dict(agent)
    uuid = data.get("uuid")
    if isinstance(uuid, str) and event.name.startswith("call."):
        record = CallRecord.get_or_none(CallRecord.uuid == uuid)
        if record is not None:
            data["call"] = call_dict(record)
    return data


def call_dict(record: CallRecord) -> dict[str, Any]:
    """A call record as webhooks show it: who, when, and how long each part took."""
    return {
        "uuid": record.uuid,
        "caller_number": record.caller_number,
        "state": record.state,
        "outcome": record.outcome,
        "reason": record.reason,
        "agent_id": record.agent_id,
        "entered_at": iso(record.entered_at),
        "queued_at": iso(record.queued_at),
        "answered_at": iso(record.answered_at),
        "ended_at": iso(record.ended_at),
        "wait_ms": record.wait_ms,
        "talk_ms": record.talk_ms,
        "hold_ms": record.hold_ms,
    }
