"""Voice: a call record per phone call and the agent's dial string. (An interaction's own
skills, such as a language chosen in a phone menu, came with the routing brain in 0005.)"""

from __future__ import annotations

import peewee as pw

VERSION = 7
NAME = "voice"

TYPES = {
    "sqlite": {"pk": "INTEGER NOT NULL PRIMARY KEY", "ts": "DATETIME"},
    "postgresql": {"pk": "SERIAL NOT NULL PRIMARY KEY", "ts": "TIMESTAMP"},
}

STATEMENTS = [
    'ALTER TABLE "agent" ADD COLUMN "dial_string" VARCHAR(255)',
    'CREATE TABLE "call_record" ("id" {pk}, "interaction_id" INTEGER NOT NULL, "uuid" VARCHAR(255) NOT NULL, "caller_number" VARCHAR(255) NOT NULL, "state" VARCHAR(255) NOT NULL, "agent_id" INTEGER, "agent_uuid" VARCHAR(255), "entered_at" {ts} NOT NULL, "queued_at" {ts}, "answered_at" {ts}, "ended_at" {ts}, "held_since" {ts}, "wait_ms" INTEGER NOT NULL, "talk_ms" INTEGER NOT NULL, "hold_ms" INTEGER NOT NULL, "wrap_up_ms" INTEGER NOT NULL, "outcome" VARCHAR(255) NOT NULL, "reason" VARCHAR(255) NOT NULL, "recording" VARCHAR(255), FOREIGN KEY ("interaction_id") REFERENCES "interaction" ("id") ON DELETE CASCADE, FOREIGN KEY ("agent_id") REFERENCES "agent" ("id"))',
    'CREATE UNIQUE INDEX "call_record_interaction_id" ON "call_record" ("interaction_id")',
    'CREATE UNIQUE INDEX "call_record_uuid" ON "call_record" ("uuid")',
    'CREATE INDEX "call_record_state" ON "call_record" ("state")',
    'CREATE INDEX "call_record_agent_id" ON "call_record" ("agent_id")',
]


def upgrade(db: pw.Database, dialect: str) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement.format(**TYPES[dialect]))
