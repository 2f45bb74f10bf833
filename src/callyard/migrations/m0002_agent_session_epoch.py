"""Agents get a session epoch, raised at logout, so an old session cookie stops working."""

from __future__ import annotations

import peewee as pw

VERSION = 2
NAME = "agent_session_epoch"


def upgrade(db: pw.Database, dialect: str) -> None:
    db.execute_sql('ALTER TABLE "agent" ADD COLUMN "session_epoch" INTEGER NOT NULL DEFAULT 0')
