"""Errors of the voice channel, translated at the FreeSWITCH boundary."""

from __future__ import annotations

from callyard.errors import CallyardError, Conflict


class FreeSwitchUnreachable(CallyardError):
    """No connection to the FreeSWITCH node (down, restarting, or a broken event socket)."""

    status = 503
    error_id = "freeswitch-unreachable"


class CallGone(Conflict):
    """The call is not on FreeSWITCH any more."""

    error_id = "call-gone"
