"""Ports for servers that a test starts in another process.

Binding port 0 and closing the socket hands out a port from the kernel's ephemeral range, the
same range every outgoing connection on the machine draws from; in the seconds before the child
process binds it, another test's client connection can take it (CI once failed so, "Address
already in use"). These ports come from below that range, from a slice of its own for each
pytest-xdist worker, so neither clients nor the other workers are handed them.
"""

from __future__ import annotations

import os
import random
import socket

_BASE = 20000
_SLICE = 1500  # six workers' slices fit below 32768, the usual start of the ephemeral range
_handed: set[int] = set()


def ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = f.read().split()
        return int(low), int(high)
    except OSError:
        return 32768, 60999  # Linux's default


def _worker_index() -> int:
    digits = os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:]
    return int(digits) % 6 if digits.isdigit() else 0


def free_port() -> int:
    """A port on 127.0.0.1 that nothing holds now and that no client connection will be given."""
    start = _BASE + _worker_index() * _SLICE
    candidates = [p for p in range(start, start + _SLICE) if p not in _handed]
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed.add(port)
        return port
    raise RuntimeError(f"no free port left in {start}-{start + _SLICE - 1}")
