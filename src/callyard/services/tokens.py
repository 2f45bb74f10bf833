"""REST API tokens: created with a role, shown once, stored as a hash, revocable."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from ..clock import Clock
from ..errors import InvalidInput, NotFound
from ..models import TOKEN_ROLES, ApiToken
from ..store import Store

TOKEN_PREFIX = "cya_"  # noqa: S105 - a marker, not a secret
# A token in use is marked at most this often, so reads do not turn into writes.
TOUCH_EVERY = dt.timedelta(seconds=60)


def token_hash(token: str) -> str:
    # Tokens are 256 random bits: a fast hash is enough (nothing to brute-force), and it lets
    # the lookup be one indexed query.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def create(self, name: str, role: str) -> tuple[ApiToken, str]:
        """A new token and its secret; the secret is not stored and cannot be shown again."""
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise InvalidInput("a token needs a name of 1-100 characters", error_id="invalid-token-name")
        if role not in TOKEN_ROLES:
            raise InvalidInput(
                f"role {role!r} is not one of {', '.join(TOKEN_ROLES)}", error_id="invalid-role"
            )
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._store.atomic():
            token = ApiToken.create(
                name=name,
                role=role,
                prefix=secret[:12],
                token_hash=token_hash(secret),
                created_at=self._clock(),
            )
        return token, secret

    def authenticate(self, secret: str) -> ApiToken | None:
        """The live token with this secret, or None (unknown or revoked)."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        token = ApiToken.get_or_none(ApiToken.token_hash == token_hash(secret))
        if token is None or token.revoked_at is not None:
            return None
        now = self._clock()
        if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
            ApiToken.update(last_used_at=now).where(ApiToken.id == token.id).execute()
        return token

    def list(self) -> list[ApiToken]:
        return list(ApiToken.select().order_by(ApiToken.id))

    def revoke(self, token_id: int) -> ApiToken:
        with self._store.atomic():
            token = ApiToken.get_or_none(ApiToken.id == token_id)
            if token is None:
                raise NotFound(
                    f"no token with id {token_id}; see `callyard token list`", error_id="token-not-found"
                )
            if token.revoked_at is None:
                ApiToken.update(revoked_at=self._clock()).where(ApiToken.id == token_id).execute()
        return ApiToken.get_by_id(token_id)
