"""Customer messages committed per second through the kernel, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

from figures import summary


def test_bench_ingest(services, db_url):  # noqa: ANN001
    kind = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    durations = []
    start_all = time.perf_counter()
    for n in range(2000):
        visitor = f"v{n % 200}"
        start = time.perf_counter()
        services.interactions.ingest(
            channel="chat",
            identity=("chat_visitor", visitor),
            body=f"message {n}",
            queue="support",
            thread_key=visitor,
            external_id=f"{visitor}:{n}",
        )
        durations.append(time.perf_counter() - start)
    summary(f"ingest on {kind}", durations, time.perf_counter() - start_all, unit="messages")
    start = time.perf_counter()
    services.router.route()
    print(
        f"BENCH one routing round over 200 waiting chats on {kind}: {(time.perf_counter() - start) * 1000:.1f} ms"
    )
