"""The OpenAPI document matches the code: every API route is documented with its method, and
every documented operation is a route; schemas resolve; every operation says who may call it."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from callyard.web import api
from callyard.web.api import build_api
from callyard.web.api.openapi import document

DOC_ENDPOINTS = {"api_docs.openapi_json", "api_docs.docs_page", "api_docs.swagger_asset"}


@pytest.fixture
def app(services):  # noqa: ANN001, ANN201
    """A Flask app with just the API (the whole app would start Socket.IO on gevent, which the
    test process must not import)."""
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "test"
    api.init(app, services, services.config, [])
    return app


def routes(app) -> set[tuple[str, str]]:  # noqa: ANN001
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint in DOC_ENDPOINTS:
            continue
        assert rule.endpoint.startswith("api."), f"{rule.rule} is under /api/ but not in the API blueprint"
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found.add((method.lower(), path))
    return found


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_route_is_documented_and_every_documented_operation_is_a_route(app):  # noqa: ANN001
    client = app.test_client()
    doc = client.get("/api/v1/openapi.json").get_json()
    documented = {(method, path) for path, item in doc["paths"].items() for method in item}
    assert routes(app) == documented
    assert len(documented) >= 25


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_operations_name_roles_security_and_resolvable_schemas(app):  # noqa: ANN001
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', str(doc).replace("'", '"'))
    assert refs and all(ref in schemas for ref in refs)
    ids = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            ids.append(op["operationId"])
            assert set(op["x-roles"]) <= {"integrator", "supervisor", "admin"}, (method, path)
            assert "401" in op["responses"] and "403" in op["responses"]
            for status, response in op["responses"].items():
                if status != "204":
                    assert "application/json" in response["content"], (method, path, status)
            for param in op["parameters"]:
                if param["in"] == "path":
                    assert "{" + param["name"] + "}" in path
            if method in ("post", "put", "patch") and "requestBody" in op:
                assert {"400", "413", "415"} <= set(op["responses"])
    assert len(ids) == len(set(ids))
    assert doc["security"] == [{"bearerAuth": []}]


def test_request_bodies_refuse_unknown_fields_in_the_document_too():
    doc = document(build_api(), "0")
    for name, schema in doc["components"]["schemas"].items():
        if name.endswith(("Create", "Update")) or name in ("Assign", "Reply", "CustomerMessage", "Presence"):
            assert schema.get("additionalProperties") is False, name
