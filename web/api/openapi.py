"""The OpenAPI 3.1 document, written from the route table and its pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import schemas
from .framework import INT_MAX, Api, Operation, is_int_param

REF = "#/components/schemas/{model}"
STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "Done; no content",
    400: "Invalid input: bad JSON, a wrong type, a missing or unknown field",
    401: "No token, or an unknown or revoked one",
    403: "This token's role may not do this",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "Request body too large (api.max_body_bytes)",
    415: "Body is not application/json",
    503: "Switched off by the configuration",
}
DESCRIPTION = """\
Callyard's REST API. Authenticate with a token: `Authorization: Bearer <token>`, created with
`callyard token create --role integrator|supervisor|admin` (shown once, stored hashed, revoked
with `callyard token revoke`). Each operation lists the roles that may call it (`x-roles`).

Errors are JSON: `{"error": {"error_id": "<stable code>", "message": "...", "details": {...}}}`.
Lists are paged newest first: pass the answer's `next_cursor` as `cursor` for the next page.

Webhook deliveries are POSTs of `{"id", "event", "created_at", "timestamp", "attempt", "data"}`
signed with HMAC-SHA256 of the raw body keyed by the subscription's secret
(`X-Callyard-Signature: sha256=<hex>`); refuse a body whose `timestamp` is old or differs from
`X-Callyard-Timestamp`, and dedupe by `id` (delivery is at least once).
"""


def document(api: Api, version: str) -> dict[str, Any]:
    models: list[tuple[type[BaseModel], str]] = [(schemas.Error, "serialization")]
    for op in api.operations:
        if op.body is not None:
            models.append((op.body, "validation"))
        if op.response is not None:
            models.append((op.response, "serialization"))
    refs, defs = models_json_schema(list(dict.fromkeys(models)), ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in api.operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Callyard API", "version": version, "description": DESCRIPTION},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(op: Operation, refs: dict[Any, Any]) -> dict[str, Any]:
    roles = ", ".join(op.roles)
    out: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "description": (op.description + "\n\n" if op.description else "") + f"Roles: {roles}.",
        "tags": [op.tag],
        "x-roles": list(op.roles),
        "parameters": [_path_param(name) for name in op.params] + _query_params(op),
        "responses": {},
    }
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
        }
    if op.status == 204:
        out["responses"]["204"] = {"description": STATUS_TEXT[204]}
    else:
        assert op.response is not None
        out["responses"][str(op.status)] = {
            "description": STATUS_TEXT[op.status],
            "content": {"application/json": {"schema": refs[(op.response, "serialization")]}},
        }
    error = refs[(schemas.Error, "serialization")]
    for status in op.error_statuses():
        out["responses"][str(status)] = {
            "description": STATUS_TEXT[status],
            "content": {"application/json": {"schema": error}},
        }
    return out


def _path_param(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = (
        {"type": "integer", "minimum": 1, "maximum": INT_MAX}
        if is_int_param(name)
        else {"type": "string", "pattern": r"^[A-Za-z0-9._-]{1,64}$"}
    )
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query_params(op: Operation) -> list[dict[str, Any]]:
    if op.query is None:
        return []
    schema = op.query.model_json_schema(ref_template=REF)
    required = set(schema.get("required", ()))
    params = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        # Optional parameters are simply left out of a query string; "null" is not a value there.
        if "anyOf" in prop:
            branches = [b for b in prop.pop("anyOf") if b.get("type") != "null"]
            prop.update(branches[0] if len(branches) == 1 else {"anyOf": branches})
        if prop.get("default") is None:
            prop.pop("default", None)
        description = prop.pop("description", None)
        param = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            param["description"] = description
        params.append(param)
    return params
