"""Gateways claim outbox items with a lease; messages carry channel metadata and attachments."""

from __future__ import annotations

import peewee as pw

VERSION = 3
NAME = "gateways_and_email"

TYPES = {
    "sqlite": {"pk": "INTEGER NOT NULL PRIMARY KEY", "ts": "DATETIME", "bool": "INTEGER"},
    "postgresql": {"pk": "SERIAL NOT NULL PRIMARY KEY", "ts": "TIMESTAMP", "bool": "BOOLEAN"},
}

STATEMENTS = [
    'ALTER TABLE "outbox_item" ADD COLUMN "claimed_by" VARCHAR(255) NOT NULL DEFAULT \'\'',
    'ALTER TABLE "outbox_item" ADD COLUMN "lease_until" {ts}',
    'ALTER TABLE "message" ADD COLUMN "meta" TEXT NOT NULL DEFAULT \'{{}}\'',
    'CREATE TABLE "attachment" ("id" {pk}, "message_id" INTEGER NOT NULL, "filename" VARCHAR(255) NOT NULL, "content_type" VARCHAR(255) NOT NULL, "size" INTEGER NOT NULL, "path" VARCHAR(255) NOT NULL, "content_id" VARCHAR(255) NOT NULL, "inline" {bool} NOT NULL, "created_at" {ts} NOT NULL, FOREIGN KEY ("message_id") REFERENCES "message" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "attachment_message_id" ON "attachment" ("message_id")',
]


def upgrade(db: pw.Database, dialect: str) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement.format(**TYPES[dialect]))
