"""Voice under load: calls per second into the FreeSWITCH simulator with many agent phones,
against a real Callyard process. Prints figures; never fails on a timing.

CALLYARD_BENCH_VOICE_RATE (calls/s, default 50), _SECONDS (default 60) and _PHONES
(default 200) size the run.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from pathlib import Path

import pytest

from callyard.models import Agent, AgentCapacity, AgentSkill, CallRecord
from callyard.store import Store
from callyard.testing.freeswitch import Caller, FreeSwitchSim, Phone

from figures import summary
from harness import init_workdir
from voice_harness import free_port

RATE = float(os.environ.get("CALLYARD_BENCH_VOICE_RATE", "50"))
SECONDS = float(os.environ.get("CALLYARD_BENCH_VOICE_SECONDS", "60"))
PHONES = int(os.environ.get("CALLYARD_BENCH_VOICE_PHONES", "200"))


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_bench_voice_calls(tmp_path, db_url):  # noqa: ANN001
    port = free_port()
    sim = FreeSwitchSim(outbound=("127.0.0.1", port), playback_seconds=0.01).start()
    logins = [f"a{n:04d}" for n in range(PHONES)]
    for login in logins:
        sim.add_phone(Phone(login, answer_after=0.05, talk_seconds=1.0))
    entered: dict[str, float] = {}
    dialled: dict[str, float] = {}

    def app_started(channel, app, data) -> None:  # noqa: ANN001
        if app == "playback" and data.startswith("local_stream://") and channel.uuid not in entered:
            entered[channel.uuid] = time.perf_counter()

    def api_called(name: str, args: str) -> None:
        if name == "originate" and "callyard_call=" in args:
            uuid = args.split("callyard_call=", 1)[1].split("}", 1)[0].split(",", 1)[0]
            dialled.setdefault(uuid, time.perf_counter())

    sim.switch.on_app_start.append(app_started)
    sim.switch.on_api.append(api_called)
    server = init_workdir(tmp_path, db_url)
    text = server.config.read_text().replace("port = 8021", f"port = {sim.port}")
    server.config.write_text(text.replace("wrap_up_seconds = 0", "wrap_up_seconds = 1"))
    server.env.update(
        {
            "CALLYARD_CHANNELS__VOICE__ENABLED": "true",
            "CALLYARD_CHANNELS__VOICE__LISTEN_PORT": str(port),
            "CALLYARD_CHANNELS__VOICE__RECORD": "false",
            "CALLYARD_CHANNELS__VOICE__RING_SECONDS": "10",
            "CALLYARD_LOG_LEVEL": "warning",
        }
    )
    store = Store(db_url)
    now = dt.datetime.utcnow()
    with store.connection(), store.atomic():
        for login in logins:
            agent = Agent.create(
                login=login,
                name=login,
                password_hash="!",
                presence="available",
                presence_since=now,
                idle_since=now,
                created_at=now,
            )
            AgentSkill.create(agent=agent, skill="support", level=5)
            AgentCapacity.create(agent=agent, channel="voice", max_load=1)
    server.start()
    try:
        pid = server.proc.pid
        cpu0, delivered0 = _cpu_seconds(pid), sim.switch.events_delivered
        sim_cpu0 = sum(os.times()[:2])
        channels = []
        start = time.perf_counter()
        total = int(RATE * SECONDS)
        for n in range(total):
            # Keep the pace: the n-th call starts at n / RATE seconds.
            delay = start + n / RATE - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            channels.append(sim.call(Caller(number=f"7900{n:07d}", digits=[])))
        placed = time.perf_counter() - start
        deadline = time.monotonic() + 60  # after the last call: then the figures are taken
        while time.monotonic() < deadline and any(c.alive for c in channels):
            time.sleep(0.5)
        elapsed = time.perf_counter() - start
        cpu = _cpu_seconds(pid) - cpu0
        sim_cpu = sum(os.times()[:2]) - sim_cpu0
        events = sim.switch.events_delivered - delivered0
        with store.connection():
            records = {r.uuid: r for r in CallRecord.select()}
        lost = [c.uuid for c in channels if c.uuid not in records]
        outcomes: dict[str, int] = {}
        for r in records.values():
            outcomes[r.outcome or r.state] = outcomes.get(r.outcome or r.state, 0) + 1
        latencies = [dialled[u] - entered[u] for u in dialled if u in entered]
        print(
            f"\nBENCH voice: {total} calls placed in {placed:.1f} s ({total / placed:.1f}/s), "
            f"{PHONES} agent phones, all done in {elapsed:.1f} s; outcomes {outcomes}; lost {len(lost)}"
        )
        print(
            f"BENCH voice: ESL events to the controller {events / elapsed:,.0f}/s ({events} in {elapsed:.1f} s)"
        )
        if latencies:
            summary("voice queue entry -> agent originate", latencies, unit="calls")
        print(
            f"BENCH voice controller: CPU {cpu:.1f} s over {elapsed:.1f} s ({100 * cpu / elapsed:.0f}% of a core), "
            f"RSS {_rss_mib(pid):.1f} MiB; the simulator (this process) used {sim_cpu:.1f} s of CPU"
        )
        # "No call lost" is a target, printed above like the timings: an overloaded machine
        # leaves calls unhandled at the deadline, which is a figure, not a failure.
        problems = [line for line in server.output if " WARNING " in line or " ERROR " in line]
        print(f"BENCH voice: {len(problems)} warnings or errors in the server log", *problems[:5], sep="\n  ")
    finally:
        server.stop()
        sim.stop()
        store.close()
        threading.Event().wait(0.5)
