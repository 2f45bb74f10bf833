"""What the router sees and what it answers. Plain frozen dataclasses, no behaviour."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

# What a decision asks the kernel to do.
OFFER = "offer"  # offer the item to ``agent_ids`` (several for ring-all)
WAIT = "wait"  # nobody can take it now; it stays in its queue
OVERFLOW = "overflow"  # move it to ``target_queue`` (an escalation step)
TIMEOUT = "timeout"  # the queue's timeout action: ``timeout_action`` (voicemail, callback, close)
AFTER_HOURS = "after-hours"  # the queue is closed: ``timeout_action`` is its after-hours action

TIMEOUT_ACTIONS = ("voicemail", "callback", "close")
AFTER_HOURS_ACTIONS = ("wait", *TIMEOUT_ACTIONS)


@dataclass(frozen=True)
class AgentState:
    id: int
    name: str
    # offline, available or break; only available agents get work.
    presence: str
    skills: Mapping[str, int]
    # channel -> how many interactions of that channel the agent may hold at once
    capacity: Mapping[str, int]
    # channel -> how many the agent holds now (offered or active; wrap-up counts too)
    load: Mapping[str, int]
    # since when the agent has been free; longest-idle picks the oldest
    idle_since: dt.datetime
    # the agent is wrapping up an interaction: gets nothing new until done
    wrap_up: bool = False
    # fewest-contacts: interactions taken today; least-talk-time: seconds handled today
    contacts_today: int = 0
    talk_seconds_today: float = 0.0
    # top-down, round-robin and ring-progressively walk agents by (order, id)
    order: int = 0


@dataclass(frozen=True)
class EscalationStep:
    """From ``after_seconds`` of waiting in the queue on, one of: relax the minimum level,
    drop skills, overflow to another queue, or the queue's timeout action."""

    after_seconds: int
    # every required level is capped at this (1 = anyone with the skill)
    min_level: int | None = None
    drop_skills: frozenset[str] = frozenset()
    overflow: str | None = None
    timeout: str | None = None  # voicemail, callback or close
    # "close": what the customer is told
    message: str = ""

    def describe(self) -> str:
        if self.overflow:
            what = f"overflow to {self.overflow}"
        elif self.timeout:
            what = f"timeout: {self.timeout}"
        else:
            parts = []
            if self.min_level is not None:
                parts.append(f"min level {self.min_level}")
            if self.drop_skills:
                parts.append("drop " + ", ".join(sorted(self.drop_skills)))
            what = "; ".join(parts) or "no change"
        return f"after {self.after_seconds}s: {what}"


@dataclass(frozen=True)
class BusinessHours:
    # IANA name, e.g. "Europe/Berlin"
    timezone: str
    # weekday (0 = Monday) -> opening ranges (start, end) in local time; a day not listed is closed
    weekly: Mapping[int, tuple[tuple[dt.time, dt.time], ...]]
    holidays: frozenset[dt.date] = frozenset()


@dataclass(frozen=True)
class QueueRules:
    name: str
    strategy: str = "longest-idle"
    priority: int = 0
    # skill -> minimum level
    skills: Mapping[str, int] = field(default_factory=dict)
    escalation: tuple[EscalationStep, ...] = ()
    hours: BusinessHours | None = None
    after_hours: str = "wait"
    after_hours_message: str = ""
    # a returning contact goes to the agent who served them last, within this many seconds
    sticky_seconds: int = 0
    # ring-progressively: seconds before the next agent is rung as well
    ring_interval: int = 10


@dataclass(frozen=True)
class WorkItem:
    id: int
    channel: str
    queue: str
    priority: int
    # arrival: first come first served within a priority
    waiting_since: dt.datetime
    # since when it waits in its current queue (escalation counts from here); None: waiting_since
    queue_since: dt.datetime | None = None
    # the interaction's own required skills (language from the channel, an IVR choice)
    skills: Mapping[str, int] = field(default_factory=dict)
    # sticky agent: who last served this contact, and when that ended
    last_agent_id: int | None = None
    last_served_at: dt.datetime | None = None
    # agents that let this item's earlier offers lapse or rejected them: tried last
    tried_agents: frozenset[int] = field(default_factory=frozenset)
    # ring-progressively: agents ringing now and when the last one was added
    ringing: frozenset[int] = field(default_factory=frozenset)
    last_ring_at: dt.datetime | None = None
    # its queue's timeout or after-hours action already ran (a voicemail or a callback request
    # back in line for an agent): it waits for an agent and is not timed out again
    timed_out: bool = False

    @property
    def in_queue_since(self) -> dt.datetime:
        return self.queue_since or self.waiting_since


@dataclass(frozen=True)
class Candidate:
    agent_id: int
    name: str
    eligible: bool
    # why not (when not eligible) or what counted for them (when eligible)
    reason: str
    # the strategy's measure for eligible agents (idle seconds, contacts, level...)
    score: float | None = None


@dataclass(frozen=True)
class Decision:
    item_id: int
    action: str
    queue: str
    strategy: str
    # the escalation step that applied: "base" or its description
    step: str
    reason: str
    agent_ids: tuple[int, ...] = ()
    # the agents the brain looked at for this decision (see Brain.explain for all of them)
    candidates: tuple[Candidate, ...] = ()
    target_queue: str | None = None
    timeout_action: str | None = None
    message: str = ""
    # round-robin: the agent the queue's position moved to
    rr_position: int | None = None

    @property
    def agent_id(self) -> int | None:
        return self.agent_ids[0] if self.agent_ids else None
