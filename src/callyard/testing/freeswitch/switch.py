"""The simulated switch: channels, events to listeners, the api commands and the
dialplan applications the Callyard controller uses, with FreeSWITCH's replies."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid as uuidlib
from collections.abc import Callable
from typing import Protocol

from . import apps
from .channel import Channel, Profile, now_us
from .events import EventFactory, SimEvent
from .scripts import Caller, Phone
from .wire import Headers

log = logging.getLogger(__name__)

HANGUP_Q850 = {
    "NORMAL_CLEARING": "16",
    "ORIGINATOR_CANCEL": "487",
    "NO_ANSWER": "19",
    "USER_BUSY": "17",
    "NO_USER_RESPONSE": "18",
    "CALL_REJECTED": "21",
    "DESTINATION_OUT_OF_ORDER": "27",
    "MANAGER_REQUEST": "503",
}
DIAL_VARS = re.compile(r"^(?:\{([^}]*)\}|\[([^\]]*)\])?(.*)$")


class Listener(Protocol):
    def offer(self, event: SimEvent) -> None: ...


class Switch:
    def __init__(
        self,
        *,
        hostname: str = "sim",
        playback_seconds: float = 0.02,
        recordings_dir: str | None = None,
    ) -> None:
        self.hostname = hostname
        self.core_uuid = str(uuidlib.uuid4())
        self.factory = EventFactory(self.core_uuid, hostname)
        self.playback_seconds = playback_seconds
        self.recordings_dir = recordings_dir
        self.started = time.time()
        self.lock = threading.RLock()
        self.channels: dict[str, Channel] = {}
        self.listeners: set[Listener] = set()
        # Outbound sockets hear only their own channel's events: offering every event to every
        # call's socket made delivery quadratic in the calls up.
        self.channel_listeners: dict[str, set[Listener]] = {}
        self._heard_on: dict[Listener, str] = {}
        self.phones: dict[str, Phone] = {}
        self.callers: dict[str, Caller] = {}
        self.sessions_total = 0
        # Hooks for the scripted people and for measurements: (channel, app, data).
        self.on_app_start: list[Callable[[Channel, str, str], None]] = []
        self.on_api: list[Callable[[str, str], None]] = []
        # api commands (by name) before which the event socket breaks, once each: a connection
        # lost just as a command went out, the command never run.
        self.cut_before: set[str] = set()
        self.events_fired = 0
        self.events_delivered = 0

    # -- events ----------------------------------------------------------------------------

    def fire(
        self,
        name: str,
        channel: Channel | None = None,
        *,
        before: Headers | None = None,
        after: Headers | None = None,
        body: str | None = None,
        subclass: str = "",
        variables: bool = True,
    ) -> None:
        seq, now = self.factory.sequence(), time.time()

        def build() -> Headers:
            # Called (at most once) while the listeners below are offered the event, so the
            # channel's headers are as they are now, at fire time.
            headers = self.factory.envelope(name, subclass, seq=seq, now=now) + list(before or [])
            if channel is not None:
                headers += channel.headers(with_variables=variables)
            return headers + list(after or [])

        event = SimEvent(name, build, body, subclass, channel.uuid if channel else "")
        with self.lock:
            listeners = list(self.listeners)
            if channel is not None and channel.uuid in self.channel_listeners:
                listeners += self.channel_listeners[channel.uuid]
            self.events_fired += 1
        for listener in listeners:
            try:
                listener.offer(event)
            except Exception:  # one broken connection must not stop the switch
                log.exception("delivering %s failed", name)

    def listen(self, listener: Listener, uuid: str | None = None) -> None:
        """Offer ``listener`` the events of channel ``uuid`` (None: of every channel)."""
        with self.lock:
            self._forget(listener)
            if uuid is None:
                self.listeners.add(listener)
            else:
                self.channel_listeners.setdefault(uuid, set()).add(listener)
                self._heard_on[listener] = uuid

    def unlisten(self, listener: Listener) -> None:
        with self.lock:
            self._forget(listener)

    def _forget(self, listener: Listener) -> None:
        self.listeners.discard(listener)
        uuid = self._heard_on.pop(listener, None)
        heard = self.channel_listeners.get(uuid or "")
        if heard is not None:
            heard.discard(listener)
            if not heard:
                del self.channel_listeners[uuid or ""]

    # -- channels --------------------------------------------------------------------------

    def new_channel(self, name: str, direction: str, profile: Profile, uuid: str | None = None) -> Channel:
        channel = Channel(name=name, direction=direction, profile=profile)
        if uuid:
            channel.uuid = uuid
            channel.variables["uuid"] = uuid
        with self.lock:
            self.channels[channel.uuid] = channel
            self.sessions_total += 1
        self.fire("CHANNEL_CREATE", channel)
        return channel

    def get(self, uuid: str) -> Channel | None:
        with self.lock:
            channel = self.channels.get(uuid)
        return channel if channel is not None and channel.alive else None

    def answer(self, channel: Channel) -> None:
        if channel.answered_us or not channel.alive:
            return
        channel.answered_us = now_us()
        channel.answer_state = "answered"
        channel.call_state = "ACTIVE"
        channel.codecs = True
        channel.variables["endpoint_disposition"] = "ANSWER"
        self.fire("CHANNEL_ANSWER", channel)

    def hangup(self, channel: Channel, cause: str = "NORMAL_CLEARING") -> bool:
        with self.lock:
            if channel.hungup.is_set():
                return False
            channel.hungup.set()
        channel.hangup_cause = cause
        channel.answer_state = "hangup"
        channel.set_state(channel.state, 10)
        channel.variables["hangup_cause"] = cause
        channel.variables["hangup_cause_q850"] = HANGUP_Q850.get(cause, "16")
        self.fire("CHANNEL_HANGUP", channel)
        channel.interrupt.set()
        channel.apps.put(None)
        other = channel.other
        if other is not None:
            self.unbridge(channel, other)
            if other.alive and other.variables.get("park_after_bridge") != "true":
                self.hangup(other, cause)
        apps.stop_recordings(self, channel)
        # The running application ends, then the session reports and goes away.
        threading.Thread(target=self._reap, args=(channel,), daemon=True, name="fs-reap").start()
        return True

    def _reap(self, channel: Channel) -> None:
        channel.app_done.wait(timeout=2)
        for hook in list(channel.on_hangup):
            hook(channel)
        channel.hangup_us = now_us()
        channel.set_state("CS_REPORTING")
        channel.call_state = "HANGUP"
        v = channel.variables
        start = channel.created_us
        answered = channel.answered_us
        v["duration"] = str((channel.hangup_us - start) // 1_000_000)
        v["billsec"] = str((channel.hangup_us - answered) // 1_000_000 if answered else 0)
        v["answer_epoch"] = str(answered // 1_000_000)
        v["start_epoch"] = str(start // 1_000_000)
        v["end_epoch"] = str(channel.hangup_us // 1_000_000)
        v["hold_accum_seconds"] = str(channel.hold_accum_us // 1_000_000)
        self.fire("CHANNEL_HANGUP_COMPLETE", channel, before=[("Hangup-Cause", channel.hangup_cause)])
        for hook in list(channel.on_destroy):
            hook(channel)
        with self.lock:
            self.channels.pop(channel.uuid, None)
        channel.destroyed.set()

    def bridge(self, a: Channel, b: Channel) -> None:
        for leg in (a, b):
            if leg.other is not None and leg.other is not (b if leg is a else a):
                self.unbridge(leg, leg.other)
            leg.interrupt.set()
        a.other, b.other = b, a
        a.other_type, b.other_type = "originatee", "originator"
        stamp = now_us()
        a.bridged_us = b.bridged_us = stamp
        a.variables["bridge_uuid"] = b.uuid
        b.variables["bridge_uuid"] = a.uuid
        a.variables["signal_bond"] = b.uuid
        a.bridged.set()
        b.bridged.set()
        ids = [("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)]
        self.fire("CHANNEL_BRIDGE", a, before=ids)

    def unbridge(self, a: Channel, b: Channel) -> None:
        with self.lock:
            if a.other is not b:
                return
            a.other = b.other = None
        a.bridged.clear()
        b.bridged.clear()
        ids = [("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)]
        a.other, a.other_type = b, "originatee"
        event_leg = a
        self.fire("CHANNEL_UNBRIDGE", event_leg, before=ids)
        a.other, a.other_type = None, ""
        b.other_type = ""

    # -- calls from the outside ------------------------------------------------------------

    def incoming(self, caller: Caller, uuid: str | None = None) -> Channel:
        """A caller dials in: their channel, ringing, about to run the dialplan's socket app."""
        profile = Profile(
            caller_id_name=caller.name,
            caller_id_number=caller.number,
            destination=caller.destination,
            username=caller.number,
            network_addr="127.0.0.1",
            context="public",
        )
        channel = self.new_channel(f"sofia/internal/{caller.number}@127.0.0.1", "inbound", profile, uuid)
        channel.presence_id = f"{caller.number}@127.0.0.1"
        channel.set_state("CS_EXECUTE")
        channel.call_state = "RINGING"
        channel.variables.update(
            {
                "sip_from_user": caller.number,
                "sip_to_user": caller.destination,
                "call_uuid": channel.uuid,
                "current_application_data": "127.0.0.1:8084 async full",
                "current_application": "socket",
            }
        )
        channel.application, channel.application_data = "socket", "127.0.0.1:8084 async full"
        with self.lock:
            self.callers[channel.uuid] = caller
        return channel

    def originate(self, dialstring: str, app: str, *, uuid: str | None = None) -> str:
        """``originate``: ring a phone; ``+OK <uuid>`` once it answers (then it runs ``app``)."""
        variables, endpoint = parse_dialstring(dialstring)
        uuid = variables.get("origination_uuid") or uuid or str(uuidlib.uuid4())
        kind, _, rest = endpoint.partition("/")
        if kind == "user":
            user = rest.split("@")[0]
        elif kind == "sofia":
            user = rest.split("/")[-1].split("@")[0]
        elif kind == "loopback":
            user = ""
        else:
            return "-ERR CHAN_NOT_IMPLEMENTED\n"
        phone = self.phones.get(user) if user else Phone(user=rest.split("/")[0])
        if phone is None or not phone.registered:
            return "-ERR USER_NOT_REGISTERED\n"
        if phone.busy:
            return "-ERR USER_BUSY\n"
        profile = Profile(
            caller_id_name=variables.get("origination_caller_id_name", ""),
            caller_id_number=variables.get("origination_caller_id_number", "0000000000"),
            destination=phone.user,
            context="default",
            direction="outbound",
            logical_direction="outbound",
        )
        name = f"sofia/internal/{phone.user}@127.0.0.1" if user else f"loopback/{phone.user}-a"
        channel = self.new_channel(name, "outbound", profile, uuid)
        channel.hit_dialplan = False
        channel.variables.update(dict(variables.items()))
        channel.variables["is_outbound"] = "true"
        channel.call_state = "RINGING"
        phone.calls.append(channel.uuid)
        timeout = float(variables.get("call_timeout") or variables.get("originate_timeout") or 60)
        wait = timeout if phone.answer_after is None else min(phone.answer_after, timeout)
        if channel.hungup.wait(wait):
            return f"-ERR {channel.hangup_cause or 'ORIGINATOR_CANCEL'}\n"
        if phone.answer_after is None or phone.answer_after > timeout:
            self.hangup(channel, "NO_ANSWER")
            return "-ERR NO_ANSWER\n"
        self.answer(channel)
        channel.set_state("CS_EXECUTE")
        if phone.talk_seconds is not None:
            apps.hang_up_after_bridge(self, channel, phone.talk_seconds)
        apps.run_inline(self, channel, app)
        return f"+OK {channel.uuid}\n"

    def dtmf(self, channel: Channel, digit: str) -> None:
        self.fire(
            "DTMF",
            channel,
            variables=False,
            after=[("DTMF-Digit", digit), ("DTMF-Duration", "2000"), ("DTMF-Source", "UNKNOWN")],
        )
        channel.dtmf.put(digit)

    # -- phones ----------------------------------------------------------------------------

    def add_phone(self, phone: Phone) -> Phone:
        self.phones[phone.user] = phone
        return phone

    def register(self, user: str, registered: bool = True) -> None:
        phone = self.phones.setdefault(user, Phone(user=user, registered=registered))
        phone.registered = registered
        sub = "sofia::register" if registered else "sofia::unregister"
        v = {
            "profile-name": "internal",
            "from-user": user,
            "from-host": "127.0.0.1",
            "presence-hosts": "127.0.0.1",
            "contact": f'"" <sip:{user}@127.0.0.1:5999>',
            "call-id": f"{uuidlib.uuid4().hex[:10]}@127.0.0.1",
            "rpid": "unknown",
            "status": "Registered(UDP)",
            "expires": "3600" if registered else "0",
            "to-user": user,
            "to-host": "127.0.0.1",
            "network-ip": "127.0.0.1",
            "network-port": "5999",
            "username": user,
            "realm": "127.0.0.1",
            "user-agent": "callyard-sim-phone",
            "sip_number_alias": user,
            "sip_auth_username": user,
            "sip_auth_realm": "127.0.0.1",
            "number_alias": user,
            "user_name": user,
            "domain_name": "127.0.0.1",
        }
        # The order sofia uses for each (from the 1.10 transcripts).
        order = (
            "profile-name from-user from-host presence-hosts contact call-id rpid status expires "
            "to-user to-host network-ip network-port username realm user-agent"
            if registered
            else "profile-name username from-user from-host contact call-id rpid realm network-ip "
            "network-port user-agent expires"
        ).split() + [
            "sip_number_alias",
            "sip_auth_username",
            "sip_auth_realm",
            "number_alias",
            "user_name",
            "domain_name",
        ]
        headers: Headers = [(k, v[k]) for k in order]
        self.fire("CUSTOM", subclass=sub, after=headers)

    # -- api -------------------------------------------------------------------------------

    def api(self, command: str) -> str:
        name, _, args = command.strip().partition(" ")
        for hook in list(self.on_api):
            hook(name, args)
        from .api import API  # the commands need the Switch; imported late, once

        handler = API.get(name)
        if handler is None:
            return f"-ERR {name} Command not found!\n"
        try:
            return handler(self, args.strip())
        except Exception as exc:  # an api command never takes the switch down
            log.exception("api %s failed", name)
            return f"-ERR {exc}\n"

    def show_channels(self, args: str) -> str:
        with self.lock:
            rows = [c.show_row(self.hostname) for c in self.channels.values() if c.alive]
        if args.endswith("as json"):
            if not rows:
                return '{"row_count": 0}\n'
            return json.dumps({"row_count": len(rows), "rows": rows}, separators=(",", ":")) + "\n"
        if not rows:
            return "\n0 total.\n\n"
        keys = list(rows[0])
        lines = [",".join(keys)] + [",".join(r[k] for k in keys) for r in rows]
        return "\n".join(lines) + f"\n\n{len(rows)} total.\n\n"


def parse_dialstring(dialstring: str) -> tuple[dict[str, str], str]:
    m = DIAL_VARS.match(dialstring.strip())
    assert m is not None
    raw = m.group(1) or m.group(2) or ""
    variables = {}
    for part in raw.split(","):
        if "=" in part:
            k, _, v = part.partition("=")
            variables[k.strip()] = v.strip()
    return variables, m.group(3)
