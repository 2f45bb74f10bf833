"""A queue's routing rules: from the config file into the store, and from the store into the brain.

The store keeps them as JSON (``Queue.rules``) in the config file's own shape, so the router
can rebuild its index from the store alone, and reading them back goes through the same
checks as loading the file.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .. import routing
from ..config import EscalationConfig, QueueConfig, parse_hours
from ..models import Queue

RULE_KEYS = (
    "escalation",
    "hours",
    "timezone",
    "holidays",
    "after_hours",
    "after_hours_message",
    "sticky_seconds",
    "ring_interval",
)


def rules_json(queue: QueueConfig) -> dict[str, Any]:
    """What goes into ``Queue.rules``."""
    raw = dataclasses.asdict(queue)
    return {key: raw[key] for key in RULE_KEYS}


def queue_config(queue: Queue) -> QueueConfig:
    rules = dict(queue.rules or {})
    steps = [EscalationConfig(**step) for step in rules.pop("escalation", [])]
    return QueueConfig(
        name=queue.name,
        strategy=queue.strategy,
        priority=queue.priority,
        skills=dict(queue.skills),
        wrap_up_seconds=queue.wrap_up_seconds,
        escalation=steps,
        **{k: v for k, v in rules.items() if k in RULE_KEYS},
    )


def queue_rules(queue: Queue) -> routing.QueueRules:
    """The brain's view of a stored queue."""
    qc = queue_config(queue)
    return routing.QueueRules(
        name=qc.name,
        strategy=qc.strategy,
        priority=qc.priority,
        skills=dict(qc.skills),
        escalation=tuple(
            routing.EscalationStep(
                after_seconds=s.after,
                min_level=s.min_level or None,
                drop_skills=frozenset(s.drop_skills),
                overflow=s.overflow or None,
                timeout=s.timeout or None,
                message=s.message,
            )
            for s in qc.escalation
        ),
        hours=parse_hours(qc),
        after_hours=qc.after_hours,
        after_hours_message=qc.after_hours_message,
        sticky_seconds=qc.sticky_seconds,
        ring_interval=qc.ring_interval,
    )
