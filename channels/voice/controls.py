"""What agents and supervisors do to a call from the inbox: hang up, hold and resume, blind
transfer to a queue, and listen, whisper or barge (``eavesdrop``)."""

from __future__ import annotations

import contextlib
import uuid as uuidlib
from typing import TYPE_CHECKING

from callyard.errors import CallyardError, Conflict, InvalidInput, NotFound
from callyard.models import Agent, CallRecord, Interaction

from .controller import PHONE_OFFLINE, default_dial_string, ignore_unreachable
from .errors import CallGone

if TYPE_CHECKING:
    from .controller import VoiceController


class CallControls:
    def __init__(self, controller: VoiceController) -> None:
        self._ctl = controller

    def _call_of(self, interaction_id: int) -> CallRecord:
        record = self._ctl.services.calls.of_interaction(interaction_id)
        if record is None:
            raise NotFound("this interaction is not a phone call", error_id="not-a-call")
        if record.state == "ended":
            raise CallGone("the call has ended")
        return record

    def hangup(self, interaction_id: int) -> None:
        uuid = self._call_of(interaction_id).uuid
        self._ctl.ending[uuid] = "agent hung up from the inbox"
        self._ctl.hangup_call(uuid)

    def hold(self, interaction_id: int, on: bool) -> None:
        record = self._call_of(interaction_id)
        result = self._ctl.link(record.node).api(
            f"uuid_hold {'' if on else 'off '}{record.uuid}".replace("  ", " ")
        )
        if not result.startswith("+OK"):
            raise Conflict(f"FreeSWITCH refused: {result.strip()}", error_id="hold-failed")

    def transfer_to_queue(self, interaction_id: int, agent_id: int, queue: str) -> None:
        """Blind transfer to a queue: the agent drops out, the caller hears music and waits."""
        record = self._call_of(interaction_id)
        link = self._ctl.link(record.node)
        self._ctl.transferring.add(record.uuid)
        try:
            self._ctl.services.calls.transferred(record.uuid, agent_id, queue)
            if record.agent_uuid:
                self._ctl.agent_legs.pop(record.agent_uuid, None)
                ignore_unreachable(link.api, f"uuid_kill {record.agent_uuid} NORMAL_CLEARING")
            link.sendmsg(record.uuid, "playback", self._ctl.config.music_on_hold)
        finally:
            self._ctl.transferring.discard(record.uuid)
        self._ctl.record_in_queue(record.uuid, queue)

    def transfer_to_agent(self, interaction_id: int, agent_id: int, login: str) -> None:
        """Blind transfer to one agent: the caller hears hold music while that agent's phone
        rings; answered, they talk; not answered, the call goes back to its queue for whoever
        routing finds next (the offer's usual "no answer" path)."""
        record = self._call_of(interaction_id)
        target = Agent.get_or_none(Agent.login == login.strip().lower())
        if target is None or not target.enabled:
            raise NotFound(f"no agent {login!r}", error_id="agent-not-found")
        if target.id == agent_id:
            raise InvalidInput("this call is already yours", error_id="invalid-transfer")
        if target.presence == "offline":
            raise Conflict(f"{target.name} is offline; pick someone available", error_id="agent-offline")
        if target.presence == "break" and target.presence_reason == PHONE_OFFLINE:
            raise Conflict(f"{target.name}'s phone is not registered", error_id="agent-no-phone")
        if target.presence != "available":
            raise Conflict(
                f"{target.name} is on {target.presence} ({target.presence_reason or 'no reason'}); pick "
                "someone available or transfer to a queue",
                error_id="agent-unavailable",
            )
        link = self._ctl.link(record.node)
        services = self._ctl.services
        self._ctl.transferring.add(record.uuid)
        try:
            before = services.calls.agent_let_go(record.uuid, agent_id)
            # The agent drops out and the music starts before the other phone can ring: music
            # sent after their answer would play over the conversation.
            if before.agent_uuid:
                self._ctl.agent_legs.pop(before.agent_uuid, None)
                ignore_unreachable(link.api, f"uuid_kill {before.agent_uuid} NORMAL_CLEARING")
            link.sendmsg(record.uuid, "playback", self._ctl.config.music_on_hold)
        finally:
            self._ctl.transferring.discard(record.uuid)
        try:
            # The offer to the other agent: the controller rings their phone (InteractionOffered).
            services.workdesk.transfer(agent_id, interaction_id, to_agent=target.login)
        except CallyardError:
            # Checked above, so only a race gets here (they went on break this instant). The
            # caller is off the agent's phone already: back to the queue rather than lost.
            queue = Interaction.get_by_id(interaction_id).queue.name
            with contextlib.suppress(CallyardError):
                services.workdesk.transfer(agent_id, interaction_id, to_queue=queue)
            raise

    def eavesdrop(self, interaction_id: int, supervisor_id: int, mode: str) -> str:
        """A supervisor's phone listens in (``listen``), talks to the agent only (``whisper``) or
        joins the conversation (``barge``). Returns the supervisor's leg."""
        record = self._call_of(interaction_id)
        if record.state != "talking":
            raise Conflict("only a call in conversation can be listened to", error_id="not-talking")
        supervisor = Agent.get_by_id(supervisor_id)
        leg = str(uuidlib.uuid4())
        options = {
            "listen": "",
            "whisper": ",eavesdrop_whisper_bleg=true",
            "barge": ",eavesdrop_whisper_aleg=true,eavesdrop_whisper_bleg=true",
        }
        if mode not in options:
            raise CallyardError(
                f"mode must be listen, whisper or barge, not {mode!r}", error_id="invalid-input"
            )
        app = "three_way" if mode == "barge" else "eavesdrop"
        result = self._ctl.link(record.node).bgapi(
            f"originate {{origination_uuid={leg},call_timeout={self._ctl.config.ring_seconds}{options[mode]}}}"
            f"{default_dial_string(supervisor)} &{app}({record.uuid})",
            timeout=self._ctl.config.ring_seconds + self._ctl.config.command_timeout,
        )
        if not result.startswith("+OK"):
            raise Conflict(
                f"the supervisor's phone did not answer ({result.strip()})", error_id="not-reached"
            )
        return leg
