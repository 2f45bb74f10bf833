"""The voice adapter: starts the FreeSWITCH controller and gives the inbox its call controls.

Socket.IO events on the agents' namespace (``/agent``), each answered with an ack like the
inbox's own: ``call.hangup``, ``call.hold``, ``call.resume``, ``call.transfer`` (to a queue or an agent)
for the agent who has the call, and ``call.listen`` / ``call.whisper`` / ``call.barge`` for
supervisors. ``GET /calls/<interaction id>/recording`` plays a call's recording to whoever may
see the interaction.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, abort, send_file
from flask_login import current_user
from flask_socketio import SocketIO

from callyard.config import VoiceConfig
from callyard.errors import CallyardError, Forbidden, InvalidInput, Unauthorized
from callyard.models import Agent, Interaction, OutboxItem
from callyard.services import Services

if TYPE_CHECKING:
    from .controller import VoiceController
    from .controls import CallControls

log = logging.getLogger(__name__)
NAMESPACE = "/agent"
SUPERVISORS = ("supervisor", "admin")


class VoiceAdapter:
    name = "voice"

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
        self._recordings = recordings
        self._queue_record = dict(queue_record or {})
        self._controller: VoiceController | None = None
        self._controls: CallControls | None = None

    @property
    def controller(self) -> VoiceController:
        # Built on first use: importing it brings in gevent, which only the core process wants
        # (a process that merely lists the channels, like the CLI or a test, stays gevent-free).
        if self._controller is None:
            from .controller import VoiceController

            self._controller = VoiceController(
                self.config, self.services, recordings=self._recordings, queue_record=self._queue_record
            )
        return self._controller

    @property
    def controls(self) -> CallControls:
        if self._controls is None:
            from .controls import CallControls

            self._controls = CallControls(self.controller)
        return self._controls

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    def deliver(self, item: OutboxItem) -> None:
        # Only a queue's "close" timeout or after-hours action writes to a caller: the caller
        # heard the goodbye prompt and was hung up; text cannot be sent to a phone call, so
        # the message fails at once (visibly) instead of being retried for nothing.
        from callyard.services.outbox import GiveUp

        raise GiveUp("a phone caller cannot be sent text; they heard the goodbye prompt and were hung up")

    # -- web -------------------------------------------------------------------------------

    def mount(self, app: Flask, socketio: SocketIO) -> None:
        blueprint = Blueprint("voice", __name__)

        @blueprint.get("/calls/<int:interaction_id>/recording")
        def recording(interaction_id: int):  # noqa: ANN202
            with self.services.store.connection():
                agent = _agent()
                interaction = Interaction.get_or_none(Interaction.id == interaction_id)
                if agent is None:
                    abort(401)
                if interaction is None or not self.services.views.can_see(agent, interaction):
                    abort(404)
                record = self.services.calls.of_interaction(interaction_id)
            path = Path(record.recording) if record is not None and record.recording else None
            if path is None or not path.is_file():
                abort(404)
            return send_file(path, mimetype="audio/wav", conditional=True)

        app.register_blueprint(blueprint)
        controls = {
            "call.hangup": self._hangup,
            "call.hold": lambda agent, data: self._hold(agent, data, True),
            "call.resume": lambda agent, data: self._hold(agent, data, False),
            "call.transfer": self._transfer,
            "call.listen": lambda agent, data: self._eavesdrop(agent, data, "listen"),
            "call.whisper": lambda agent, data: self._eavesdrop(agent, data, "whisper"),
            "call.barge": lambda agent, data: self._eavesdrop(agent, data, "barge"),
        }
        for event, fn in controls.items():
            socketio.on_event(event, self._acked(fn), namespace=NAMESPACE)

    def _acked(self, fn: Any) -> Any:
        def handler(data: Any = None) -> dict[str, Any]:
            try:
                with self.services.store.connection():
                    agent = _agent()
                    if agent is None:
                        raise Unauthorized("your session has ended; log in again", error_id="not-logged-in")
                    return {"ok": True, **(fn(agent, data) or {})}
            except CallyardError as exc:
                return {"ok": False, "error": exc.to_dict()}
            except Exception:
                log.exception("call control failed")
                return {
                    "ok": False,
                    "error": {"error_id": "internal-error", "message": "something went wrong"},
                }

        return handler

    def _owned(self, agent: Agent, data: Any) -> int:
        interaction_id = _interaction_id(data)
        interaction = Interaction.get_or_none(Interaction.id == interaction_id)
        if interaction is None or interaction.agent_id != agent.id:
            raise Forbidden("this call is not yours", error_id="not-your-interaction")
        return interaction_id

    def _hangup(self, agent: Agent, data: Any) -> None:
        self.controls.hangup(self._owned(agent, data))

    def _hold(self, agent: Agent, data: Any, on: bool) -> None:
        self.controls.hold(self._owned(agent, data), on)

    def _transfer(self, agent: Agent, data: Any) -> None:
        """``{"interaction_id": N, "queue": "<name>"}`` or ``{"interaction_id": N, "agent": "<login>"}``."""
        interaction_id = self._owned(agent, data)
        queue, login = data.get("queue"), data.get("agent")
        if (queue is None) == (login is None):
            raise InvalidInput("name either the queue or the agent to transfer to", error_id="invalid-input")
        if login is not None:
            if not isinstance(login, str) or not login.strip():
                raise InvalidInput("agent must be an agent's login", error_id="invalid-input")
            self.controls.transfer_to_agent(interaction_id, agent.id, login)
            return
        if not isinstance(queue, str) or not queue:
            raise InvalidInput("name the queue to transfer to", error_id="invalid-input")
        self.controls.transfer_to_queue(interaction_id, agent.id, queue)

    def _eavesdrop(self, agent: Agent, data: Any, mode: str) -> dict[str, Any]:
        if agent.role not in SUPERVISORS:
            raise Forbidden("only supervisors listen to calls", error_id="not-a-supervisor")
        leg = self.controls.eavesdrop(_interaction_id(data), agent.id, mode)
        return {"leg": leg}


def _agent() -> Agent | None:
    """The logged-in agent (Flask-Login's session), re-read so a disabled account stops at once."""
    if not current_user.is_authenticated:
        return None
    agent = Agent.get_or_none(Agent.id == current_user.agent_id)
    return agent if agent is not None and agent.enabled else None


def _interaction_id(data: Any) -> int:
    value = data.get("interaction_id") if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 2**63 - 1:
        raise InvalidInput("interaction_id must be a positive integer", error_id="invalid-input")
    return value


def from_config(config: Any, services: Services) -> VoiceAdapter | None:
    """Entry point for the core process: the adapter, or None when voice is switched off."""
    voice: VoiceConfig = config.channels.voice
    if not voice.enabled:
        return None
    # Queues that override the global `record` switch ([[queues]] record = true/false).
    queue_record = {q.name: q.record for q in config.queues if q.record is not None}
    return VoiceAdapter(voice, services, recordings=config.data_path("recordings"), queue_record=queue_record)
