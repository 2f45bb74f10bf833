"""The client side of the push benchmark: thousands of agent and visitor Socket.IO clients in
one gevent process (python-socketio's own client, its threads made greenlets).

Each visitor writes into the conversation an agent holds; the driver sends ``--rate`` messages a
second spread over all visitors, and each lands, through the server's ingest, commit, journal and
push, on the one agent tab that owns the conversation. Printed: how many connected, the latency
from a visitor sending to the agent's tab receiving, p50/p99, and the server's CPU and memory.

    python tests/bench/push/clients.py --url http://127.0.0.1:8080 --plan plan.json --server-pid 123
"""

from __future__ import annotations

import gevent
from gevent import monkey

# As the server does: no spawning stack recorded for each of the clients' event greenlets.
gevent.config.track_greenlet_tree = False
monkey.patch_all()

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent.pool  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for the harness
from harness import AgentClient, Visitor  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def server_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True, help="the server's base URL")
    parser.add_argument("--plan", required=True, help="JSON list of {login, token} from the bench")
    parser.add_argument("--server-pid", type=int, required=True, help="to read its CPU time and memory")
    parser.add_argument("--rate", type=float, default=200.0, help="messages per second in all (200)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to send (20)")
    parser.add_argument("--connect-concurrency", type=int, default=50, help="connections opened at once (50)")
    args = parser.parse_args()
    plan = json.loads(Path(args.plan).read_text())

    sent: dict[str, float] = {}
    received: dict[str, float] = {}

    def on_message(data: dict) -> None:
        body = data.get("body", "")
        if body in sent and body not in received:
            received[body] = time.perf_counter()

    agents: list[AgentClient] = []
    visitors: list[Visitor | None] = [None] * len(plan)
    failures: list[str] = []

    def open_pair(index: int) -> None:
        entry = plan[index]
        try:
            agent = AgentClient(args.url, entry["login"])
            agent.sio.on("message", on_message, namespace="/agent")
            agents.append(agent)
            visitors[index] = Visitor(args.url, token=entry["token"])
        except Exception as exc:  # noqa: BLE001 - counted and reported
            failures.append(f"{entry['login']}: {exc!r}")

    started = time.perf_counter()
    pool = gevent.pool.Pool(args.connect_concurrency)
    for index in range(len(plan)):
        pool.spawn(open_pair, index)
    pool.join()
    ready = [v for v in visitors if v is not None]
    print(
        f"BENCH push: {len(agents)} agent and {len(ready)} visitor Socket.IO clients connected "
        f"in {time.perf_counter() - started:.1f} s ({len(failures)} failed)"
    )
    for failure in failures[:5]:
        print("  failed:", failure)
    if len(agents) < len(plan):
        print(f"NOTE: this machine held {len(agents)} of the {len(plan)} agent clients asked for")
    if not ready:
        return 1

    acks: list[bool] = []

    def send(visitor: Visitor, body: str) -> None:
        sent[body] = time.perf_counter()
        acks.append(bool(visitor.send(body).get("ok")))

    gevent.sleep(2)  # let the connection burst settle
    # These clients stand in for 2,000 browsers, which do not share one heap: a full collection
    # of this process's (0.4-0.5 s with every client's objects in it) would be read as server
    # latency. What the connections made is frozen out of the collector's sight, and the
    # collector stays off while messages are timed: its young collections here (6-9 ms, every
    # second or so, with 4,000 clients' traffic) were read as server latency too.
    gc.collect()
    gc.freeze()
    gc.disable()
    print("BENCH push: sending", flush=True)  # the bench counts the server's statements from here
    cpu0, wall0 = server_cpu_seconds(args.server_pid), time.perf_counter()
    own0 = server_cpu_seconds(os.getpid())
    interval = 1.0 / args.rate
    total = int(args.rate * args.seconds)
    senders = gevent.pool.Group()
    for n in range(total):
        due = wall0 + n * interval
        delay = due - time.perf_counter()
        if delay > 0:
            gevent.sleep(delay)
        senders.spawn(send, ready[n % len(ready)], f"bench message {n}")
    senders.join(timeout=60)
    deadline = time.perf_counter() + 30
    while len(received) < len(sent) and time.perf_counter() < deadline:
        gevent.sleep(0.1)
    wall = time.perf_counter() - wall0
    gc.enable()
    cpu = server_cpu_seconds(args.server_pid) - cpu0

    latencies = sorted(received[b] - sent[b] for b in received)
    if latencies:
        p50 = statistics.median(latencies) * 1000
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
        worst = latencies[-1] * 1000
        print(
            f"BENCH push: {len(sent)} messages sent at {args.rate:.0f}/s over {args.seconds:.0f} s to "
            f"{len(agents)} agents; {len(received)} reached their agent, {acks.count(False)} refused"
        )
        print(
            f"BENCH push: visitor send -> agent tab latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms"
        )
    own = server_cpu_seconds(os.getpid()) - own0
    if received:
        print(f"BENCH push: server CPU per message delivered {cpu / len(received) * 1000:.2f} ms")
    one, five, fifteen = os.getloadavg()
    print(f"BENCH push: machine load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} CPUs")
    # The same latencies by when the message was sent: a slow start (the connection burst still
    # settling) reads differently from a server that falls behind as it goes.
    window = 5.0
    for start in range(0, int(args.seconds), int(window)):
        part = sorted(received[b] - sent[b] for b in received if start <= sent[b] - wall0 < start + window)
        if part:
            print(
                f"BENCH push:   sent in {start:>2}-{start + window:.0f} s: p50 "
                f"{statistics.median(part) * 1000:.1f} ms, p99 {part[int(len(part) * 0.99) - 1] * 1000:.1f} ms"
            )
    print(
        f"BENCH push: server CPU {cpu / wall * 100:.0f}% of one core over {wall:.1f} s, "
        f"RSS {server_rss_mib(args.server_pid):.0f} MiB (these clients: {own / wall * 100:.0f}% of one core)"
    )
    for client in [*agents, *ready]:
        gevent.spawn(client.close)
    gevent.sleep(1)
    return 0 if latencies else 1


if __name__ == "__main__":
    sys.exit(main())
