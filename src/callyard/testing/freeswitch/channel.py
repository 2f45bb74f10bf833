"""A simulated call leg: its caller profile, state, variables and the headers FreeSWITCH
puts on every event about it (``switch_channel_event_set_data``), in FreeSWITCH's order."""

from __future__ import annotations

import queue
import threading
import time
import uuid as uuidlib
from dataclasses import dataclass, field

from .wire import Headers

STATE_NUMBERS = {
    "CS_NEW": 0,
    "CS_INIT": 2,
    "CS_ROUTING": 3,
    "CS_EXECUTE": 4,
    "CS_EXCHANGE_MEDIA": 5,
    "CS_PARK": 6,
    "CS_CONSUME_MEDIA": 7,
    "CS_HANGUP": 10,
    "CS_REPORTING": 11,
}
TIME_FIELDS = (
    "Profile-Created-Time",
    "Channel-Created-Time",
    "Channel-Answered-Time",
    "Channel-Progress-Time",
    "Channel-Progress-Media-Time",
    "Channel-Hangup-Time",
    "Channel-Transfer-Time",
    "Channel-Resurrect-Time",
    "Channel-Bridged-Time",
    "Channel-Last-Hold",
    "Channel-Hold-Accum",
)


def now_us() -> int:
    return int(time.time() * 1_000_000)


@dataclass
class Profile:
    caller_id_name: str = ""
    caller_id_number: str = "0000000000"
    callee_id_name: str = ""
    callee_id_number: str = ""
    destination: str = ""
    context: str = "public"
    source: str = "mod_sofia"
    dialplan: str = "XML"
    username: str = ""
    network_addr: str = ""
    direction: str = "inbound"
    logical_direction: str = "inbound"


@dataclass
class Channel:
    name: str
    direction: str
    profile: Profile
    uuid: str = field(default_factory=lambda: str(uuidlib.uuid4()))
    state: str = "CS_INIT"
    state_number: int = 2
    call_state: str = "DOWN"
    answer_state: str = "ringing"
    hangup_cause: str = ""
    presence_id: str = ""
    hit_dialplan: bool = True
    codecs: bool = False
    created_us: int = field(default_factory=now_us)
    answered_us: int = 0
    bridged_us: int = 0
    hangup_us: int = 0
    last_hold_us: int = 0
    hold_accum_us: int = 0
    held: bool = False
    variables: dict[str, str] = field(default_factory=dict)
    other: Channel | None = None
    other_type: str = ""
    application: str = ""
    application_data: str = ""
    # What the channel is doing: applications queued by the controlling socket, and the
    # signals that interrupt the one running (uuid_break, hangup, an incoming bridge).
    apps: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    interrupt: threading.Event = field(default_factory=threading.Event)
    hungup: threading.Event = field(default_factory=threading.Event)
    dtmf: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    bridged: threading.Event = field(default_factory=threading.Event)
    app_done: threading.Event = field(default_factory=threading.Event)
    destroyed: threading.Event = field(default_factory=threading.Event)
    on_hangup: list = field(default_factory=list)
    on_destroy: list = field(default_factory=list)
    recordings: list = field(default_factory=list)
    # Seconds of audio each recording file holds so far, so a recording appended to (the
    # RECORD_APPEND channel variable) grows instead of starting again.
    recorded_seconds: dict = field(default_factory=dict)
    executing: bool = False

    def __post_init__(self) -> None:
        base = {
            "direction": self.direction,
            "uuid": self.uuid,
            "session_id": "1",
            "channel_name": self.name,
        }
        self.variables = {**base, **self.variables}
        self.app_done.set()

    @property
    def alive(self) -> bool:
        return not self.hungup.is_set()

    def set_state(self, state: str, number: int | None = None) -> None:
        self.state = state
        self.state_number = STATE_NUMBERS[state] if number is None else number

    def headers(self, *, with_variables: bool = True) -> Headers:
        p = self.profile
        h: Headers = [
            ("Channel-State", self.state),
            ("Channel-Call-State", self.call_state),
            ("Channel-State-Number", str(self.state_number)),
            ("Channel-Name", self.name),
            ("Unique-ID", self.uuid),
            ("Call-Direction", self.direction),
            ("Presence-Call-Direction", self.direction),
            ("Channel-HIT-Dialplan", "true" if self.hit_dialplan else "false"),
        ]
        if self.presence_id:
            h.append(("Channel-Presence-ID", self.presence_id))
        h += [("Channel-Call-UUID", self.uuid), ("Answer-State", self.answer_state)]
        if self.hangup_cause:
            h.append(("Hangup-Cause", self.hangup_cause))
        if self.codecs:
            for side in ("Read", "Write"):
                h += [
                    (f"Channel-{side}-Codec-Name", "PCMU"),
                    (f"Channel-{side}-Codec-Rate", "8000"),
                    (f"Channel-{side}-Codec-Bit-Rate", "64000"),
                ]
        h += self.profile_headers("Caller", p, index=True)
        if self.other is not None and self.other_type:
            h.append(("Other-Type", self.other_type))
            h += self.other.profile_headers("Other-Leg", self.other.profile, index=False)
        if with_variables:
            h += [(f"variable_{k}", v) for k, v in self.variables.items()]
        return h

    def profile_headers(self, prefix: str, p: Profile, *, index: bool) -> Headers:
        h: Headers = [
            (f"{prefix}-Direction", p.direction),
            (f"{prefix}-Logical-Direction", p.logical_direction),
        ]
        if p.username:
            h.append((f"{prefix}-Username", p.username))
        h.append((f"{prefix}-Dialplan", p.dialplan))
        optional = [
            ("Caller-ID-Name", p.caller_id_name),
            ("Caller-ID-Number", p.caller_id_number),
            ("Orig-Caller-ID-Name", p.caller_id_name),
            ("Orig-Caller-ID-Number", p.caller_id_number),
            ("Callee-ID-Name", p.callee_id_name),
            ("Callee-ID-Number", p.callee_id_number),
            ("Network-Addr", p.network_addr),
            ("ANI", p.caller_id_number),
            ("Destination-Number", p.destination),
            ("Unique-ID", self.uuid),
            ("Source", p.source),
            ("Context", p.context),
            ("Channel-Name", self.name),
        ]
        h += [(f"{prefix}-{k}", v) for k, v in optional if v]
        if index:
            h.append((f"{prefix}-Profile-Index", "1"))
        times = (
            self.created_us,
            self.created_us,
            self.answered_us,
            0,
            0,
            self.hangup_us,
            0,
            0,
            self.bridged_us,
            self.last_hold_us,
            self.hold_accum_us,
        )
        h += [(f"{prefix}-{k}", str(v)) for k, v in zip(TIME_FIELDS, times, strict=True)]
        h += [
            (f"{prefix}-Screen-Bit", "true"),
            (f"{prefix}-Privacy-Hide-Name", "false"),
            (f"{prefix}-Privacy-Hide-Number", "false"),
        ]
        return h

    def show_row(self, hostname: str) -> dict[str, str]:
        """The channel as one row of ``show channels as json``."""
        p = self.profile
        created = self.created_us // 1_000_000
        return {
            "uuid": self.uuid,
            "direction": self.direction,
            "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created)),
            "created_epoch": str(created),
            "name": self.name,
            "state": self.state,
            "cid_name": p.caller_id_name,
            "cid_num": p.caller_id_number,
            "ip_addr": p.network_addr,
            "dest": p.destination,
            "application": self.application,
            "application_data": self.application_data,
            "dialplan": p.dialplan,
            "context": p.context,
            "read_codec": "PCMU" if self.codecs else "",
            "read_rate": "8000" if self.codecs else "",
            "read_bit_rate": "64000" if self.codecs else "",
            "write_codec": "PCMU" if self.codecs else "",
            "write_rate": "8000" if self.codecs else "",
            "write_bit_rate": "64000" if self.codecs else "",
            "secure": "",
            "hostname": hostname,
            "presence_id": self.presence_id,
            "presence_data": "",
            "accountcode": "",
            "callstate": self.call_state,
            "callee_name": p.callee_id_name,
            "callee_num": p.callee_id_number,
            "callee_direction": "",
            "call_uuid": self.uuid,
            "sent_callee_name": "",
            "sent_callee_num": "",
            "initial_cid_name": p.caller_id_name,
            "initial_cid_num": p.caller_id_number,
            "initial_ip_addr": p.network_addr,
            "initial_dest": p.destination,
            "initial_dialplan": p.dialplan,
            "initial_context": p.context,
        }
