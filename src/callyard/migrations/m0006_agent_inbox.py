"""The agent inbox: per-agent live event journal, read cursors, request stages and labels with
their history, wrap-up dispositions, contact notes, canned responses and knowledge-base articles."""

from __future__ import annotations

import peewee as pw

VERSION = 6
NAME = "agent_inbox"

TYPES = {
    "sqlite": {"pk": "INTEGER NOT NULL PRIMARY KEY", "ts": "DATETIME"},
    "postgresql": {"pk": "SERIAL NOT NULL PRIMARY KEY", "ts": "TIMESTAMP"},
}

STATEMENTS = [
    'CREATE TABLE "agent_event" ("id" {pk}, "agent_id" INTEGER NOT NULL, "seq" INTEGER NOT NULL, "name" VARCHAR(255) NOT NULL, "payload" TEXT NOT NULL, "created_at" {ts} NOT NULL, FOREIGN KEY ("agent_id") REFERENCES "agent" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "agent_event_agent_id" ON "agent_event" ("agent_id")',
    'CREATE INDEX "agent_event_created_at" ON "agent_event" ("created_at")',
    'CREATE UNIQUE INDEX "agent_event_agent_id_seq" ON "agent_event" ("agent_id", "seq")',
    'CREATE TABLE "interaction_read" ("id" {pk}, "agent_id" INTEGER NOT NULL, "interaction_id" INTEGER NOT NULL, "message_id" INTEGER NOT NULL, FOREIGN KEY ("agent_id") REFERENCES "agent" ("id") ON DELETE CASCADE, FOREIGN KEY ("interaction_id") REFERENCES "interaction" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "interaction_read_agent_id" ON "interaction_read" ("agent_id")',
    'CREATE INDEX "interaction_read_interaction_id" ON "interaction_read" ("interaction_id")',
    'CREATE UNIQUE INDEX "interaction_read_agent_id_interaction_id" ON "interaction_read" ("agent_id", "interaction_id")',
    'CREATE TABLE "interaction_work" ("id" {pk}, "interaction_id" INTEGER NOT NULL, "stage" VARCHAR(255) NOT NULL, "disposition" VARCHAR(255) NOT NULL, "wrap_up_notes" TEXT NOT NULL, "updated_at" {ts} NOT NULL, FOREIGN KEY ("interaction_id") REFERENCES "interaction" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "interaction_work_interaction_id" ON "interaction_work" ("interaction_id")',
    'CREATE TABLE "interaction_label" ("id" {pk}, "interaction_id" INTEGER NOT NULL, "label" VARCHAR(255) NOT NULL, FOREIGN KEY ("interaction_id") REFERENCES "interaction" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "interaction_label_interaction_id" ON "interaction_label" ("interaction_id")',
    'CREATE INDEX "interaction_label_label" ON "interaction_label" ("label")',
    'CREATE UNIQUE INDEX "interaction_label_interaction_id_label" ON "interaction_label" ("interaction_id", "label")',
    'CREATE TABLE "interaction_log" ("id" {pk}, "interaction_id" INTEGER NOT NULL, "agent_id" INTEGER, "kind" VARCHAR(255) NOT NULL, "value" VARCHAR(255) NOT NULL, "note" TEXT NOT NULL, "at" {ts} NOT NULL, FOREIGN KEY ("interaction_id") REFERENCES "interaction" ("id") ON DELETE CASCADE, FOREIGN KEY ("agent_id") REFERENCES "agent" ("id") ON DELETE SET NULL)',
    'CREATE INDEX "interaction_log_interaction_id" ON "interaction_log" ("interaction_id")',
    'CREATE INDEX "interaction_log_agent_id" ON "interaction_log" ("agent_id")',
    'CREATE TABLE "contact_note" ("id" {pk}, "contact_id" INTEGER NOT NULL, "agent_id" INTEGER, "body" TEXT NOT NULL, "created_at" {ts} NOT NULL, FOREIGN KEY ("contact_id") REFERENCES "contact" ("id") ON DELETE CASCADE, FOREIGN KEY ("agent_id") REFERENCES "agent" ("id") ON DELETE SET NULL)',
    'CREATE INDEX "contact_note_contact_id" ON "contact_note" ("contact_id")',
    'CREATE INDEX "contact_note_agent_id" ON "contact_note" ("agent_id")',
    'CREATE TABLE "canned_response" ("id" {pk}, "agent_id" INTEGER, "title" VARCHAR(255) NOT NULL, "body" TEXT NOT NULL, "created_at" {ts} NOT NULL, FOREIGN KEY ("agent_id") REFERENCES "agent" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "canned_response_agent_id" ON "canned_response" ("agent_id")',
    'CREATE TABLE "kb_article" ("id" {pk}, "title" VARCHAR(255) NOT NULL, "body" TEXT NOT NULL, "agent_id" INTEGER, "created_at" {ts} NOT NULL, "updated_at" {ts} NOT NULL, FOREIGN KEY ("agent_id") REFERENCES "agent" ("id") ON DELETE SET NULL)',
    'CREATE INDEX "kb_article_agent_id" ON "kb_article" ("agent_id")',
]


def upgrade(db: pw.Database, dialect: str) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement.format(**TYPES[dialect]))
