"""A running Callyard with the voice channel on, wired to a FreeSWITCH simulator, and ways to
look at what it stored."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callyard.models import CallRecord, Interaction
from callyard.store import Store
from callyard.testing.freeswitch import FreeSwitchSim, Phone

from harness import Server, agent_add, init_workdir

MENUS = """
[[queues]]
name = "sales"
skills = { sales = 1 }

[channels.voice.menus.main]
prompt = "ivr/ivr-please_choose.wav"
choices = { "1" = "queue:support", "2" = "menu:language", "3" = "callback", "4" = "queue:sales", "8" = "voicemail", "9" = "hangup" }
fallback = "queue:support"

[channels.voice.menus.language]
prompt = "ivr/ivr-language.wav"
choices = { "1" = "skill:lang_en,queue:support", "2" = "skill:lang_ru,queue:support" }
"""


def controller_address(server: Server) -> tuple[str, int]:
    """Where the started controller listens for FreeSWITCH's calls, as it logged it."""
    found = re.findall(r"voice: FreeSWITCH calls on ([\d.]+):(\d+)", "".join(server.output))
    if not found:
        raise AssertionError("the voice controller did not say where it listens:\n" + "".join(server.output))
    host, port = found[-1]
    return host, int(port)


@dataclass
class Voice:
    server: Server
    sim: FreeSwitchSim
    store: Store
    workdir: Path

    def record(self, uuid: str) -> CallRecord | None:
        with self.store.connection():
            return CallRecord.get_or_none(CallRecord.uuid == uuid)

    def record_of(self, interaction_id: int) -> CallRecord | None:
        with self.store.connection():
            return CallRecord.get_or_none(CallRecord.interaction == interaction_id)

    def interaction(self, interaction_id: int) -> Interaction:
        with self.store.connection():
            return Interaction.get_by_id(interaction_id)

    def wait_record(self, uuid: str, check: Callable[[CallRecord], bool], timeout: float = 15) -> CallRecord:
        try:
            return wait_for(
                lambda: (r := self.record(uuid)) is not None and check(r) and r, timeout, f"call {uuid}"
            )
        except AssertionError as exc:
            record = self.record(uuid)
            state = (record.state, record.outcome, record.reason) if record else None
            log = "".join(self.server.output)[-4000:]
            raise AssertionError(f"{exc}; it is {state}; server log:\n{log}") from None

    def restart(self) -> None:
        self.server.stop()
        self.server.output.clear()
        self.server.start()
        self.sim.outbound = controller_address(self.server)


def wait_for(fn: Callable[[], Any], timeout: float = 15, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached within {timeout}s")


@contextlib.contextmanager
def voice_server(
    workdir: Path,
    db_url: str,
    *,
    agents: tuple[str, ...] = ("anna",),
    phones: tuple[Phone, ...] = (),
    settings: dict[str, str] | None = None,
    skills: dict[str, str] | None = None,
    dial: dict[str, str] | None = None,
    config: str = "",
) -> Iterator[Voice]:
    """``config``: TOML appended to the config file (queues with escalation, hours...)."""
    # The controller takes a free port itself (port 0) and logs it: a port chosen here and bound
    # seconds later by the server process could be taken in between by any client connection.
    sim = FreeSwitchSim().start()
    for phone in phones or tuple(Phone(login) for login in agents):
        sim.add_phone(phone)
    # Agents and their phones are in the database before the config gets its voice settings:
    # `agent add` and `agent phone` read nothing of them, and all runs in one process.
    commands = []
    for login in agents:
        first, *more = (skills or {}).get(login, "support:5").split(",")
        commands.append(
            agent_add(login, skills=first, extra=tuple(x for skill in more for x in ("--skill", skill)))
        )
    commands += [["agent", "phone", login, dial_string] for login, dial_string in (dial or {}).items()]
    server = init_workdir(workdir, db_url, then=commands)
    text = server.config.read_text()
    text = text.replace("port = 8021", f"port = {sim.port}") + MENUS + config
    server.config.write_text(text)
    server.env.update(
        {
            "CALLYARD_CHANNELS__VOICE__ENABLED": "true",
            "CALLYARD_CHANNELS__VOICE__LISTEN_PORT": "0",
            "CALLYARD_CHANNELS__VOICE__MENU": "main",
            "CALLYARD_CHANNELS__VOICE__TIMEOUT_MS": "300",
            "CALLYARD_CHANNELS__VOICE__TRIES": "2",
            "CALLYARD_CHANNELS__VOICE__RING_SECONDS": "2",
            "CALLYARD_CHANNELS__VOICE__COMMAND_TIMEOUT": "5",
            "CALLYARD_CHANNELS__VOICE__RECONNECT_MAX_SECONDS": "0.5",
            "CALLYARD_CHANNELS__VOICE__CALLBACK_DIAL_STRING": "loopback/{number}/default",
            **(settings or {}),
        }
    )
    store = Store(db_url)
    server.start()
    sim.outbound = controller_address(server)
    try:
        yield Voice(server, sim, store, workdir)
    finally:
        server.stop()
        sim.stop()
        store.close()
