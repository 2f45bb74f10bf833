"""How a failed send to Telegram is handled: wait and retry, or give up visibly.

Telegram tells us when to retry (429 with ``retry_after``); a customer who blocked the bot or
deleted the chat will never receive anything, so retrying only delays telling the agent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from telegram import error as tg

#: Longest message text Telegram accepts; longer replies are sent in several parts.
MAX_TEXT = 4096


@dataclass(frozen=True)
class Failure:
    reason: str
    permanent: bool
    retry_after: float | None = None


def classify(exc: BaseException) -> Failure:
    if isinstance(exc, tg.RetryAfter):
        return Failure(
            f"Telegram rate limit: {exc.message}", permanent=False, retry_after=_seconds(exc.retry_after)
        )
    if isinstance(exc, tg.Forbidden):
        return Failure(f"the customer cannot be reached: {exc.message}", permanent=True)
    if isinstance(exc, tg.InvalidToken):
        # A configuration mistake: retry, so the messages go out once the token is fixed.
        return Failure("Telegram refused the bot token; check channels.telegram.token", permanent=False)
    if isinstance(exc, tg.ChatMigrated):
        return Failure(f"the chat moved to {exc.new_chat_id}", permanent=True)
    if isinstance(exc, tg.BadRequest):
        # chat not found, user deactivated, message empty or malformed: resending the same
        # request gets the same answer.
        return Failure(f"Telegram refused the message: {exc.message}", permanent=True)
    if isinstance(exc, tg.TimedOut | tg.NetworkError):
        return Failure(f"Telegram did not answer: {exc}", permanent=False)
    return Failure(f"{type(exc).__name__}: {exc}", permanent=False)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut a long reply into parts Telegram accepts, preferring line breaks, then spaces."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = rest.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut])
        rest = rest[cut:].lstrip("\n ")
    if rest or not parts:
        parts.append(rest)
    return parts


def _seconds(value: int | dt.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
