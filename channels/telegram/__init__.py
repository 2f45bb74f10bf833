"""The Telegram channel: a gateway process on python-telegram-bot (see gateway.py)."""

import os

# python-telegram-bot 22 warns on every time period given as int; opting in to its future
# behaviour (timedelta everywhere) keeps our code on the non-deprecated path.
os.environ.setdefault("PTB_TIMEDELTA", "1")
