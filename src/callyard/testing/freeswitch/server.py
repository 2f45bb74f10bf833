"""The FreeSWITCH simulator as a whole: an event-socket server (inbound mode), an outbound
socket client per simulated call, scripted callers and agent phones.

    sim = FreeSwitchSim(outbound=("127.0.0.1", 8084)).start()
    sim.add_phone(Phone("1001"))
    sim.register("1001")
    call = sim.call(Caller(number="79161234567", digits=["1"]))
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from .channel import Channel
from .esl import EslConnection
from .scripts import Caller, Phone
from .switch import Switch

log = logging.getLogger(__name__)


def later(delay: float, fn: Any, *args: Any) -> None:
    timer = threading.Timer(delay, fn, args=args)
    timer.daemon = True
    timer.start()


class FreeSwitchSim:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        password: str = "ClueCon",  # noqa: S107 - FreeSWITCH's stock default, for tests
        outbound: tuple[str, int] | None = None,
        playback_seconds: float = 0.02,
    ) -> None:
        self.switch = Switch(playback_seconds=playback_seconds)
        self.host, self.port, self.password = host, port, password
        self.outbound = outbound
        self._server: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._refusing = threading.Event()
        self.connections: list[EslConnection] = []
        self.switch.on_app_start.append(self._caller_reacts)

    # -- server ----------------------------------------------------------------------------

    def start(self) -> FreeSwitchSim:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((self.host, self.port))
        server.listen(128)
        server.settimeout(0.2)
        self._server = server
        self.port = server.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True, name="fs-sim-accept")
        self._thread.start()
        log.info("FreeSWITCH simulator: event socket on %s:%s", self.host, self.port)
        return self

    def _accept_loop(self) -> None:
        assert self._server is not None
        while not self._stopping.is_set():
            try:
                sock, _addr = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            if self._refusing.is_set():
                sock.close()  # a FreeSWITCH that is down: connections are cut at once
                continue
            sock.settimeout(None)
            conn = EslConnection(self.switch, sock, password=self.password)
            self.switch.listen(conn)
            with self.switch.lock:
                self.connections = [c for c in self.connections if not c.closed.is_set()] + [conn]
            conn.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.switch.api("hupall NORMAL_CLEARING")
        for conn in list(self.connections):
            conn.finish()

    def drop_clients(self) -> None:
        """Cut every inbound event-socket client off, as a FreeSWITCH restart would."""
        for conn in list(self.connections):
            conn.finish()

    def refuse_clients(self, refusing: bool = True) -> None:
        """While refusing, event-socket clients are cut off and cannot connect (calls go on)."""
        if refusing:
            self._refusing.set()
            self.drop_clients()
        else:
            self._refusing.clear()

    def __enter__(self) -> FreeSwitchSim:
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()

    # -- people ----------------------------------------------------------------------------

    def add_phone(self, phone: Phone, *, register: bool = True) -> Phone:
        self.switch.add_phone(phone)
        if register and phone.registered:
            self.switch.register(phone.user, True)
        return phone

    def register(self, user: str, registered: bool = True) -> None:
        self.switch.register(user, registered)

    def call(self, caller: Caller) -> Channel:
        """A caller dials in; the dialplan hands the call to the controller's outbound socket."""
        if self.outbound is None:
            raise RuntimeError("no outbound socket address: pass outbound=(host, port)")
        channel = self.switch.incoming(caller)
        if caller.hangup_after is not None:
            later(caller.hangup_after, self._caller_hangs_up, channel)
        if caller.talk_seconds is not None:
            from .apps import hang_up_after_bridge

            hang_up_after_bridge(self.switch, channel, caller.talk_seconds)
        try:
            sock = socket.create_connection(self.outbound, timeout=5)
        except OSError as exc:
            log.warning("FreeSWITCH simulator: outbound socket %s unreachable (%s)", self.outbound, exc)
            self.switch.hangup(channel, "DESTINATION_OUT_OF_ORDER")
            return channel
        sock.settimeout(None)
        conn = EslConnection(self.switch, sock, channel=channel)
        conn.start()
        return channel

    def _caller_hangs_up(self, channel: Channel) -> None:
        if channel.alive:
            self.switch.hangup(channel, "NORMAL_CLEARING")

    def _caller_reacts(self, channel: Channel, app: str, data: str) -> None:
        caller = self.switch.callers.get(channel.uuid)
        if caller is None:
            return
        if caller.hangup_on and caller.hangup_on in (app, f"{app}:{data}"):
            later(0.01, self._caller_hangs_up, channel)
            return
        if caller.queue_key and app == "playback" and data.startswith("local_stream://"):
            key, caller.queue_key = caller.queue_key, ""  # once, at the first hold music
            later(caller.queue_key_after, self._press, channel, key)
        if app == "play_and_get_digits" and caller.digits:
            digits = caller.digits.pop(0)
            if digits:
                later(caller.digit_delay, self._press, channel, digits)

    def _press(self, channel: Channel, digits: str) -> None:
        for digit in digits:
            if channel.alive:
                self.switch.dtmf(channel, digit)

    # -- inspection ------------------------------------------------------------------------

    def channels(self) -> list[Channel]:
        with self.switch.lock:
            return [c for c in self.switch.channels.values() if c.alive]

    def phone(self, user: str) -> Phone:
        return self.switch.phones[user]
