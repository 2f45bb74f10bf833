"""The FreeSWITCH controller: calls come in on the outbound socket, commands and call events
go over one inbound connection per node, and routing's offers become agent phone calls.

State lives in the store (the call record); what is kept here is only what FreeSWITCH itself
can tell again after a restart (``show channels``): which legs belong to which call.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
import uuid as uuidlib
from pathlib import Path
from typing import Any

import gevent
import gevent.lock
from gevent.server import StreamServer

from callyard import events as ev
from callyard.config import VoiceConfig
from callyard.errors import CallyardError, Conflict
from callyard.greenlets import start_now
from callyard.models import ACTIVE, Agent, CallRecord
from callyard.prepared import Prepared, slot
from callyard.services import Services
from callyard.services.calls import call_record, interaction_of

from .errors import FreeSwitchUnreachable
from .esl import CallSession
from .estimate import announcement, estimated_wait_seconds
from .links import NodeLink
from .session import CallerFlow, recording_path

log = logging.getLogger(__name__)
PHONE_OFFLINE = "phone offline"
# What a caller hears before a queue's "close" timeout or after-hours action hangs up (stock).
CLOSED_PROMPT = "voicemail/vm-goodbye.wav"
UNREACHED = {
    "USER_NOT_REGISTERED": PHONE_OFFLINE,
    "NO_ANSWER": "missed call",
    "NO_USER_RESPONSE": "missed call",
    "USER_BUSY": "phone busy",
    "CALL_REJECTED": "call declined",
}


# Read for every agent's phone dialled: its SQL built once.
_AGENT_BY_ID = Prepared(lambda: Agent.select().where(Agent.id == slot("agent_id")).limit(1))


def default_dial_string(agent: Agent) -> str:
    return agent.dial_string or f"user/{agent.login}"


class VoiceController:
    def __init__(
        self,
        config: VoiceConfig,
        services: Services,
        *,
        recordings: Path,
        queue_record: dict[str, bool] | None = None,
    ) -> None:
        self.config = config
        self.services = services
        self.recordings = recordings
        # Queues whose `record` overrides the global switch: then recording starts when a call
        # reaches its queue (uuid_record) instead of when it is answered.
        self.queue_record = dict(queue_record or {})
        self.links = [
            NodeLink(
                node,
                on_event=self._on_event,
                on_connected=self._reconcile,
                command_timeout=config.command_timeout,
                reconnect_max=config.reconnect_max_seconds,
            )
            for node in config.nodes
        ]
        self._server: StreamServer | None = None
        self._sessions: dict[str, CallSession] = {}
        self.agent_legs: dict[str, str] = {}  # agent leg uuid -> caller uuid
        self._greenlets: set[gevent.Greenlet] = set()
        # Calls ended on purpose by Callyard (transfer) that must not end the interaction.
        self.transferring: set[str] = set()
        # Calls this process is working on right now (menu, dialling): a reconnect's
        # reconciliation leaves them alone.
        self._busy: set[str] = set()
        # Why Callyard itself ended a call (the agent's hangup button), for the call record.
        self.ending: dict[str, str] = {}
        # The order legs began to hang up in (CHANNEL_HANGUP), by leg uuid: the legs'
        # CHANNEL_HANGUP_COMPLETE, where calls are ended, come in no set order, so the leg
        # FreeSWITCH hung up along with the other could otherwise be taken for the one that hung up.
        self.hung_up: dict[str, int] = {}
        self._hangup_order = itertools.count()
        # Calls whose recording a queue that does not record stopped; it resumes, appended to the
        # same file, if the call moves on to a queue that records. (A restart forgets this: the
        # recording then stays stopped, which errs on the side of not recording.)
        self.paused_recordings: set[str] = set()
        self.address: tuple[str, int] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.recordings.mkdir(parents=True, exist_ok=True)
        self._server = StreamServer((self.config.listen_host, self.config.listen_port), self._accept)
        self._server.start()
        self.address = self._server.address[:2]
        for link in self.links:
            link.start()
        bus = self.services.bus
        bus.subscribe(self._guarded(self._on_offer), ev.InteractionOffered, first=True)
        bus.subscribe(self._guarded(self._on_closed), ev.InteractionClosed)
        bus.subscribe(self._guarded(self._on_timed_out), ev.InteractionTimedOut)
        if self.queue_record:
            bus.subscribe(self._guarded(self._on_overflowed), ev.InteractionOverflowed)
        log.info("voice: FreeSWITCH calls on %s:%s", *self.address)

    def stop(self) -> None:
        """Stop controlling calls; FreeSWITCH keeps them (we sent `resume`) for the next start."""
        if self._server is not None:
            self._server.stop(timeout=2)
        for session in list(self._sessions.values()):
            session.close()
        self._sessions.clear()
        gevent.killall(list(self._greenlets), timeout=2)
        for link in self.links:
            link.stop()

    def spawn(self, fn: Any, *args: Any, now: bool = False) -> gevent.Greenlet:
        """``fn(*args)`` in a greenlet of its own, its failures logged; ``now``: started at once,
        ahead of what else is ready to run (callyard.greenlets.start_now)."""
        greenlet = (start_now if now else gevent.spawn)(self._run_guarded, fn, *args)
        self._greenlets.add(greenlet)
        greenlet.link(self._greenlets.discard)
        return greenlet

    def _run_guarded(self, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except CallyardError as exc:
            log.info("voice: %s: %s", getattr(fn, "__name__", fn), exc.message)
        except Exception:
            log.exception("voice: %s failed", getattr(fn, "__name__", fn))

    def _guarded(self, handler: Any) -> Any:
        def run(event: Any) -> None:
            try:
                handler(event)
            except Exception:
                log.exception("voice: handling %s failed", getattr(event, "name", event))

        return run

    def link(self, node: str | None = None) -> NodeLink:
        """The connection to the FreeSWITCH node ``node`` (a Core-UUID, as stored on the call
        record): a call's commands go to the node it is on. A node no connection has
        introduced itself as yet (or none given) means the first connected node."""
        if node:
            known = [link for link in self.links if link.core_uuid == node]
            for link in known:
                if link.connected:
                    return link
            if known:
                raise FreeSwitchUnreachable(
                    f"FreeSWITCH {known[0].name}, where this call is, is not connected; it reconnects by itself"
                )
        for link in self.links:
            if link.connected:
                return link
        raise FreeSwitchUnreachable("no FreeSWITCH node is connected; it reconnects by itself, try again")

    def link_of(self, uuid: str) -> NodeLink:
        """The connection to the node the call ``uuid`` is on."""
        with self.db():
            record = call_record(uuid)
        return self.link(record.node if record is not None else None)

    # -- calls coming in -------------------------------------------------------------------

    def _accept(self, sock: Any, address: Any) -> None:
        session = CallSession(address, sock, timeout=self.config.command_timeout)
        # No database connection is held for the call's length: each step borrows one, so a
        # thousand callers in menus do not drain the pool.
        CallerFlow(self, session, self.config).run()

    def db(self) -> Any:
        return self.services.store.connection()

    def entered(self, uuid: str, number: str, name: str, node: str | None = None) -> CallRecord | None:
        self._busy.add(uuid)
        try:
            with self.db():
                return self.services.calls.enter(uuid, number, name, queue=self.config.queue, node=node)
        except CallyardError as exc:
            log.warning("voice: cannot take call %s from %s: %s", uuid, number, exc.message)
            return None

    def menu_failed(self, uuid: str, reason: str) -> None:
        """The menu could not go on with the caller still there: a call that never reached a
        queue is hung up (its record ends with ``reason``) rather than left parked for good.
        One already queued stays: routing and its queue's timeout take care of it."""
        with self.db():
            record = call_record(uuid)
        if record is None or record.state != "ivr":
            return
        log.warning("voice: call %s: %s; hanging up", uuid, reason)
        self.ending[uuid] = reason[:255]
        try:
            self.link(record.node).api(f"uuid_kill {uuid} NORMAL_TEMPORARY_FAILURE")
        except FreeSwitchUnreachable as exc:  # the node's connection: its calls are found again on reconnect
            log.info("voice: %s", exc.message)

    @property
    def record_on_answer(self) -> bool:
        """Record from the answer (menus included): the global switch, when no queue overrides it."""
        return self.config.record and not self.queue_record

    def record_in_queue(self, uuid: str, queue: str) -> None:
        """The call reached ``queue`` (from the menu, a transfer or an overflow): with per-queue
        recording, the recording follows that queue's setting. A queue that records starts it, or
        resumes it into the same file; one that does not stops it, so a queue that must never be
        recorded (card payments, say) is not, whatever queue the call came from."""
        if not self.queue_record:
            return
        wants = self.queue_record.get(queue, self.config.record)
        with self.db():
            record = call_record(uuid)
            if record is None or record.state == "ended":
                return
        recording = bool(record.recording) and uuid not in self.paused_recordings
        if wants == recording:
            return
        link = self.link(record.node)
        path = record.recording or recording_path(self.recordings, uuid)
        try:
            if not wants:
                result = link.api(f"uuid_record {uuid} stop {path}")
            elif record.recording:  # paused earlier: go on in the same file
                link.api(f"uuid_setvar {uuid} RECORD_APPEND true")
                result = link.api(f"uuid_record {uuid} start {path}")
            else:
                result = link.api(f"uuid_record {uuid} start {path}")
        except FreeSwitchUnreachable as exc:
            log.warning("voice: recording of call %s not changed for queue %s: %s", uuid, queue, exc.message)
            return
        if not result.startswith("+OK"):
            log.warning("voice: recording of call %s for queue %s failed: %s", uuid, queue, result.strip())
            return
        if not wants:
            self.paused_recordings.add(uuid)
            log.info("voice: recording of call %s stopped: queue %s does not record", uuid, queue)
        elif record.recording:
            self.paused_recordings.discard(uuid)
        else:
            self.recorded(uuid, path)

    def recorded(self, uuid: str, path: str) -> None:
        with self.db():
            self.services.calls.recorded(uuid, path)

    def enqueue(self, uuid: str, queue: str, skills: dict[str, int]) -> None:
        try:
            with self.db():
                self.services.calls.enqueue(uuid, queue, skills)
        except Conflict:
            log.info("voice: call %s ended before it reached queue %s", uuid, queue)
            return
        if self.config.announce_seconds > 0:
            self.spawn(self._announce, uuid)

    def route_now(self) -> None:
        """A routing round in this greenlet, for a call just queued to wait: the caller hears
        nothing until an agent's phone rings or the hold music starts. Woken by the queueing,
        the router's own loop would get to it after everything else ready to run on the loop
        (under load, 5 to 20 ms of pushes, events and chores); its round then finds nothing new."""
        try:
            with self.db():
                self.services.router.route(chores=False)
        except Exception:  # the router's loop routes the call anyway
            log.exception("voice: routing a call as it was queued failed")

    def _announce(self, uuid: str) -> None:
        """Every `announce_seconds` while the caller waits: a prompt and their place in line."""
        while True:
            gevent.sleep(self.config.announce_seconds)
            with self.services.store.connection():
                record = call_record(uuid)
                if record is None or record.state != "queued":
                    return
                calls = self.services.calls
                position = calls.position(uuid)
                wait = None
                if self.config.wait_prompt:
                    queue_id = interaction_of(record.interaction_id).queue_id
                    wait = estimated_wait_seconds(
                        position,
                        calls.recent_handle_seconds(queue_id),
                        calls.agents_able(uuid),
                        self.config.default_handle_seconds,
                    )
            # One broadcast: the prompt, the place in line, the estimated wait in minutes.
            media = announcement(self.config.announce_prompt, position, self.config.wait_prompt, wait)
            self.link(record.node).api(f"uuid_broadcast {uuid} {media} aleg")

    def session_done(self, uuid: str, session: CallSession) -> None:
        """The menu is over; keep the socket while the call lasts (it carries our `resume`)."""
        self._busy.discard(uuid)
        if uuid and session.connected:
            self._sessions[uuid] = session
        else:
            session.close()

    def voicemail(self, uuid: str) -> None:
        """Voicemail entry point (a menu choice, a queue's timeout or after-hours action): the
        caller leaves a message; it waits in the queue for an agent as an interaction with its
        audio."""
        with self.services.store.connection():
            link = self.link_of(uuid)
            path = str(self.recordings / f"voicemail-{uuid}.wav")
            # Claimed before any media: a menu choice and a timeout arriving together record
            # one message, not two (the second gets Conflict).
            record = self.services.calls.voicemail(uuid, path)
            link.api(f"uuid_break {record.uuid} all")
            link.sendmsg(record.uuid, "playback", "voicemail/vm-record_message.wav")
            link.sendmsg(record.uuid, "record", f"{path} 120 200 3")
            link.sendmsg(record.uuid, "hangup", "NORMAL_CLEARING")

    def request_callback(self, uuid: str) -> None:
        """Callback entry point: the caller hangs up and keeps their place in line; when an agent
        is free the agent is called first, then the caller's number."""
        with self.services.store.connection():
            link = self.link_of(uuid)
            record = self.services.calls.callback(uuid)
            link.api(f"uuid_break {record.uuid} all")
            link.sendmsg(record.uuid, "playback", "callyard/callback.wav")
            link.sendmsg(record.uuid, "hangup", "NORMAL_CLEARING")

    def hangup_call(self, uuid: str) -> None:
        self.link_of(uuid).api(f"uuid_kill {uuid} NORMAL_CLEARING")

    def _on_timed_out(self, event: Any) -> None:
        """Routing timed the call out of its queue (waited too long, or the queue is closed): the
        interaction is already in the action's state; what the caller hears follows from the
        call record's state."""
        with self.db():
            record = self.services.calls.of_interaction(event.interaction_id)
            if record is None:
                return
            action = getattr(event, "action", "")
            if record.state == "queued" and action in ("voicemail", "callback", "close"):
                self.spawn(self._time_out_call, record.uuid, action, getattr(event, "reason", ""))
            elif record.state == "callback" or (record.state == "ended" and record.outcome == "voicemail"):
                # The caller already asked for a callback or left a message (a menu choice)
                # while it waited: it stays in line for an agent.
                self.services.calls.back_in_line(event.interaction_id)

    def _time_out_call(self, uuid: str, action: str, reason: str) -> None:
        # The menu's socket may still be sending the hold music: let it finish first, so the
        # uuid_break below stops the music instead of racing it.
        deadline = time.monotonic() + self.config.command_timeout
        while uuid in self._busy and time.monotonic() < deadline:
            gevent.sleep(0.05)
        if action == "voicemail":
            self.voicemail(uuid)
        elif action == "callback":
            self.request_callback(uuid)
        else:  # close: the queue gave up on the call; say goodbye and hang up
            self.ending[uuid] = f"queue timed the call out: {reason or 'nobody could take it'}"[:255]
            link = self.link_of(uuid)
            link.api(f"uuid_break {uuid} all")
            link.sendmsg(uuid, "playback", CLOSED_PROMPT)
            link.sendmsg(uuid, "hangup", "NORMAL_CLEARING")

    # -- offers become phone calls ---------------------------------------------------------

    def _on_offer(self, event: ev.InteractionOffered) -> None:
        # This runs inside the router's round, before the inbox pushes (subscribed first). The
        # dial gets its own greenlet (it then waits for the phone) and starts now, ahead of
        # what else is ready to run: the originate goes out before this round's remaining work
        # and before the loop's other work, instead of after it.
        if self.services.store.db.in_transaction():  # never yield holding SQLite's write lock
            self.spawn(self._offered, event.interaction_id, event.agent_id)
            return
        self.spawn(self._offered, event.interaction_id, event.agent_id, now=True)

    def _offered(self, interaction_id: int, agent_id: int) -> None:
        with self.db():
            record = self.services.calls.of_interaction(interaction_id)
        if record is not None and record.state in ("queued", "callback"):
            self._dial(record.uuid, interaction_id, agent_id, record)

    def _dial(
        self, caller_uuid: str, interaction_id: int, agent_id: int, record: CallRecord | None = None
    ) -> None:
        self._busy.add(caller_uuid)
        try:
            self._dial_agent(caller_uuid, interaction_id, agent_id, record)
        finally:
            self._busy.discard(caller_uuid)

    def _dial_agent(
        self, caller_uuid: str, interaction_id: int, agent_id: int, record: CallRecord | None = None
    ) -> None:
        """Ring the agent's phone for this call (``record``: the call as just read, if it was)."""
        calls, interactions = self.services.calls, self.services.interactions
        with self.db():
            record = record or calls.get(caller_uuid)
            callback = record.state == "callback"
            agent = _AGENT_BY_ID.first(agent_id=agent_id)
            if agent is None:
                raise Agent.DoesNotExist(agent_id)
            try:
                link = self.link(record.node)  # the agent's leg on the caller's node, to bridge
            except FreeSwitchUnreachable:
                ignore_conflict(interactions.reject, agent_id, interaction_id)
                raise
            agent_uuid = str(uuidlib.uuid4())
            if not calls.ringing(caller_uuid, agent_id, agent_uuid, announce=False):
                # The offer timed out (or the caller left) before this dial got its turn: the
                # router has moved on, so this agent's phone must not ring for it.
                log.info("voice: offer of call %s to %s ended before the dial", caller_uuid, agent.login)
                return
        self.agent_legs[agent_uuid] = caller_uuid
        # The inbox hears of the ringing from a greenlet of its own, which starts once the
        # originate below is out and this one waits for the phone: the caller is not kept
        # waiting for the pushes.
        self.spawn(self._announce_call, caller_uuid)
        ring = self.config.ring_seconds
        dial = (
            f"{{origination_uuid={agent_uuid},call_timeout={ring},"
            f"origination_caller_id_number={record.caller_number or 'anonymous'},"
            f"callyard_call={caller_uuid}}}{default_dial_string(agent)} &park"
        )
        try:
            result = link.bgapi(f"originate {dial}", timeout=ring + self.config.command_timeout)
        except FreeSwitchUnreachable:
            result = "-ERR FREESWITCH_UNREACHABLE"
        if not result.startswith("+OK"):
            self.agent_legs.pop(agent_uuid, None)
            log.info("voice: agent %s not reached (%s)", agent.login, result.strip())
            with self.db():
                calls.not_reached(caller_uuid, callback=callback)
                # Routing tries an agent who missed a call again when nobody else is free: a
                # phone that is off, busy or unanswered would ring in a loop. Like a contact
                # centre's "no answer" rule, the agent goes on break until they come back.
                why = UNREACHED.get(result.split(" ", 1)[-1].strip())
                if why and Agent.get_by_id(agent_id).presence == "available":
                    self.services.agents.set_presence(agent_id, "break", why)
                ignore_conflict(interactions.reject, agent_id, interaction_id)
            return
        with self.db():
            try:
                interactions.accept(agent_id, interaction_id)
            except Conflict:
                interaction = interaction_of(interaction_id)
                if not (interaction.state == ACTIVE and interaction.agent_id == agent_id):
                    # The caller left or the offer moved on while the phone rang.
                    self.agent_legs.pop(agent_uuid, None)
                    ignore_unreachable(link.api, f"uuid_kill {agent_uuid} ORIGINATOR_CANCEL")
                    calls.not_reached(caller_uuid, callback=callback)
                    return
        if callback:
            self._call_back(link, caller_uuid, agent_id, agent_uuid)
            return
        bridged = self._bridge(link, caller_uuid, agent_uuid)
        joined_at = self.services.clock()  # before waiting for a connection: the talk starts now
        if not bridged.startswith("+OK"):
            log.info("voice: caller %s gone as agent %s answered", caller_uuid, agent.login)
            ignore_unreachable(link.api, f"uuid_kill {agent_uuid}")
            self.agent_legs.pop(agent_uuid, None)
            with self.db():
                calls.ended(caller_uuid, "caller hung up as the agent answered")
            return
        # "talking" only once they are joined: a restart in between finds the call "ringing"
        # and hands it back to the queue, instead of two parked legs said to be talking.
        with self.db():
            record = calls.connected(caller_uuid, agent_id, agent_uuid, at=joined_at)
            if record.state == "talking" and agent_uuid not in self.agent_legs:
                # The agent's phone hung up before the call was stored as talking (a busy
                # controller): that hangup found it ringing and left it; end it now.
                ignore_unreachable(link.api, f"uuid_kill {caller_uuid} NORMAL_CLEARING")
                calls.ended(caller_uuid, self.ending.pop(caller_uuid, None) or "agent hung up")

    def _bridge(self, link: NodeLink, caller_uuid: str, agent_uuid: str) -> str:
        """Join the caller and the agent. When the event socket breaks as the command goes out,
        both legs wait parked and nobody knows whether FreeSWITCH ran it: bridge them again once
        the connection is back (bridging two legs already joined is harmless), rather than
        leave them parked while the call record says they talk."""
        deadline = time.monotonic() + self.config.command_timeout
        command = f"uuid_bridge {caller_uuid} {agent_uuid}"
        while True:
            try:
                return link.api(command)
            except FreeSwitchUnreachable:
                if time.monotonic() >= deadline:
                    raise
                log.info(
                    "voice: connection lost as %s and %s were bridged; trying again", caller_uuid, agent_uuid
                )
                gevent.sleep(0.2)
                link.ready.wait(timeout=max(0.0, deadline - time.monotonic()))

    def _call_back(self, link: NodeLink, old_uuid: str, agent_id: int, agent_uuid: str) -> None:
        with self.db():
            record = self.services.calls.get(old_uuid)
        customer_uuid = str(uuidlib.uuid4())
        dial = self.config.callback_dial_string.format(number=record.caller_number)
        result = link.bgapi(
            f"originate {{origination_uuid={customer_uuid},call_timeout={self.config.ring_seconds}}}{dial} &park",
            timeout=self.config.ring_seconds + self.config.command_timeout,
        )
        if not result.startswith("+OK"):
            ignore_unreachable(link.api, f"uuid_kill {agent_uuid}")
            self.agent_legs.pop(agent_uuid, None)
            with self.db():
                self.services.calls.callback_failed(old_uuid, agent_id, result.strip())
            return
        with self.db():
            self.services.calls.called_back(old_uuid, customer_uuid, agent_id, agent_uuid)
        self.agent_legs[agent_uuid] = customer_uuid
        link.api(f"uuid_bridge {customer_uuid} {agent_uuid}")

    def _announce_call(self, uuid: str) -> None:
        with self.db():
            self.services.calls.announce(uuid)

    def _on_overflowed(self, event: ev.InteractionOverflowed) -> None:
        with self.db():
            record = self.services.calls.of_interaction(event.interaction_id)
        if record is not None:
            self.spawn(self.record_in_queue, record.uuid, event.to_queue)

    def _on_closed(self, event: ev.InteractionClosed) -> None:
        with self.db():
            self.services.calls.wrapped_up(event.interaction_id)

    # -- what FreeSWITCH tells us ----------------------------------------------------------

    def _on_event(self, link: NodeLink, headers: dict[str, str]) -> None:
        name = headers.get("Event-Name", "")
        uuid = headers.get("Unique-ID", "")
        if name == "CHANNEL_HANGUP":
            self.hung_up.setdefault(uuid, next(self._hangup_order))
            return
        with self.services.store.connection():
            if name == "CHANNEL_HANGUP_COMPLETE":
                self._leg_gone(link, uuid, headers.get("Hangup-Cause", "").split("\n")[0])
            elif name in ("CHANNEL_HOLD", "CHANNEL_UNHOLD"):
                if call_record(uuid) is not None:
                    self.services.calls.hold(uuid, name == "CHANNEL_HOLD")
            elif name == "DTMF":
                self._key_pressed(uuid, headers.get("DTMF-Digit", ""))
            elif name == "CUSTOM":
                sub = headers.get("Event-Subclass", "")
                user = headers.get("username") or headers.get("from-user") or ""
                if sub in ("sofia::register", "sofia::unregister") and user:
                    self._phone_presence(user, sub == "sofia::register")

    def _key_pressed(self, uuid: str, digit: str) -> None:
        """A key pressed on any call (menus read theirs on the call's own socket): the callback
        key from a caller waiting in a queue asks to be called back."""
        key = self.config.callback_key
        if not key or digit != key or uuid in self._busy:
            return
        record = call_record(uuid)
        if record is not None and record.state == "queued":
            log.info("voice: caller %s pressed %s in the queue: callback", uuid, digit)
            self.spawn(self.request_callback, uuid)

    def _agent_first(self, record: CallRecord) -> bool:
        """Whether the agent's leg of this call began to hang up before the caller's."""
        agent = self.hung_up.get(record.agent_uuid or "")
        caller = self.hung_up.get(record.uuid)
        return agent is not None and (caller is None or agent < caller)

    def _leg_gone(self, link: NodeLink, uuid: str, cause: str) -> None:
        calls = self.services.calls
        self.paused_recordings.discard(uuid)
        session = self._sessions.pop(uuid, None)
        if session is not None:
            session.close()
        caller_uuid = self.agent_legs.pop(uuid, None)
        own = call_record(uuid) if caller_uuid is None else None  # a caller's leg has a record
        if caller_uuid is None and own is None:
            # An agent's phone that hung up before a new process (or connection) mapped its leg
            # again: the call record knows it, so the call does not stay "talking" for ever.
            talking = CallRecord.get_or_none(
                (CallRecord.agent_uuid == uuid) & (CallRecord.state == "talking")
            )
            caller_uuid = talking.uuid if talking is not None else None
        if caller_uuid is not None:
            # The agent's leg ended: while talking, that ends the call for the caller too.
            record = call_record(caller_uuid)
            if record is not None and record.state == "talking" and record.agent_uuid == uuid:
                if caller_uuid in self.transferring:
                    self.hung_up.pop(uuid, None)
                    return
                self._hang_up(link, f"{caller_uuid} NORMAL_CLEARING")
                reason = self.ending.pop(caller_uuid, None) or (
                    f"agent hung up ({cause or 'NORMAL_CLEARING'})"
                    if self._agent_first(record)
                    else _why(record, cause)  # the caller did; FreeSWITCH ended this leg with theirs
                )
                calls.ended(caller_uuid, reason)
            elif record is None or record.state != "ringing" or record.agent_uuid != uuid:
                self.hung_up.pop(uuid, None)
            # else: this leg is being joined to its caller (see _dial), who reads it when ending
            return
        record = own
        agent_first = record is not None and record.state == "talking" and self._agent_first(record)
        self.hung_up.pop(uuid, None)
        if record is not None and record.agent_uuid:
            self.hung_up.pop(record.agent_uuid, None)
        if record is None or record.state == "ended":
            return
        reason = self.ending.pop(uuid, None) or (
            # FreeSWITCH hung the caller up with the agent
            f"agent hung up ({cause or 'NORMAL_CLEARING'})" if agent_first else _why(record, cause)
        )
        ended = calls.ended(uuid, reason)
        if record.agent_uuid and record.state in ("ringing", "talking"):
            self.agent_legs.pop(record.agent_uuid, None)
            self._hang_up(link, f"{record.agent_uuid} ORIGINATOR_CANCEL")
        log.info("voice: call %s ended: %s", uuid, ended.reason if ended else reason)

    def _hang_up(self, link: NodeLink, leg: str) -> None:
        """Hang up the other leg of a call whose one leg ended, from a greenlet of its own: this
        runs on the node's event greenlet, which would otherwise wait out FreeSWITCH's answer
        before reading the next event (every call's end, under load a hundred a second)."""
        self.spawn(ignore_unreachable, link.api, f"uuid_kill {leg}")

    def _phone_presence(self, user: str, registered: bool) -> None:
        agent = (
            Agent.select()
            .where(
                (Agent.dial_string == f"user/{user}") | (Agent.dial_string.is_null() & (Agent.login == user))
            )
            .first()
        )
        if agent is None:
            return
        agents = self.services.agents
        if not registered and agent.presence == "available":
            agents.set_presence(agent.id, "break", PHONE_OFFLINE)
        elif registered and agent.presence == "break" and agent.presence_reason == PHONE_OFFLINE:
            agents.set_presence(agent.id, "available")

    def _reconcile(self, link: NodeLink) -> None:
        """After (re)connecting: find our calls again with `show channels` and pick them up.
        Only this node's calls: another node's calls are that node's connection's business."""
        node = link.learn_core_uuid()
        calls = self.services.calls
        with self.services.store.connection():
            # The calls first, then what is live: a call that comes in between is then not in
            # the list, rather than in the list and missing from `show channels` (and ended).
            known = calls.open_calls()
            live = link.channels()
            for record in known:
                if record.state == "callback" or record.uuid in self._busy:
                    continue
                if record.node is None and record.uuid in live:
                    calls.on_node(record.uuid, node)  # a call from before nodes were stored
                elif record.node != node and len(self.links) > 1:
                    # Another node's call (or one whose node is not connected yet): that node's
                    # connection picks it up. With one node, a call of an older Core-UUID (the
                    # node restarted) is this node's to close.
                    continue
                if record.uuid not in live:
                    calls.ended(record.uuid, "call ended while Callyard was away from FreeSWITCH")
                    if record.agent_uuid in live:
                        ignore_unreachable(link.api, f"uuid_kill {record.agent_uuid}")
                    continue
                if record.state == "talking":
                    if record.agent_uuid in live:
                        self.agent_legs[record.agent_uuid] = record.uuid
                    else:
                        ignore_unreachable(link.api, f"uuid_kill {record.uuid} NORMAL_CLEARING")
                        calls.ended(record.uuid, "agent left while Callyard was away")
                elif record.state == "ringing" and record.agent_uuid in self.agent_legs:
                    pass  # this process is dialling it still (the connection came back mid-way)
                elif record.state == "ringing":
                    # The phone rang for a dial attempt that died with the old process.
                    if record.agent_uuid in live:
                        ignore_unreachable(link.api, f"uuid_kill {record.agent_uuid}")
                    calls.not_reached(record.uuid)
                    if record.agent_id:
                        ignore_conflict(
                            self.services.interactions.reject, record.agent_id, record.interaction_id
                        )
                elif record.state == "ivr":
                    # The menu's socket died with the old process: the caller waits in the queue.
                    self.enqueue(record.uuid, self.config.queue, {})
                    self.record_in_queue(record.uuid, self.config.queue)
                    link.sendmsg(record.uuid, "playback", self.config.music_on_hold)
        log.info("voice: picked up %d open call(s) on %s", len(calls.open_calls()), link.name)


def _why(record: CallRecord, cause: str) -> str:
    where = {
        "ivr": "in the menu",
        "queued": "waiting in the queue",
        "ringing": "while an agent's phone rang",
        "talking": "during the conversation",
    }.get(record.state, "")
    return f"caller hung up {where} ({cause or 'NORMAL_CLEARING'})".replace("  ", " ")


def ignore_conflict(fn: Any, *args: Any) -> None:
    with contextlib.suppress(Conflict):
        fn(*args)


def ignore_unreachable(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except FreeSwitchUnreachable as exc:
        log.info("voice: %s", exc.message)
