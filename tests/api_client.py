"""A small REST client for the tests: a token, the base URL, and JSON in and out."""

from __future__ import annotations

from typing import Any

import requests

from harness import WAIT, Server


def create_token(server: Server, role: str, name: str = "") -> str:
    result = server.cli("token", "create", "--role", role, *(["--name", name] if name else []))
    return result.stdout.strip()


class Api:
    def __init__(self, base: str, token: str | None) -> None:
        self.base = base.rstrip("/") + "/api/v1"
        self.http = requests.Session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        if body is not None:
            kwargs["json"] = body
        return self.http.request(method, self.base + path, timeout=WAIT, **kwargs)

    def ok(self, method: str, path: str, body: Any = None, status: int | None = None, **kwargs: Any) -> Any:
        response = self.call(method, path, body, **kwargs)
        expected = status or (201 if method == "POST" and response.status_code == 201 else 200)
        assert response.status_code == expected, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def error(self, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        response = self.call(method, path, body, **kwargs)
        assert response.headers["Content-Type"].startswith("application/json"), response.text
        return response.status_code, response.json()["error"]
