"""Gateway processes started and watched by the core (``callyard run``).

Each enabled gateway runs as ``callyard gateway NAME`` in a process of its own (asyncio and
gevent do not share a process). One that exits while the core runs is started again, with a
growing pause if it keeps failing. Its output goes where the core's goes.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterable

import gevent

log = logging.getLogger(__name__)

FIRST_PAUSE = 0.5
MAX_PAUSE = 30.0
# A gateway that ran this long before exiting is restarted without a long pause.
HEALTHY_SECONDS = 60.0


class GatewaySupervisor:
    def __init__(self, names: Iterable[str], *, config_path: str | None, env: dict[str, str]) -> None:
        self.names = sorted(names)
        self._config_path = config_path
        self._env = env
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._greenlets: list[gevent.Greenlet] = []
        self._stopping = False
        self.restarts: dict[str, int] = dict.fromkeys(self.names, 0)

    def command(self, name: str) -> list[str]:
        cmd = [sys.executable, "-m", "callyard"]
        if self._config_path:
            cmd += ["--config", self._config_path]
        return [*cmd, "gateway", name, "--parent-pid", str(os.getpid())]

    def start(self) -> None:
        self._greenlets = [gevent.spawn(self._keep_running, name) for name in self.names]

    def _keep_running(self, name: str) -> None:
        pause = FIRST_PAUSE
        while not self._stopping:
            started = time.monotonic()
            try:
                proc = subprocess.Popen(self.command(name), env={**os.environ, **self._env})
            except OSError as exc:
                log.error("cannot start the %s gateway: %s", name, exc)
                proc = None
            if proc is not None:
                self._procs[name] = proc
                log.info("%s gateway started (pid %s)", name, proc.pid)
                code = proc.wait()
                if self._stopping:
                    return
                log.warning("%s gateway exited with status %s; starting it again", name, code)
                self.restarts[name] += 1
            pause = FIRST_PAUSE if time.monotonic() - started > HEALTHY_SECONDS else min(pause * 2, MAX_PAUSE)
            gevent.sleep(pause)

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self._procs.items() if proc.poll() is None}

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.terminate()
        for name, proc in self._procs.items():
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s gateway did not stop in %ss; killing it", name, timeout)
                proc.kill()
                proc.wait(timeout=timeout)
        gevent.killall(self._greenlets, timeout=timeout)
