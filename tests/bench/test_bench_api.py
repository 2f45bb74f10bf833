"""A real server: API-channel messages committed per second over REST, and webhook deliveries
per second to a local receiver (each signed, each through the outbox)."""

from __future__ import annotations

import time
from pathlib import Path

from api_client import Api, create_token
from figures import summary
from harness import running
from receivers import receiving


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_bench_api_and_webhooks(tmp_path, db_url):  # noqa: ANN001
    kind = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    with running(tmp_path, db_url, agents=()) as server, receiving() as hook:
        api = Api(server.url, create_token(server, "integrator"))
        api.ok("POST", "/webhooks", {"url": hook.url, "events": ["message.created"]})
        durations = []
        count = 500
        start_all = time.perf_counter()
        for n in range(count):
            body = {
                "source": "sms",
                "thread": f"t{n % 50}",
                "contact": {"kind": "phone", "value": f"+1555{n % 50:04d}"},
                "body": f"message {n}",
                "external_id": f"m{n}",
            }
            start = time.perf_counter()
            api.ok("POST", "/interactions", body, status=201)
            durations.append(time.perf_counter() - start)
        summary(
            f"REST API-channel messages on {kind}",
            durations,
            time.perf_counter() - start_all,
            unit="requests",
        )
        hook.wait_for(count, timeout=120)
        elapsed = time.perf_counter() - start_all
        print(
            f"BENCH {count} signed message.created webhooks delivered on {kind} in {elapsed:.1f} s "
            f"({count / elapsed:,.0f}/s, while the posts were running)"
        )
        reads = []
        for _ in range(100):
            start = time.perf_counter()
            api.ok("GET", "/interactions", params={"limit": 50})
            reads.append(time.perf_counter() - start)
        summary(f"GET /interactions (50 per page) on {kind}", reads, unit="requests")
        assert server.proc is not None
        print(f"BENCH server RSS after the run on {kind}: {_rss_kib(server.proc.pid) / 1024:.0f} MiB")
