"""A real server: visitors' messages acknowledged (committed) and pushed to an agent, over Socket.IO."""

from __future__ import annotations

import time
from pathlib import Path

from figures import summary
from harness import AgentClient, Visitor, init_workdir


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_bench_live_chat(tmp_path, db_url):  # noqa: ANN001
    kind = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    server = init_workdir(tmp_path, db_url)
    server.add_agent("anna", extra=("--capacity", "chat=1000"))
    server.start()
    try:
        anna = AgentClient(server.url, "anna")
        anna.available()
        visitors = [Visitor(server.url) for _ in range(20)]
        acks, offers = [], []
        start_all = time.perf_counter()
        for round_ in range(10):
            for visitor in visitors:
                start = time.perf_counter()
                ack = visitor.send(f"question {round_}")
                acks.append(time.perf_counter() - start)
                assert ack["ok"], ack
                if round_ == 0:
                    anna.events.wait("offer")
                    offers.append(time.perf_counter() - start)
        total = time.perf_counter() - start_all
        summary(f"live chat ack (committed) on {kind}", acks, total, unit="messages")
        summary(f"live chat first message to agent offer on {kind}", offers, unit="offers")
        print(
            f"BENCH server RSS after {len(visitors)} visitors, {len(acks)} messages: {_rss_kib(server.proc.pid) / 1024:.1f} MiB"
        )
        for visitor in visitors:
            visitor.close()
        anna.close()
    finally:
        server.stop()
