"""The Telegram channel: a gateway process on python-telegram-bot (see gateway.py)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from callyard.config import Config

    from .gateway import TelegramGateway

# python-telegram-bot 22 warns on every time period given as int; opting in to its future
# behaviour (timedelta everywhere) keeps our code on the non-deprecated path.
os.environ.setdefault("PTB_TIMEDELTA", "1")


def from_config(config: Config) -> TelegramGateway | None:
    """The ``callyard.gateways`` entry point: a gateway only when a bot token is configured.

    Here, not in gateway.py: every ``callyard run`` asks whether the gateway is on, and importing
    python-telegram-bot to hear "no" cost each start 0.2 s of CPU."""
    telegram = config.channels.telegram
    if not telegram.token:
        return None
    from .gateway import TelegramGateway

    return TelegramGateway(telegram, poll_seconds=config.gateway.poll_seconds)
