"""Indexes for the router's store watch: at every round (dozens a second under load) it asks
which interactions, offers and agents changed since the newest change it saw (``updated_at``,
``decided_at``, ``presence_since`` greater than a time). Without them each round read every
row of those tables, ever."""

from __future__ import annotations

import peewee as pw

VERSION = 10
NAME = "watch_indexes"

STATEMENTS = [
    'CREATE INDEX "interaction_updated_at" ON "interaction" ("updated_at")',
    'CREATE INDEX "offer_decided_at" ON "offer" ("decided_at")',
    'CREATE INDEX "agent_presence_since" ON "agent" ("presence_since")',
]


def upgrade(db: pw.Database, dialect: str) -> None:  # noqa: ARG001 - the same SQL for both
    for statement in STATEMENTS:
        db.execute_sql(statement)
