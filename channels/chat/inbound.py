"""Widget payloads in, domain values out; visitor tokens made and checked. No I/O here.

A visitor token is the visitor's id signed with the server's secret (itsdangerous, as Flask
uses for its sessions). A forged or altered token fails the signature check; nothing has to
be stored for a visitor until they send their first message.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from callyard.errors import InvalidInput
from callyard.services.interactions import check_body

from .errors import InvalidVisitorToken

_SALT = "callyard.chat.visitor"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class ChatMessage:
    text: str
    # The widget's own id for the message, so a resend after a reconnect is stored once.
    client_id: str


class VisitorTokens:
    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeSerializer(secret_key, salt=_SALT)

    def issue(self) -> tuple[str, str]:
        """A new visitor id and its token."""
        visitor = secrets.token_urlsafe(18)
        return visitor, self._serializer.dumps(visitor)

    def verify(self, token: Any) -> str:
        """The visitor id inside a token, or InvalidVisitorToken."""
        if not isinstance(token, str) or not token or len(token) > 200:
            raise InvalidVisitorToken("this chat session is not valid; start a new one")
        try:
            visitor = self._serializer.loads(token)
        except BadSignature:
            raise InvalidVisitorToken("this chat session is not valid; start a new one") from None
        if not isinstance(visitor, str):
            raise InvalidVisitorToken("this chat session is not valid; start a new one")
        return visitor


def parse_message(data: Any, max_bytes: int) -> ChatMessage:
    if not isinstance(data, dict):
        raise InvalidInput("send an object with text and client_id", error_id="invalid-message")
    client_id = data.get("client_id")
    if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
        raise InvalidInput("client_id must be 1-64 letters, digits, '-' or '_'", error_id="invalid-message")
    text = data.get("text")
    if not isinstance(text, str):
        raise InvalidInput("text must be a string", error_id="invalid-message")
    return ChatMessage(check_body(text, max_bytes), client_id)
