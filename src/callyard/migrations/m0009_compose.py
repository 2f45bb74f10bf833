"""The composer: files an agent uploaded for a reply not sent yet. Sending the reply turns
each into an ``attachment`` of the new message (the file stays where it is)."""

from __future__ import annotations

import peewee as pw

VERSION = 9
NAME = "compose"

TYPES = {
    "sqlite": {"pk": "INTEGER NOT NULL PRIMARY KEY", "ts": "DATETIME"},
    "postgresql": {"pk": "SERIAL NOT NULL PRIMARY KEY", "ts": "TIMESTAMP"},
}

STATEMENTS = [
    'CREATE TABLE "composer_upload" ("id" {pk}, "agent_id" INTEGER NOT NULL, "interaction_id" INTEGER NOT NULL, "filename" VARCHAR(255) NOT NULL, "content_type" VARCHAR(255) NOT NULL, "size" INTEGER NOT NULL, "path" VARCHAR(255) NOT NULL, "created_at" {ts} NOT NULL, FOREIGN KEY ("agent_id") REFERENCES "agent" ("id") ON DELETE CASCADE, FOREIGN KEY ("interaction_id") REFERENCES "interaction" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "composer_upload_agent_id" ON "composer_upload" ("agent_id")',
    'CREATE INDEX "composer_upload_interaction_id" ON "composer_upload" ("interaction_id")',
]


def upgrade(db: pw.Database, dialect: str) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement.format(**TYPES[dialect]))
