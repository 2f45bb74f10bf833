"""The routing brain: queue rules and round-robin position, agents' missed offers and order,
interactions' own skills and queue entry time, and each decision's action and escalation step."""

from __future__ import annotations

import peewee as pw

VERSION = 5
NAME = "routing_brain"

TYPES = {
    "sqlite": {"ts": "DATETIME"},
    "postgresql": {"ts": "TIMESTAMP"},
}

STATEMENTS = [
    """ALTER TABLE "queue" ADD COLUMN "rules" TEXT NOT NULL DEFAULT '{{}}'""",
    'ALTER TABLE "queue" ADD COLUMN "rr_position" INTEGER',
    'ALTER TABLE "agent" ADD COLUMN "missed_offers" INTEGER NOT NULL DEFAULT 0',
    'ALTER TABLE "agent" ADD COLUMN "routing_order" INTEGER NOT NULL DEFAULT 0',
    """ALTER TABLE "interaction" ADD COLUMN "skills" TEXT NOT NULL DEFAULT '{{}}'""",
    'ALTER TABLE "interaction" ADD COLUMN "queue_since" {ts}',
    """ALTER TABLE "routing_decision" ADD COLUMN "action" VARCHAR(255) NOT NULL DEFAULT 'offer'""",
    """ALTER TABLE "routing_decision" ADD COLUMN "step" VARCHAR(255) NOT NULL DEFAULT 'base'""",
]


def upgrade(db: pw.Database, dialect: str) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement.format(**TYPES[dialect]))
