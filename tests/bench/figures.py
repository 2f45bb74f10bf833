"""Benchmarks print figures; they never pass or fail on a timing."""

from __future__ import annotations

import statistics


def summary(name: str, seconds: list[float], total_s: float | None = None, unit: str = "ops") -> str:
    ordered = sorted(seconds)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    total = total_s if total_s is not None else sum(seconds)
    line = f"{name}: {len(ordered)} {unit}, {len(ordered) / total:,.0f} {unit}/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    print("\nBENCH " + line)
    return line
