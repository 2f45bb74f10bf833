"""Benchmarks print figures; they never pass or fail on a timing."""

from __future__ import annotations

import os
import re
import statistics


def summary(name: str, seconds: list[float], total_s: float | None = None, unit: str = "ops") -> str:
    ordered = sorted(seconds)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    total = total_s if total_s is not None else sum(seconds)
    line = f"{name}: {len(ordered)} {unit}, {len(ordered) / total:,.0f} {unit}/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    print("\nBENCH " + line)
    return line


# CALLYARD_BENCH_COUNT_SQL=1 runs the server with log_level debug, so peewee logs every statement
# it sends; the benches then print statements per message. (Debug logging costs time itself: read
# the latencies of such a run as slower than real.)
COUNT_SQL = os.environ.get("CALLYARD_BENCH_COUNT_SQL") == "1"


def sql_env() -> dict[str, str]:
    """Server environment overrides for counting statements (none unless asked for)."""
    return {"CALLYARD_LOG_LEVEL": "debug"} if COUNT_SQL else {}


def statements(output: list[str]) -> dict[str, int]:
    """SQL statements a server logged, by their first word (SELECT, INSERT, BEGIN, ...)."""
    counts: dict[str, int] = {}
    for line in list(output):
        _, marker, rest = line.partition(" DEBUG peewee: (")
        if marker:
            # The PostgreSQL pool sends a transaction's BEGIN with its first statement
            # ("BEGIN; SELECT ..."): one round trip, counted as the statement it carries.
            word = re.match(r"['\"]?(?:BEGIN; )?([A-Za-z]*)", rest).group(1).upper() or "?"  # type: ignore[union-attr]
            counts[word] = counts.get(word, 0) + 1
    return counts


def per_message(name: str, output: list[str], messages: int) -> None:
    """Print the statements per message, when counting (CALLYARD_BENCH_COUNT_SQL=1)."""
    if not COUNT_SQL or not messages:
        return
    counts = statements(output)
    total = sum(counts.values())
    parts = ", ".join(f"{k} {v / messages:.1f}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    print(f"BENCH {name}: {total / messages:.1f} SQL statements per message ({parts})")
    dump = os.environ.get("CALLYARD_BENCH_SQL_DUMP")
    if dump:  # which statements, most frequent first: where to cut
        texts: dict[str, int] = {}
        for line in list(output):
            _, marker, rest = line.partition(" DEBUG peewee: (")
            if marker:
                sql = re.sub(r"', \[.*$|', \(.*$", "", rest).strip("'\"")
                texts[sql] = texts.get(sql, 0) + 1
        with open(dump, "w") as f:
            for sql, n in sorted(texts.items(), key=lambda kv: -kv[1]):
                f.write(f"{n / messages:7.2f} {sql}\n")
