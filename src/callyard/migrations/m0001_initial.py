"""The first schema: contacts and identities, queues, agents with skills and capacity,
interactions with their state history, messages, offers, routing decisions and the outbox."""

from __future__ import annotations

import peewee as pw

VERSION = 1
NAME = "initial"

TYPES = {
    "sqlite": {"pk": "INTEGER NOT NULL PRIMARY KEY", "ts": "DATETIME", "bool": "INTEGER"},
    "postgresql": {"pk": "SERIAL NOT NULL PRIMARY KEY", "ts": "TIMESTAMP", "bool": "BOOLEAN"},
}

STATEMENTS = [
    'CREATE TABLE "schema_version" ("version" INTEGER NOT NULL PRIMARY KEY, "name" VARCHAR(255) NOT NULL, "applied_at" {ts} NOT NULL)',
    'CREATE TABLE "contact" ("id" {pk}, "name" VARCHAR(255) NOT NULL, "created_at" {ts} NOT NULL)',
    'CREATE TABLE "identity" ("id" {pk}, "contact_id" INTEGER NOT NULL, "kind" VARCHAR(255) NOT NULL, "value" VARCHAR(255) NOT NULL, "created_at" {ts} NOT NULL, FOREIGN KEY ("contact_id") REFERENCES "contact" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "identity_contact_id" ON "identity" ("contact_id")',
    'CREATE UNIQUE INDEX "identity_kind_value" ON "identity" ("kind", "value")',
    'CREATE TABLE "queue" ("id" {pk}, "name" VARCHAR(255) NOT NULL, "strategy" VARCHAR(255) NOT NULL, "priority" INTEGER NOT NULL, "skills" TEXT NOT NULL, "wrap_up_seconds" INTEGER NOT NULL, "created_at" {ts} NOT NULL)',
    'CREATE UNIQUE INDEX "queue_name" ON "queue" ("name")',
    'CREATE TABLE "agent" ("id" {pk}, "login" VARCHAR(255) NOT NULL, "name" VARCHAR(255) NOT NULL, "password_hash" VARCHAR(255) NOT NULL, "role" VARCHAR(255) NOT NULL, "enabled" {bool} NOT NULL, "presence" VARCHAR(255) NOT NULL, "presence_reason" VARCHAR(255) NOT NULL, "presence_since" {ts} NOT NULL, "idle_since" {ts} NOT NULL, "created_at" {ts} NOT NULL)',
    'CREATE UNIQUE INDEX "agent_login" ON "agent" ("login")',
    'CREATE TABLE "agent_skill" ("id" {pk}, "agent_id" INTEGER NOT NULL, "skill" VARCHAR(255) NOT NULL, "level" INTEGER NOT NULL, FOREIGN KEY ("agent_id") REFERENCES "agent" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "agent_skill_agent_id" ON "agent_skill" ("agent_id")',
    'CREATE UNIQUE INDEX "agent_skill_agent_id_skill" ON "agent_skill" ("agent_id", "skill")',
    'CREATE TABLE "agent_capacity" ("id" {pk}, "agent_id" INTEGER NOT NULL, "channel" VARCHAR(255) NOT NULL, "max_load" INTEGER NOT NULL, FOREIGN KEY ("agent_id") REFERENCES "agent" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "agent_capacity_agent_id" ON "agent_capacity" ("agent_id")',
    'CREATE UNIQUE INDEX "agent_capacity_agent_id_channel" ON "agent_capacity" ("agent_id", "channel")',
    'CREATE TABLE "interaction" ("id" {pk}, "contact_id" INTEGER NOT NULL, "channel" VARCHAR(255) NOT NULL, "queue_id" INTEGER, "state" VARCHAR(255) NOT NULL, "priority" INTEGER NOT NULL, "subject" VARCHAR(255) NOT NULL, "agent_id" INTEGER, "thread_key" VARCHAR(255), "created_at" {ts} NOT NULL, "queued_at" {ts}, "answered_at" {ts}, "ended_at" {ts}, "closed_at" {ts}, "last_message_at" {ts}, "updated_at" {ts} NOT NULL, FOREIGN KEY ("contact_id") REFERENCES "contact" ("id"), FOREIGN KEY ("queue_id") REFERENCES "queue" ("id"), FOREIGN KEY ("agent_id") REFERENCES "agent" ("id"))',
    'CREATE INDEX "interaction_contact_id" ON "interaction" ("contact_id")',
    'CREATE INDEX "interaction_channel" ON "interaction" ("channel")',
    'CREATE INDEX "interaction_queue_id" ON "interaction" ("queue_id")',
    'CREATE INDEX "interaction_state" ON "interaction" ("state")',
    'CREATE INDEX "interaction_agent_id" ON "interaction" ("agent_id")',
    'CREATE INDEX "interaction_thread_key" ON "interaction" ("thread_key")',
    'CREATE TABLE "state_change" ("id" {pk}, "interaction_id" INTEGER NOT NULL, "from_state" VARCHAR(255), "to_state" VARCHAR(255) NOT NULL, "agent_id" INTEGER, "at" {ts} NOT NULL, FOREIGN KEY ("interaction_id") REFERENCES "interaction" ("id") ON DELETE CASCADE, FOREIGN KEY ("agent_id") REFERENCES "agent" ("id"))',
    'CREATE INDEX "state_change_interaction_id" ON "state_change" ("interaction_id")',
    'CREATE INDEX "state_change_agent_id" ON "state_change" ("agent_id")',
    'CREATE TABLE "message" ("id" {pk}, "interaction_id" INTEGER NOT NULL, "channel" VARCHAR(255) NOT NULL, "direction" VARCHAR(255) NOT NULL, "agent_id" INTEGER, "body" TEXT NOT NULL, "external_id" VARCHAR(255), "created_at" {ts} NOT NULL, FOREIGN KEY ("interaction_id") REFERENCES "interaction" ("id") ON DELETE CASCADE, FOREIGN KEY ("agent_id") REFERENCES "agent" ("id"))',
    'CREATE INDEX "message_interaction_id" ON "message" ("interaction_id")',
    'CREATE INDEX "message_agent_id" ON "message" ("agent_id")',
    'CREATE UNIQUE INDEX "message_channel_external_id" ON "message" ("channel", "external_id")',
    'CREATE TABLE "offer" ("id" {pk}, "interaction_id" INTEGER NOT NULL, "agent_id" INTEGER NOT NULL, "state" VARCHAR(255) NOT NULL, "created_at" {ts} NOT NULL, "expires_at" {ts} NOT NULL, "decided_at" {ts}, FOREIGN KEY ("interaction_id") REFERENCES "interaction" ("id") ON DELETE CASCADE, FOREIGN KEY ("agent_id") REFERENCES "agent" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "offer_interaction_id" ON "offer" ("interaction_id")',
    'CREATE INDEX "offer_agent_id" ON "offer" ("agent_id")',
    'CREATE INDEX "offer_state" ON "offer" ("state")',
    'CREATE TABLE "routing_decision" ("id" {pk}, "interaction_id" INTEGER NOT NULL, "agent_id" INTEGER, "strategy" VARCHAR(255) NOT NULL, "reason" TEXT NOT NULL, "candidates" TEXT NOT NULL, "created_at" {ts} NOT NULL, FOREIGN KEY ("interaction_id") REFERENCES "interaction" ("id") ON DELETE CASCADE, FOREIGN KEY ("agent_id") REFERENCES "agent" ("id"))',
    'CREATE INDEX "routing_decision_interaction_id" ON "routing_decision" ("interaction_id")',
    'CREATE INDEX "routing_decision_agent_id" ON "routing_decision" ("agent_id")',
    'CREATE TABLE "outbox_item" ("id" {pk}, "channel" VARCHAR(255) NOT NULL, "message_id" INTEGER, "payload" TEXT NOT NULL, "state" VARCHAR(255) NOT NULL, "attempts" INTEGER NOT NULL, "next_attempt_at" {ts} NOT NULL, "last_error" TEXT NOT NULL, "created_at" {ts} NOT NULL, "sent_at" {ts}, FOREIGN KEY ("message_id") REFERENCES "message" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "outbox_item_channel" ON "outbox_item" ("channel")',
    'CREATE INDEX "outbox_item_message_id" ON "outbox_item" ("message_id")',
    'CREATE INDEX "outbox_item_state" ON "outbox_item" ("state")',
    'CREATE INDEX "outbox_item_next_attempt_at" ON "outbox_item" ("next_attempt_at")',
]


def upgrade(db: pw.Database, dialect: str) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement.format(**TYPES[dialect]))
