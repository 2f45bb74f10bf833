"""A load generator: the simulator in a process of its own placing calls at a steady rate, so
a benchmark measures the controller and not the simulator sharing its interpreter.

    python -m callyard.testing.freeswitch.load --outbound 127.0.0.1:8084 --rate 50 --seconds 60

It talks over stdin/stdout, one JSON object a line: it prints ``{"port": N}`` once its event
socket listens, waits for a line on stdin (anything: the controller is up), places the calls,
waits for them to end and prints the figures (``{"placed": ...}``); then it stops at the next
line or at the end of stdin. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from typing import Any

from .scripts import Caller, Phone
from .server import FreeSwitchSim

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m callyard.testing.freeswitch.load", description=__doc__)
    parser.add_argument("--outbound", required=True, help="HOST:PORT of the controller's outbound socket")
    parser.add_argument("--rate", type=float, default=50.0, help="new calls per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long calls keep coming")
    parser.add_argument("--phones", type=int, default=200, help="agent phones a0000, a0001, ...")
    parser.add_argument("--answer-after", type=float, default=0.05, help="seconds a phone rings")
    parser.add_argument("--talk", type=float, default=1.0, help="seconds an agent talks, then hangs up")
    parser.add_argument("--playback", type=float, default=0.01, help="seconds a prompt plays")
    parser.add_argument("--drain", type=float, default=60.0, help="seconds to wait for calls to end")
    args = parser.parse_args(argv)
    host, _, port = args.outbound.rpartition(":")
    if not host or not port.isdigit():
        parser.error(f"--outbound: expected HOST:PORT, got {args.outbound!r}")
    if args.rate <= 0 or args.seconds <= 0 or args.phones < 0:
        parser.error("--rate and --seconds must be positive and --phones not negative")
    args.outbound = (host, int(port))
    return args


def phone_logins(count: int) -> list[str]:
    return [f"a{n:04d}" for n in range(count)]


class Load:
    """The simulator with hooks that note which calls reached the hold music and when each
    call's agent's phone was dialled (``originate`` naming the call); the benchmark times a call
    from its record's ``queued_at`` to the dial (the controller dials before the music starts)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sim = FreeSwitchSim(outbound=args.outbound, playback_seconds=args.playback)
        self.on_hold: set[str] = set()  # calls whose hold music started
        self.dialled_at: dict[str, float] = {}  # by the wall clock (time.time), as call records
        self.sim.switch.on_app_start.append(self._app_started)
        self.sim.switch.on_api.append(self._api_called)

    def _app_started(self, channel: Any, app: str, data: str) -> None:
        if app == "playback" and data.startswith("local_stream://"):
            self.on_hold.add(channel.uuid)

    def _api_called(self, name: str, args: str) -> None:
        if name == "originate" and "callyard_call=" in args:
            uuid = args.split("callyard_call=", 1)[1].split("}", 1)[0].split(",", 1)[0]
            self.dialled_at.setdefault(uuid, time.time())

    def start(self) -> int:
        self.sim.start()
        for login in phone_logins(self.args.phones):
            self.sim.add_phone(Phone(login, answer_after=self.args.answer_after, talk_seconds=self.args.talk))
        return self.sim.port

    def wait_for_controller(self, timeout: float = 30.0) -> bool:
        """The controller's inbound connection is up and subscribed (else its first calls'
        events would go nowhere)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(c.authed and (c.all_events or c.names) for c in list(self.sim.connections)):
                return True
            time.sleep(0.05)
        return False

    def run(self) -> dict[str, Any]:
        args = self.args
        delivered0 = self.sim.switch.events_delivered
        cpu0 = sum(os.times()[:2])
        total = int(args.rate * args.seconds)
        channels = []
        start = time.perf_counter()
        for n in range(total):
            # Keep the pace: the n-th call starts at n / rate seconds, however late the last was.
            delay = start + n / args.rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            channels.append(self.sim.call(Caller(number=f"7900{n:07d}", digits=[])))
        placed = time.perf_counter() - start
        deadline = time.monotonic() + args.drain
        while time.monotonic() < deadline and any(c.alive for c in channels):
            time.sleep(0.2)
        elapsed = time.perf_counter() - start
        stuck: dict[str, int] = {}  # what the calls still up are doing, for a reader to see why
        for c in channels:
            if c.alive:
                other = c.other
                what = f"{c.call_state} {c.application or '-'} {'bridged to ' + other.call_state if other else ''}"
                stuck[what.strip()] = stuck.get(what.strip(), 0) + 1
        return {
            "placed": total,
            "placed_seconds": placed,
            "elapsed": elapsed,
            "events": self.sim.switch.events_delivered - delivered0,
            "uuids": [c.uuid for c in channels],
            "still_up": [c.uuid for c in channels if c.alive],
            "stuck": stuck,
            "queued": sum(1 for c in channels if c.uuid in self.on_hold),
            # call uuid -> when its agent's dial came, by the wall clock: the controller's call
            # records say when each call entered its queue, by the same clock
            "dialled_at": self.dialled_at,
            "sim_cpu": sum(os.times()[:2]) - cpu0,
        }


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    args = parse_args(argv)
    load = Load(args)
    print(json.dumps({"port": load.start()}), flush=True)
    try:
        if not sys.stdin.readline():
            return 0
        if not load.wait_for_controller():
            print(json.dumps({"error": "the controller never connected to the event socket"}), flush=True)
            return 1
        print(json.dumps(load.run()), flush=True)
        sys.stdin.readline()
    finally:
        load.sim.stop()
        threading.Event().wait(0.2)  # let the hangups' last frames go out
    return 0


if __name__ == "__main__":
    sys.exit(main())
