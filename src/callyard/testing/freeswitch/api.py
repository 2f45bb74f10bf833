"""The api commands of the simulated switch, with FreeSWITCH's replies (``+OK``, ``-ERR ...``)."""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable

from . import apps
from .channel import Channel, now_us
from .switch import Switch


def _status(sw: Switch, _args: str) -> str:
    up = int(time.time() - sw.started)
    with sw.lock:
        active = sum(1 for c in sw.channels.values() if c.alive)
    return (
        f"UP 0 years, 0 days, 0 hours, {up // 60} minutes, {up % 60} seconds, 0 milliseconds, "
        "0 microseconds\n"
        "FreeSWITCH (Version 1.10.12-release callyard-sim 64bit) is ready\n"
        f"{sw.sessions_total} session(s) since startup\n"
        f"{active} session(s) - peak {active}, last 5min {active} \n"
        "0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n"
        "1000 session(s) max\nmin idle cpu 0.00/99.00\nCurrent Stack Size/Max 240K/8192K\n"
    )


def _sofia_status(_sw: Switch, _args: str) -> str:
    rule = "=" * 97
    return (
        "                     Name\t   Type\t                                      Data\tState\n"
        f"{rule}\n"
        "                127.0.0.1\t  alias\t                                  internal\tALIASED\n"
        "                 internal\tprofile\t              sip:mod_sofia@127.0.0.1:5060\tRUNNING (0)\n"
        f"{rule}\n1 profile 1 alias\n"
    )


def _originate(sw: Switch, args: str) -> str:
    try:
        parts = shlex.split(args)
    except ValueError:
        parts = args.split()
    if len(parts) < 2:
        return "-ERR INVALID_ARGS\n"
    return sw.originate(parts[0], " ".join(parts[1:]))


def _need(sw: Switch, uuid: str) -> Channel:
    channel = sw.get(uuid)
    if channel is None:
        raise LookupError("No such channel!")
    return channel


def _channel_api(fn: Callable[[Switch, list[str]], str]) -> Callable[[Switch, str], str]:
    def run(sw: Switch, args: str) -> str:
        try:
            return fn(sw, args.split())
        except LookupError as exc:
            return f"-ERR {exc.args[0]}\n"
        except IndexError:
            return "-ERR Usage error\n"

    return run


@_channel_api
def _uuid_kill(sw: Switch, a: list[str]) -> str:
    sw.hangup(_need(sw, a[0]), a[1] if len(a) > 1 else "NORMAL_CLEARING")
    return "+OK\n"


@_channel_api
def _uuid_bridge(sw: Switch, a: list[str]) -> str:
    first, second = _need(sw, a[0]), _need(sw, a[1])
    sw.bridge(first, second)
    return f"+OK {second.uuid}\n"


@_channel_api
def _uuid_transfer(sw: Switch, a: list[str]) -> str:
    leg = "-bleg" if a[0] in ("-bleg", "-both") else ""
    if leg:
        a = a[1:]
    channel = _need(sw, a[0])
    target = channel.other if leg and channel.other else channel
    target.variables["transfer_destination"] = a[1]
    if target.other is not None:
        sw.unbridge(target, target.other)
    target.interrupt.set()
    apps.run_inline(sw, target, "park")
    return "+OK\n"


@_channel_api
def _uuid_hold(sw: Switch, a: list[str]) -> str:
    mode = a[0] if a[0] in ("off", "toggle") else "on"
    channel = _need(sw, a[-1])
    if mode == "toggle":
        mode = "off" if channel.held else "on"
    if (mode == "on") == channel.held:
        return "-ERR Operation failed\n"
    now = now_us()
    if mode == "on":
        channel.held, channel.last_hold_us, channel.call_state = True, now, "HELD"
        sw.fire("CHANNEL_HOLD", channel)
    else:
        channel.held, channel.call_state = False, "ACTIVE"
        channel.hold_accum_us += now - channel.last_hold_us
        sw.fire("CHANNEL_UNHOLD", channel)
    return "+OK Success\n"


@_channel_api
def _uuid_break(sw: Switch, a: list[str]) -> str:
    channel = _need(sw, a[0])
    if len(a) > 1 and a[1] == "all":
        apps.flush(channel)
    channel.interrupt.set()
    return "+OK\n"


@_channel_api
def _uuid_broadcast(sw: Switch, a: list[str]) -> str:
    channel = _need(sw, a[0])
    apps.broadcast(sw, channel, a[1])
    return "+OK Message sent\n"


@_channel_api
def _uuid_record(sw: Switch, a: list[str]) -> str:
    channel = _need(sw, a[0])
    if a[1] == "start":
        apps.start_recording(sw, channel, a[2])
    elif a[1] == "stop":
        apps.stop_recordings(sw, channel, a[2] if len(a) > 2 and a[2] != "all" else None)
    else:
        return "-ERR Usage error\n"
    return "+OK Success\n"


@_channel_api
def _uuid_send_dtmf(sw: Switch, a: list[str]) -> str:
    channel = _need(sw, a[0])
    for digit in a[1]:
        sw.dtmf(channel, digit)
    return f"+OK {channel.uuid} sent DTMF {a[1]}.\n"


@_channel_api
def _uuid_dump(sw: Switch, a: list[str]) -> str:
    from .wire import serialize_plain

    channel = _need(sw, a[0])
    return serialize_plain(sw.factory.envelope("CHANNEL_DATA") + channel.headers())


@_channel_api
def _uuid_getvar(sw: Switch, a: list[str]) -> str:
    return _need(sw, a[0]).variables.get(a[1], "_undef_")


@_channel_api
def _uuid_setvar(sw: Switch, a: list[str]) -> str:
    channel = _need(sw, a[0])
    if len(a) < 2:
        return "-ERR No variable specified\n"
    if len(a) > 2:
        channel.variables[a[1]] = " ".join(a[2:])
    else:  # no value: FreeSWITCH unsets the variable
        channel.variables.pop(a[1], None)
    return "+OK"  # mod_commands answers this one without a newline


def _hupall(sw: Switch, args: str) -> str:
    cause = args.split()[0] if args else "MANAGER_REQUEST"
    with sw.lock:
        channels = [c for c in sw.channels.values() if c.alive]
    for channel in channels:
        sw.hangup(channel, cause)
    return f"+OK hangup all channels with cause {cause}\n"


API: dict[str, Callable[[Switch, str], str]] = {
    "status": _status,
    "show": lambda sw, args: sw.show_channels(args) if args.startswith("channels") else "-ERR\n",
    "sofia": _sofia_status,
    "originate": _originate,
    "uuid_kill": _uuid_kill,
    "uuid_bridge": _uuid_bridge,
    "uuid_transfer": _uuid_transfer,
    "uuid_hold": _uuid_hold,
    "uuid_break": _uuid_break,
    "uuid_broadcast": _uuid_broadcast,
    "uuid_record": _uuid_record,
    "uuid_send_dtmf": _uuid_send_dtmf,
    "uuid_dump": _uuid_dump,
    "uuid_getvar": _uuid_getvar,
    "uuid_setvar": _uuid_setvar,
    "hupall": _hupall,
}
