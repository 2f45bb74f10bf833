"""Integrators: REST API tokens, webhook subscriptions with their deliveries and attempts, and
what the CRM lookup hook answered per contact."""

from __future__ import annotations

import peewee as pw

VERSION = 4
NAME = "api_webhooks"

TYPES = {
    "sqlite": {"pk": "INTEGER NOT NULL PRIMARY KEY", "ts": "DATETIME", "bool": "INTEGER"},
    "postgresql": {"pk": "SERIAL NOT NULL PRIMARY KEY", "ts": "TIMESTAMP", "bool": "BOOLEAN"},
}

STATEMENTS = [
    'CREATE TABLE "api_token" ("id" {pk}, "name" VARCHAR(255) NOT NULL, "role" VARCHAR(255) NOT NULL, "prefix" VARCHAR(255) NOT NULL, "token_hash" VARCHAR(255) NOT NULL, "created_at" {ts} NOT NULL, "last_used_at" {ts}, "revoked_at" {ts})',
    'CREATE UNIQUE INDEX "api_token_token_hash" ON "api_token" ("token_hash")',
    'CREATE TABLE "webhook_subscription" ("id" {pk}, "url" TEXT NOT NULL, "events" TEXT NOT NULL, "secret" VARCHAR(255) NOT NULL, "description" VARCHAR(255) NOT NULL, "enabled" {bool} NOT NULL, "consecutive_failures" INTEGER NOT NULL, "disabled_reason" TEXT NOT NULL, "disabled_at" {ts}, "created_at" {ts} NOT NULL)',
    'CREATE TABLE "webhook_delivery" ("id" {pk}, "subscription_id" INTEGER NOT NULL, "outbox_item_id" INTEGER NOT NULL, "event" VARCHAR(255) NOT NULL, "created_at" {ts} NOT NULL, FOREIGN KEY ("subscription_id") REFERENCES "webhook_subscription" ("id") ON DELETE CASCADE, FOREIGN KEY ("outbox_item_id") REFERENCES "outbox_item" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "webhook_delivery_subscription_id" ON "webhook_delivery" ("subscription_id")',
    'CREATE UNIQUE INDEX "webhook_delivery_outbox_item_id" ON "webhook_delivery" ("outbox_item_id")',
    'CREATE TABLE "webhook_attempt" ("id" {pk}, "delivery_id" INTEGER NOT NULL, "number" INTEGER NOT NULL, "at" {ts} NOT NULL, "status_code" INTEGER, "error" TEXT NOT NULL, "duration_ms" INTEGER NOT NULL, FOREIGN KEY ("delivery_id") REFERENCES "webhook_delivery" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "webhook_attempt_delivery_id" ON "webhook_attempt" ("delivery_id")',
    'CREATE TABLE "contact_crm" ("id" {pk}, "contact_id" INTEGER NOT NULL, "data" TEXT NOT NULL, "fetched_at" {ts} NOT NULL, FOREIGN KEY ("contact_id") REFERENCES "contact" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "contact_crm_contact_id" ON "contact_crm" ("contact_id")',
]


def upgrade(db: pw.Database, dialect: str) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement.format(**TYPES[dialect]))
