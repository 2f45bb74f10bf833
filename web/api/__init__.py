"""The REST API under ``/api/v1``: token auth, JSON in and out, an OpenAPI document that is
written from the same declarations that check the requests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from callyard.config import Config
from callyard.services import Services

from . import contacts, directory, docs, interactions, webhooks
from .framework import HTTP_ERROR_IDS, Api


def build_api() -> Api:
    api = Api()
    for module in (directory, contacts, interactions, webhooks):
        module.add_routes(api)
    return api


def init(app: Flask, services: Services, config: Config, adapters: Iterable[Any] = ()) -> Api:
    api = build_api()
    by_name = {getattr(a, "name", ""): a for a in adapters}
    bp = api.blueprint(services, config, by_name)
    app.register_blueprint(bp)
    app.register_blueprint(docs.blueprint(api))
    # Token requests carry no CSRF token: a token is not sent by a browser on its own, so a
    # forged cross-site request cannot use one (and session cookies do not count in the API).
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(bp)

    def api_not_routed(exc: HTTPException):  # noqa: ANN202
        """Unknown paths and methods under /api/ answer JSON like the rest of the API."""
        if not request.path.startswith("/api/"):
            return exc
        status = exc.code or 404
        message = "no such API path; see /api/v1/openapi.json" if status == 404 else exc.description
        return jsonify({"error": {"error_id": HTTP_ERROR_IDS[status], "message": message}}), status

    app.register_error_handler(404, api_not_routed)
    app.register_error_handler(405, api_not_routed)
    return api
