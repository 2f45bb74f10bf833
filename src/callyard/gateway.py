"""Gateway processes: the asyncio side of a channel (SMTP, Telegram), run apart from the core.

A channel registers a gateway under the ``callyard.gateways`` entry-point group: a function
``from_config(config) -> Gateway | None`` (None when the channel is switched off). ``callyard
run`` starts one process per enabled gateway (see ``supervisor``); ``callyard gateway NAME``
is that process. A gateway keeps no state: what a customer sends goes to the core's internal
API and is acknowledged after the core has committed it; outbound work is claimed from the
core's outbox with ``outbox_worker`` and confirmed delivered or failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from importlib.metadata import entry_points
from typing import Any, Protocol

from .config import Config
from .errors import ConfigError
from .gateway_client import CoreClient, CoreRejected, CoreUnavailable, FilePart

log = logging.getLogger(__name__)

GROUP = "callyard.gateways"


class Gateway(Protocol):
    #: the channel it serves, as stored on interactions and outbox items
    name: str

    async def serve(self, core: CoreClient, stopping: asyncio.Event, ready: Callable[[str], None]) -> None:
        """Work until ``stopping`` is set; call ``ready`` with a line saying where it listens."""


class DeliveryFailed(Exception):
    """An outbound attempt failed; ``permanent`` when retrying cannot help (a 5xx refusal)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


# Delivers one claimed job; returns the channel's id for what it sent (or None).
Deliver = Callable[[dict[str, Any]], Awaitable[str | None]]


async def job_files(core: CoreClient, job: dict[str, Any]) -> list[FilePart]:
    """The files a claimed job's message carries, fetched from the core. A file the core no
    longer has fails the delivery for good (the agent sees it); the core being away does not."""
    files = []
    for about in job.get("attachments") or []:
        try:
            data = await core.attachment(job["id"], about["id"])
        except CoreRejected as exc:
            raise DeliveryFailed(f"attachment {about.get('filename')!r}: {exc}", permanent=True) from None
        except CoreUnavailable as exc:
            raise DeliveryFailed(f"attachment {about.get('filename')!r}: {exc}") from None
        files.append(FilePart(about["filename"], about.get("content_type") or "", data))
    return files


def enabled_gateways(config: Config) -> dict[str, Gateway]:
    """Every registered gateway whose channel is switched on, by name."""
    found = {}
    for entry in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        gateway = entry.load()(config)
        if gateway is not None:
            found[entry.name] = gateway
    return found


def core_url(config: Config) -> str:
    if config.gateway.core_url:
        return config.gateway.core_url
    host = config.server.host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a wildcard bind is reached on loopback
        host = "127.0.0.1"
    return f"http://{host}:{config.server.port}"


async def outbox_worker(
    core: CoreClient,
    channel: str,
    deliver: Deliver,
    stopping: asyncio.Event,
    *,
    poll_seconds: float,
    batch: int = 1,
) -> None:
    """Claim due items of ``channel``, deliver each, and report the outcome, until stopped.

    A failure to reach the core is logged and retried; an item whose outcome could not be
    reported comes back when its lease runs out (at least once delivery). Items are claimed
    ``batch`` at a time and delivered one after the other, so a batch must be delivered within
    one lease: keep it small when a delivery can take long (an SMTP relay's timeout).
    """
    while not stopping.is_set():
        try:
            jobs = await core.claim(channel, batch)
        except CoreUnavailable as exc:
            log.warning("%s outbox: %s; retrying", channel, exc)
            jobs = []
        except Exception:
            log.exception("%s outbox: claiming failed; retrying", channel)
            jobs = []
        for job in jobs:
            await _deliver_one(core, channel, deliver, job)
        if len(jobs) < batch:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), poll_seconds)


async def _deliver_one(core: CoreClient, channel: str, deliver: Deliver, job: dict[str, Any]) -> None:
    try:
        external_id = await deliver(job)
    except DeliveryFailed as exc:
        log.warning("%s outbox item %s failed: %s", channel, job["id"], exc)
        await _report(core.failed(channel, job["id"], str(exc), permanent=exc.permanent))
        return
    except Exception as exc:  # a bug or an unforeseen failure is a failed attempt, not a crash
        log.exception("%s outbox item %s failed", channel, job["id"])
        await _report(core.failed(channel, job["id"], f"{type(exc).__name__}: {exc}"))
        return
    await _report(core.delivered(channel, job["id"], external_id))


async def _report(call: Awaitable[Any]) -> None:
    try:
        await call
    except Exception as exc:
        log.warning("could not report an outbox outcome to the core (%s); the lease will bring it back", exc)


def run(config: Config, name: str, parent_pid: int | None, ready: Callable[[str], None]) -> None:
    """The body of ``callyard gateway NAME``: serve until SIGTERM/SIGINT or the parent is gone."""
    gateways = enabled_gateways(config)
    if name not in gateways:
        known = ", ".join(e.name for e in entry_points(group=GROUP)) or "none"
        raise ConfigError(
            f"gateway {name!r} is not enabled (installed gateways: {known}); switch its channel on"
        )
    if not config.gateway.secret:
        raise ConfigError("gateway.secret is empty: set CALLYARD_GATEWAY__SECRET to the core's secret")
    asyncio.run(_main(config, gateways[name], parent_pid, ready))


async def _main(
    config: Config, gateway: Gateway, parent_pid: int | None, ready: Callable[[str], None]
) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    core = CoreClient(
        core_url(config), config.gateway.secret, worker=f"{gateway.name}@{socket.gethostname()}:{os.getpid()}"
    )
    watcher = asyncio.create_task(_watch_parent(parent_pid, stopping)) if parent_pid else None
    try:
        await gateway.serve(core, stopping, ready)
    finally:
        stopping.set()
        if watcher is not None:
            watcher.cancel()
        await core.aclose()


async def _watch_parent(parent_pid: int, stopping: asyncio.Event) -> None:
    """Started by ``callyard run``: stop when that process is gone, never outlive it."""
    while not stopping.is_set():
        if os.getppid() != parent_pid:
            log.warning("the core process %s is gone; stopping", parent_pid)
            stopping.set()
            return
        await asyncio.sleep(0.5)
