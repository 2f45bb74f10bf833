"""The event socket, server side: FreeSWITCH's mod_event_socket on the wire.

One ``EslConnection`` per TCP connection, in inbound mode (a client connected to port 8021
and authenticates) or outbound mode (the switch connected to the controller for one call).
Each connection has a reader thread that parses commands and a writer thread that sends
frames in order, so a slow client never stalls the switch.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import uuid as uuidlib
from typing import TYPE_CHECKING

from . import apps
from .events import SimEvent
from .wire import (
    api_response,
    auth_request,
    command_reply,
    connect_reply,
    disconnect_notice,
    event_frame,
    linger_notice,
    parse_command,
)

if TYPE_CHECKING:
    from .channel import Channel
    from .switch import Switch

log = logging.getLogger(__name__)
MAX_COMMAND_BYTES = 64 * 1024
FORMATS = ("plain", "json", "xml")


class EslConnection:
    def __init__(
        self,
        sw: Switch,
        sock: socket.socket,
        *,
        password: str | None = None,
        channel: Channel | None = None,
    ) -> None:
        self.sw = sw
        self.sock = sock
        self.password = password
        self.channel = channel
        self.outbound = channel is not None
        self.authed = self.outbound
        self.fmt = "plain"
        self.all_events = False
        self.names: set[str] = set()
        self.subclasses: set[str] = set()
        self.filters: list[tuple[str, str]] = []
        self.my_uuid: str | None = None
        self.linger: int | None = None
        self.resume = False
        self.connected = False  # outbound: `connect` was answered
        # SimpleQueue: a frame handed to the writer is a C-level put, not a Condition's notify
        # (that was a sixth of the simulator's CPU under load).
        self._out: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._closing = False
        self.closed = threading.Event()
        # Events raised while this connection's api command runs are sent after its reply,
        # as FreeSWITCH does (the reply to `api uuid_bridge` precedes CHANNEL_BRIDGE).
        self._held: list[bytes | None] | None = None
        self._hold_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        threading.Thread(target=self._write_loop, daemon=True, name="esl-write").start()
        threading.Thread(target=self._read_loop, daemon=True, name="esl-read").start()
        if not self.outbound:
            self.send(auth_request())
        else:
            assert self.channel is not None
            self.channel.on_hangup.append(self._socket_app_done)
            self.channel.on_destroy.append(self._session_over)
            # Its own channel's events (what myevents, linger and the disconnect notice are
            # about); an `event` subscription without myevents makes it a listener of all.
            self.sw.listen(self, self.channel.uuid)

    def send(self, frame: bytes) -> None:
        if not self._closing:
            self._out.put(frame)

    def finish(self) -> None:
        """Send what is queued, then hang up the TCP connection."""
        if not self._closing:
            self._closing = True
            self._out.put(None)

    def _write_loop(self) -> None:
        try:
            while True:
                frame = self._out.get()
                if frame is None:
                    break
                # What else is queued goes in the same write: one system call for a burst of
                # frames (a reply and the events it raised) instead of one each.
                batch, closing = [frame], False
                while len(batch) < 64:
                    try:
                        more = self._out.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        closing = True
                        break
                    batch.append(more)
                self.sock.sendall(b"".join(batch) if len(batch) > 1 else frame)
                if closing:
                    break
        except OSError:
            pass
        finally:
            self._teardown()

    def _teardown(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        self.sw.unlisten(self)
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def _read_loop(self) -> None:
        reader = self.sock.makefile("rb")
        block: list[str] = []
        size = 0
        try:
            while not self._closing:
                line = reader.readline(MAX_COMMAND_BYTES + 1)
                if not line:
                    break
                size += len(line)
                if size > MAX_COMMAND_BYTES:
                    log.warning("event socket: command over %d bytes; disconnecting", MAX_COMMAND_BYTES)
                    break
                text = line.decode("utf-8", errors="replace").rstrip("\r\n")
                if text.strip() == "" and block:
                    self._handle("\n".join(block))
                    block, size = [], 0
                elif text.strip():
                    block.append(text)
        except OSError:
            pass
        finally:
            reader.close()
            self._client_gone()

    def _client_gone(self) -> None:
        if self.outbound and self.channel is not None and self.channel.alive and not self.resume:
            # Without `resume`, FreeSWITCH ends a call whose controlling socket went away.
            self.sw.hangup(self.channel, "NORMAL_CLEARING")
        self.finish()

    # -- events ----------------------------------------------------------------------------

    def wants(self, event: SimEvent) -> bool:
        if not self.authed or self._closing:
            return False
        if self.my_uuid is not None and event.unique_id != self.my_uuid:
            return False
        if not (
            self.all_events
            or event.name in self.names
            or (event.name == "CUSTOM" and event.subclass in self.subclasses)
        ):
            return False
        if self.filters:
            return any(event.get(h) == v for h, v in self.filters)
        return True

    def offer(self, event: SimEvent) -> None:
        if self.wants(event):
            self.sw.events_delivered += 1  # approximate under threads; a figure for benchmarks
            frame = event.frames.get(self.fmt)
            if frame is None:
                frame = event.frames[self.fmt] = event_frame(self.fmt, event.headers, event.body)
            self._emit(frame)
        if (
            self.outbound
            and self.channel is not None
            and event.name == "CHANNEL_HANGUP"
            and event.unique_id == self.channel.uuid
        ):
            if self.linger is None:
                self._emit(disconnect_notice(self.channel.uuid, "disconnect"))
                self._emit(None)
            else:
                self._emit(linger_notice(self.channel.uuid, self.channel.name, self.linger))

    def _emit(self, frame: bytes | None) -> None:
        """Send a frame (None: close), after the reply of an api command now running."""
        with self._hold_lock:
            if self._held is not None:
                self._held.append(frame)
                return
        if frame is None:
            self.finish()
        else:
            self.send(frame)

    def _socket_app_done(self, channel: Channel) -> None:
        self.sw.fire(
            "CHANNEL_EXECUTE_COMPLETE",
            channel,
            after=[
                ("Application", "socket"),
                ("Application-Data", "127.0.0.1:8084 async full"),
                ("Application-Response", "_none_"),
            ],
        )

    def _session_over(self, channel: Channel) -> None:
        if self.linger is not None and not self._closing:
            self._emit(disconnect_notice(channel.uuid, "disconnect"))
            self._emit(None)

    # -- commands --------------------------------------------------------------------------

    def _handle(self, block: str) -> None:
        first, headers = parse_command(block)
        verb, _, args = first.partition(" ")
        verb = verb.lower()
        if not self.authed:
            if verb == "auth":
                if args.strip() == self.password:
                    self.authed = True
                    self.send(command_reply("+OK accepted"))
                else:
                    self.send(command_reply("-ERR invalid"))
                    self.send(disconnect_notice())
                    self.finish()
            elif verb == "exit":
                self._exit()
            else:
                self.send(command_reply("-ERR command not found"))
            return
        handler = getattr(self, f"_cmd_{verb}", None)
        if handler is None:
            self.send(command_reply("-ERR command not found"))
            return
        handler(args.strip(), headers)

    def _exit(self) -> None:
        self.send(command_reply("+OK bye"))
        self.send(disconnect_notice())
        self.finish()

    def _cmd_exit(self, _args: str, _h: dict[str, str]) -> None:
        self._exit()

    def _cmd_connect(self, _args: str, _h: dict[str, str]) -> None:
        if not self.outbound or self.channel is None:
            self.send(command_reply("-ERR command not found"))
            return
        self.connected = True
        data = self.sw.factory.envelope("CHANNEL_DATA")
        channel = self.channel
        p = channel.profile
        data += [
            ("Channel-Direction", channel.direction),
            ("Channel-Logical-Direction", channel.direction),
            ("Channel-Username", p.username),
            ("Channel-Dialplan", p.dialplan),
            ("Channel-Caller-ID-Name", p.caller_id_name),
            ("Channel-Caller-ID-Number", p.caller_id_number),
            ("Channel-Network-Addr", p.network_addr),
            ("Channel-ANI", p.caller_id_number),
            ("Channel-Destination-Number", p.destination),
            ("Channel-Unique-ID", channel.uuid),
            ("Channel-Source", p.source),
            ("Channel-Context", p.context),
            ("Channel-Channel-Name", channel.name),
        ]
        data = [(k, v) for k, v in data if v] + channel.headers()
        data.append(("variable_socket_host", "127.0.0.1"))
        self.send(connect_reply(data))

    def _cmd_api(self, args: str, _h: dict[str, str]) -> None:
        name = args.strip().partition(" ")[0]
        with self.sw.lock:
            cut = name in self.sw.cut_before
            self.sw.cut_before.discard(name)
        if cut:
            self.finish()
            return
        with self._hold_lock:
            self._held = []
        try:
            result = self.sw.api(args)
        finally:
            with self._hold_lock:
                held, self._held = self._held or [], None
                self.send(api_response(result))
                for frame in held:
                    if frame is None:
                        self.finish()
                    else:
                        self.send(frame)

    def _cmd_bgapi(self, args: str, headers: dict[str, str]) -> None:
        job = headers.get("job-uuid") or str(uuidlib.uuid4())
        self.send(command_reply(f"+OK Job-UUID: {job}", Job_UUID=job))

        def run() -> None:
            result = self.sw.api(args)
            name, _, rest = args.partition(" ")
            self.sw.fire(
                "BACKGROUND_JOB",
                after=[("Job-UUID", job), ("Job-Command", name), ("Job-Command-Arg", rest)],
                body=result,
            )

        threading.Thread(target=run, daemon=True, name="esl-bgapi").start()

    def _cmd_event(self, args: str, _h: dict[str, str]) -> None:
        words = args.split()
        fmt = words[0].lower() if words else "plain"
        if fmt not in FORMATS:
            fmt, names = "plain", words
        else:
            names = words[1:]
        custom = False
        for name in names:
            if name == "ALL":
                self.all_events = True
            elif name == "CUSTOM":
                custom = True
            elif custom and not name.isupper():
                self.subclasses.add(name)
            else:
                self.names.add(name)
        self.fmt = fmt
        if self.outbound and self.my_uuid is None and (self.all_events or self.names or self.subclasses):
            self.sw.listen(self)  # every channel's events now, not only its own
        self.send(command_reply(f"+OK event listener enabled {fmt}"))

    def _cmd_nixevent(self, args: str, _h: dict[str, str]) -> None:
        for name in args.split():
            if name == "ALL":
                self.all_events = False
                self.names.clear()
            self.names.discard(name)
            self.subclasses.discard(name)
        self.send(command_reply("+OK events nixed"))

    def _cmd_noevents(self, _args: str, _h: dict[str, str]) -> None:
        self.all_events = False
        self.names.clear()
        self.subclasses.clear()
        self.send(command_reply("+OK no longer listening for events"))

    def _cmd_filter(self, args: str, _h: dict[str, str]) -> None:
        words = args.split(" ", 2)
        if words and words[0] == "delete" and len(words) >= 2:
            header = words[1]
            value = words[2] if len(words) > 2 else ""
            self.filters = [
                (h, v) for h, v in self.filters if not (h == header and (not value or v == value))
            ]
            self.send(command_reply(f"+OK filter deleted. [{header}][{value}]"))
            return
        if len(words) < 2:
            self.send(command_reply("-ERR invalid syntax"))
            return
        header, value = words[0], " ".join(words[1:])
        self.filters.append((header, value))
        self.send(command_reply(f"+OK filter added. [{header}]=[{value}]"))

    def _cmd_myevents(self, args: str, _h: dict[str, str]) -> None:
        words = args.split()
        uuid = next((w for w in words if w not in FORMATS), None)
        if self.outbound and self.channel is not None:
            uuid = self.channel.uuid
        if uuid is None:
            self.send(command_reply("-ERR invalid syntax"))
            return
        fmt = next((w for w in words if w in FORMATS), "plain")
        self.my_uuid, self.all_events, self.fmt = uuid, True, fmt
        self.send(command_reply("+OK Events Enabled"))

    def _cmd_linger(self, args: str, _h: dict[str, str]) -> None:
        if args.strip().lstrip("-").isdigit():
            self.linger = int(args)
            self.send(command_reply(f"+OK will linger {self.linger} seconds"))
        else:
            self.linger = -1
            self.send(command_reply("+OK will linger"))

    def _cmd_nolinger(self, _args: str, _h: dict[str, str]) -> None:
        self.linger = None
        self.send(command_reply("+OK will not linger"))

    def _cmd_resume(self, _args: str, _h: dict[str, str]) -> None:
        self.resume = True
        self.send(command_reply("+OK"))

    def _cmd_divert_events(self, _args: str, _h: dict[str, str]) -> None:
        self.send(command_reply("+OK"))

    def _cmd_sendmsg(self, args: str, headers: dict[str, str]) -> None:
        uuid = args.split()[0] if args.split() else (self.channel.uuid if self.channel else "")
        channel = self.sw.get(uuid)
        if channel is None:
            self.send(command_reply(f"-ERR invalid session id [{uuid}]"))
            return
        command = headers.get("call-command", "")
        self.send(command_reply("+OK"))
        if command == "execute":
            name = headers.get("execute-app-name", "")
            arg = headers.get("execute-app-arg", "")
            apps.enqueue(self.sw, channel, name, arg, headers.get("event-uuid"))
        elif command == "hangup":
            self.sw.hangup(channel, headers.get("hangup-cause", "NORMAL_CLEARING"))
