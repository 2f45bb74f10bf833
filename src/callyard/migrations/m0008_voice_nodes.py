"""Voice: the FreeSWITCH node each call is on (its Core-UUID), so commands for a call go to
that node's event socket instead of the first connected one; and an index to find a call by
its agent's leg (an agent's hang-up the controller has not mapped again after a restart)."""

from __future__ import annotations

import peewee as pw

VERSION = 8
NAME = "voice_nodes"

STATEMENTS = [
    'ALTER TABLE "call_record" ADD COLUMN "node" VARCHAR(255)',
    'CREATE INDEX "call_record_agent_uuid" ON "call_record" ("agent_uuid")',
]


def upgrade(db: pw.Database, dialect: str) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
