"""/webhooks: subscriptions per event type, and the log of their deliveries."""

from __future__ import annotations

from typing import Any

from callyard.services.webhook_payloads import subscription_dict

from . import roles, schemas
from .framework import Api, Call


def add_routes(api: Api) -> None:
    @api.route("GET", "/webhooks", tag="webhooks", roles=roles.INTEGRATE, response=schemas.WebhookList)
    def list_webhooks(call: Call) -> dict[str, Any]:
        """Every webhook subscription (secrets are not shown again)."""
        assert call.services.webhooks is not None
        return {"items": [subscription_dict(s) for s in call.services.webhooks.list()]}

    @api.route(
        "POST",
        "/webhooks",
        tag="webhooks",
        roles=roles.INTEGRATE,
        body=schemas.WebhookCreate,
        response=schemas.WebhookCreated,
        status=201,
    )
    def create_webhook(call: Call) -> dict[str, Any]:
        """Subscribe a URL to event types. The answer holds the signing secret, shown only now.
        Every delivery is a POST of JSON signed with HMAC-SHA256 of the body
        (`X-Callyard-Signature: sha256=<hex>`); the body's `timestamp` equals
        `X-Callyard-Timestamp`: refuse old ones to stop replays. Deliveries are retried with
        exponential backoff until a 2xx; an endpoint that keeps failing is disabled."""
        body: schemas.WebhookCreate = call.body
        assert call.services.webhooks is not None
        sub = call.services.webhooks.subscribe(body.url, list(body.events), body.description)
        return {**subscription_dict(sub), "secret": sub.secret}

    @api.route(
        "GET", "/webhooks/{webhook_id}", tag="webhooks", roles=roles.INTEGRATE, response=schemas.WebhookOut
    )
    def get_webhook(call: Call, webhook_id: int) -> dict[str, Any]:
        """Read one subscription: is it enabled, how many attempts failed in a row, and why it was disabled."""
        assert call.services.webhooks is not None
        return subscription_dict(call.services.webhooks.get(webhook_id))

    @api.route(
        "PATCH",
        "/webhooks/{webhook_id}",
        tag="webhooks",
        roles=roles.INTEGRATE,
        body=schemas.WebhookUpdate,
        response=schemas.WebhookOut,
    )
    def update_webhook(call: Call, webhook_id: int) -> dict[str, Any]:
        """Change a subscription; `enabled: true` turns a disabled one back on."""
        body: schemas.WebhookUpdate = call.body
        assert call.services.webhooks is not None
        sub = call.services.webhooks.update(
            webhook_id,
            url=body.url,
            events=list(body.events) if body.events is not None else None,
            description=body.description,
            enabled=body.enabled,
        )
        return subscription_dict(sub)

    @api.route("DELETE", "/webhooks/{webhook_id}", tag="webhooks", roles=roles.INTEGRATE, status=204)
    def delete_webhook(call: Call, webhook_id: int) -> None:
        """Remove a subscription; its waiting deliveries are dropped."""
        assert call.services.webhooks is not None
        call.services.webhooks.remove(webhook_id)

    @api.route(
        "GET",
        "/webhooks/{webhook_id}/deliveries",
        tag="webhooks",
        roles=roles.INTEGRATE,
        query=schemas.PageQuery,
        response=schemas.DeliveryPage,
    )
    def list_webhook_deliveries(call: Call, webhook_id: int) -> dict[str, Any]:
        """The subscription's deliveries, newest first, each with every attempt (status, error, time)."""
        q: schemas.PageQuery = call.query
        assert call.services.webhooks is not None
        items = call.services.webhooks.deliveries(webhook_id, limit=q.limit + 1, before=q.cursor)
        more = len(items) > q.limit
        items = items[: q.limit]
        return {"items": items, "next_cursor": items[-1]["id"] if more and items else None}
