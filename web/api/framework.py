"""A small route table for ``/api/v1``.

Each operation declares who may call it (token roles) and the pydantic models of its query,
body and answer. The same declaration checks every request, shapes every answer and writes the
OpenAPI document (``openapi.py``), so the document cannot drift from the code.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from callyard.config import Config
from callyard.errors import CallyardError, Forbidden, InvalidInput, NotFound, Unauthorized
from callyard.models import ApiToken
from callyard.services import Services

log = logging.getLogger(__name__)

INT_MAX = 2**31 - 1
PARAM_RE = re.compile(r"{(\w+)}")
# Strings that no database column can hold: NUL, and halves of UTF-16 pairs (JSON's \ud800).
BAD_TEXT_RE = re.compile("[\x00\ud800-\udfff]")


class BodyTooLarge(CallyardError):
    status = 413
    error_id = "body-too-large"


class UnsupportedMediaType(CallyardError):
    status = 415
    error_id = "unsupported-media-type"


class InvalidToken(Unauthorized):
    error_id = "invalid-token"


HTTP_ERROR_IDS = {
    400: "bad-request",
    404: "not-found",
    405: "method-not-allowed",
    413: "body-too-large",
    415: "unsupported-media-type",
}


@dataclass
class Call:
    """One API request, as a handler sees it: who asks, and what they sent, already checked."""

    services: Services
    config: Config
    adapters: dict[str, Any]
    token: ApiToken
    body: Any = None
    query: Any = None

    @property
    def who(self) -> str:
        return f"API token {self.token.name!r} ({self.token.role})"


@dataclass
class Operation:
    method: str
    path: str  # OpenAPI style: /interactions/{interaction_id}
    handler: Callable[..., Any]
    summary: str
    tag: str
    roles: tuple[str, ...]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    description: str = ""

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    @property
    def params(self) -> list[str]:
        return PARAM_RE.findall(self.path)

    @property
    def flask_rule(self) -> str:
        return PARAM_RE.sub(r"<\1>", self.path)

    def error_statuses(self) -> list[int]:
        out = {401, 403, *self.errors}
        if self.body is not None or self.query is not None:
            out.add(400)
        if self.body is not None:
            out |= {413, 415}
        if self.params:
            out.add(404)
        return sorted(out)


def is_int_param(name: str) -> bool:
    return name.endswith("_id")


@dataclass
class Api:
    operations: list[Operation] = field(default_factory=list)

    def route(
        self, method: str, path: str, **options: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(handler: Callable[..., Any]) -> Callable[..., Any]:
            summary, _, description = (handler.__doc__ or "").strip().partition("\n")
            self.operations.append(
                Operation(
                    method=method,
                    path=path,
                    handler=handler,
                    summary=summary.strip(),
                    description=description.strip(),
                    **options,
                )
            )
            return handler

        return register

    def blueprint(self, services: Services, config: Config, adapters: dict[str, Any]) -> Blueprint:
        bp = Blueprint("api", __name__, url_prefix="/api/v1")
        for op in self.operations:
            bp.add_url_rule(
                op.flask_rule,
                endpoint=op.operation_id,
                view_func=_view(op, services, config, adapters),
                methods=[op.method],
            )
        limit = config.api.max_body_bytes

        @bp.before_request
        def limit_body() -> None:
            # Also bounds chunked bodies, which have no Content-Length to check up front.
            request.max_content_length = limit
            if request.content_length is not None and request.content_length > limit:
                raise BodyTooLarge(f"the request body can be at most {limit} bytes", max_bytes=limit)

        bp.register_error_handler(CallyardError, error_response)
        bp.register_error_handler(HTTPException, http_error_response)
        bp.register_error_handler(Exception, internal_error_response)
        return bp


def _view(op: Operation, services: Services, config: Config, adapters: dict[str, Any]) -> Callable[..., Any]:
    def view(**path: str) -> Response | tuple[Response, int]:
        token = authenticate(services)
        if token.role not in op.roles:
            raise Forbidden(
                f"a {token.role} token may not do this; it needs one of: {', '.join(op.roles)}",
                error_id="forbidden",
                roles=list(op.roles),
            )
        args = {name: _path_value(name, value) for name, value in path.items()}
        call = Call(services, config, adapters, token)
        call.query = _query(op)
        if op.body is not None:
            call.body = validate(op.body, read_json(), "body")
        result = op.handler(call, **args)
        if op.status == 204:
            return Response(status=204)
        assert op.response is not None
        model = result if isinstance(result, op.response) else op.response.model_validate(result)
        return jsonify(model.model_dump(mode="json")), op.status

    view.__name__ = op.operation_id
    return view


def authenticate(services: Services) -> ApiToken:
    """The token of ``Authorization: Bearer <token>``. Session cookies do not count here: the
    API takes no CSRF token, so a browser's ambient cookie must not act on it."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if not header:
        raise Unauthorized(
            "send an API token: Authorization: Bearer <token> (create one with `callyard token create`)"
        )
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("use the Bearer scheme: Authorization: Bearer <token>")
    assert services.tokens is not None
    token = services.tokens.authenticate(secret.strip())
    if token is None:
        raise InvalidToken("this API token is not valid (unknown or revoked)")
    return token


def _path_value(name: str, value: str) -> int | str:
    if is_int_param(name):
        if not value.isdigit() or len(value) > 10 or not 1 <= int(value) <= INT_MAX:
            raise NotFound(
                f"{name} must be a positive integer; {value!r} names nothing", error_id="not-found"
            )
        return int(value)
    if BAD_TEXT_RE.search(value) or len(value) > 255:
        raise NotFound(f"{value!r} names nothing", error_id="not-found")
    return value


def _query(op: Operation) -> Any:
    args = request.args
    if op.query is None:
        if args:
            raise InvalidInput(
                f"unknown query parameter {next(iter(args))!r}; this endpoint takes none",
                error_id="unknown-field",
            )
        return None
    repeated = [key for key in args if len(args.getlist(key)) > 1]
    if repeated:
        raise InvalidInput(
            f"query parameter {repeated[0]!r} is given more than once", error_id="invalid-input"
        )
    values = args.to_dict()
    check_text(values, "query")
    return validate(op.query, values, "query")


def read_json() -> Any:
    mimetype = request.mimetype
    if mimetype != "application/json":
        raise UnsupportedMediaType(
            f"send JSON with Content-Type: application/json (got {mimetype or 'none'!r})"
        )
    raw = _body_bytes()
    if not raw.strip():
        raise InvalidInput("the request needs a JSON body", error_id="invalid-json")
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}"[:300], error_id="invalid-json") from None
    check_text(data, "body")
    return data


def _body_bytes() -> bytes:
    """The raw body, at most ``request.max_content_length`` bytes. A chunked body has no length
    to check up front; werkzeug would cut it off silently at the limit, so it is read here."""
    limit = request.max_content_length
    if request.content_length is not None or limit is None:
        return request.get_data(cache=False)
    stream = request.environ.get("wsgi.input")
    if stream is None or not request.environ.get("wsgi.input_terminated"):
        return b""
    data = bytearray()
    while len(data) <= limit:
        chunk = stream.read(min(65536, limit + 1 - len(data)))
        if not chunk:
            break
        data += chunk
    if len(data) > limit:
        raise BodyTooLarge(f"the request body can be at most {limit} bytes", max_bytes=limit)
    return bytes(data)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def check_text(value: Any, where: str, depth: int = 0) -> None:
    """Refuse strings no column can store, anywhere in the input."""
    if isinstance(value, str):
        if BAD_TEXT_RE.search(value):
            raise InvalidInput(
                f"{where}: text may not contain NUL characters or unpaired surrogates",
                error_id="invalid-text",
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, where, depth + 1)
            check_text(item, where, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_text(item, where, depth + 1)


def validate(model: type[BaseModel], data: Any, where: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(exc, where) from None


def invalid(exc: ValidationError, where: str) -> InvalidInput:
    errors = [
        {
            "field": ".".join(str(part) for part in e["loc"]) or where,
            "message": e["msg"],
            "type": e["type"],
        }
        for e in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    unknown = all(e["type"] == "extra_forbidden" for e in errors)
    first = errors[0]
    message = (
        f"{where}: unknown field {first['field']!r}"
        if unknown
        else f"{where}: {first['field']}: {first['message']}"
    )
    return InvalidInput(message, error_id="unknown-field" if unknown else "invalid-input", errors=errors[:20])


def error_response(exc: CallyardError) -> tuple[Response, int]:
    response = jsonify({"error": exc.to_dict()})
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="callyard"'
    return response, exc.status


def http_error_response(exc: HTTPException) -> tuple[Response, int]:
    status = exc.code or 500
    error_id = HTTP_ERROR_IDS.get(status, "http-error")
    message = exc.description or exc.name
    if status == 413:
        message = "the request body is too large"
    return jsonify({"error": {"error_id": error_id, "message": message}}), status


def internal_error_response(exc: Exception) -> tuple[Response, int]:
    if isinstance(exc, HTTPException):
        return http_error_response(exc)
    log.error("API request %s %s failed", request.method, request.path, exc_info=exc)
    return jsonify(
        {
            "error": {
                "error_id": "internal-error",
                "message": "something went wrong on our side; see the server log",
            }
        }
    ), 500
