"""Simulated FreeSWITCH events: the envelope headers FreeSWITCH puts first on every event,
and the source location each event names (taken from the 1.10 transcripts)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

from .wire import Headers

CALLING: dict[str, tuple[str, str, int]] = {
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", 1572),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", 3846),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1689),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1879),
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", 626),
    "CHANNEL_DATA": ("mod_event_socket.c", "parse_command", 2021),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", 2944),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", 2967),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", 3445),
    "CHANNEL_HANGUP_COMPLETE": ("switch_core_state_machine.c", "switch_core_session_reporting_state", 943),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", 1002),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", 1213),
    "CHANNEL_HOLD": ("switch_channel.c", "switch_channel_perform_mark_hold", 2234),
    "CHANNEL_UNHOLD": ("switch_channel.c", "switch_channel_perform_mark_hold", 2236),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", 677),
    "PLAYBACK_START": ("switch_ivr_play_say.c", "switch_ivr_play_file", 1501),
    "PLAYBACK_STOP": ("switch_ivr_play_say.c", "switch_ivr_play_file", 2011),
    "RECORD_START": ("switch_ivr_async.c", "record_callback", 1313),
    "RECORD_STOP": ("switch_ivr_async.c", "record_callback", 1433),
    "CUSTOM:sofia::register": ("sofia_reg.c", "sofia_reg_handle_register_token", 2059),
    "CUSTOM:sofia::unregister": ("sofia_reg.c", "sofia_reg_handle_register_token", 2213),
}


class SimEvent:
    """One fired event. Its headers (a hundred-odd per channel event) are built when a listener
    first wants them, at fire time: most events a switch fires go to nobody (nobody subscribed),
    and building and encoding them all was most of the simulator's CPU under load."""

    __slots__ = ("name", "body", "subclass", "unique_id", "frames", "_headers", "_build")

    def __init__(
        self,
        name: str,
        headers: Headers | Callable[[], Headers],
        body: str | None = None,
        subclass: str = "",
        unique_id: str = "",
    ) -> None:
        self.name = name
        self.body = body
        self.subclass = subclass
        self.unique_id = unique_id
        # Its wire form per format, built once for all the listeners that want it.
        self.frames: dict[str, bytes] = {}
        self._headers: Headers | None = None if callable(headers) else headers
        self._build: Callable[[], Headers] | None = headers if callable(headers) else None

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            assert self._build is not None
            self._headers, self._build = self._build(), None
        return self._headers

    def get(self, key: str, default: str = "") -> str:
        if key == "Event-Name":  # what filters ask most: no need to build the headers for it
            return self.name
        for k, v in self.headers:
            if k == key:
                return v
        return default

    def __repr__(self) -> str:
        return f"SimEvent({self.name!r}, subclass={self.subclass!r}, unique_id={self.unique_id!r})"


class EventFactory:
    def __init__(self, core_uuid: str, hostname: str) -> None:
        self.core_uuid = core_uuid
        self.hostname = hostname
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    def sequence(self) -> int:
        """The next Event-Sequence (every fired event takes one, wanted or not, as in FreeSWITCH)."""
        with self._lock:
            return next(self._seq)

    def envelope(
        self, name: str, subclass: str = "", *, seq: int | None = None, now: float | None = None
    ) -> Headers:
        now = time.time() if now is None else now
        if seq is None:
            seq = self.sequence()
        where = CALLING.get(
            f"CUSTOM:{subclass}" if subclass else name, ("switch_event.c", "switch_event_fire", 1)
        )
        head: Headers = [("Event-Subclass", subclass)] if subclass else []
        return head + [
            ("Event-Name", name),
            ("Core-UUID", self.core_uuid),
            ("FreeSWITCH-Hostname", self.hostname),
            ("FreeSWITCH-Switchname", self.hostname),
            ("FreeSWITCH-IPv4", "127.0.0.1"),
            ("FreeSWITCH-IPv6", "::1"),
            ("Event-Date-Local", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))),
            ("Event-Date-GMT", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))),
            ("Event-Date-Timestamp", str(int(now * 1_000_000))),
            ("Event-Calling-File", where[0]),
            ("Event-Calling-Function", where[1]),
            ("Event-Calling-Line-Number", str(where[2])),
            ("Event-Sequence", str(seq)),
        ]
