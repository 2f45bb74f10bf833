"""The OpenAPI document and a browsable page for it (Swagger UI, served from the installed
swagger-ui-py package: no CDN)."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Any

import swagger_ui
from flask import Blueprint, Response, jsonify, render_template, send_from_directory

from .framework import Api
from .openapi import document

SWAGGER_STATIC = Path(swagger_ui.__file__).parent / "static"
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css")


def blueprint(api: Api) -> Blueprint:
    bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")
    doc: dict[str, Any] = document(api, version("callyard"))

    @bp.get("/openapi.json")
    def openapi_json() -> Response:
        return jsonify(doc)

    @bp.get("/docs")
    def docs_page() -> str:
        return render_template("api_docs.html")

    @bp.get("/docs/swagger/<name>")
    def swagger_asset(name: str) -> Response:
        if name not in SWAGGER_FILES:
            return Response("not found", status=404, mimetype="text/plain")
        return send_from_directory(SWAGGER_STATIC, name, max_age=3600)

    return bp
