"""Live pushes about calls and the team, for the inbox (issues 5 and 8).

- ``call``: a call moved (ringing, talking, on hold, back in line, ended). The agent who has it
  gets the work item with its ``call`` part; supervisors and admins get it too, for their list
  of live calls and its Listen / Whisper / Barge buttons. It is made in ``push`` (``items_moved``),
  together with the pushes about interactions that come interleaved with it.
- ``notice``: something a supervisor should see at once, like an agent routing put on
  "not-ready" after missing offers in a row.

Both are numbered in each agent's journal like every other push, so a tab that was away gets
them in its catch-up. ``calls_live`` (supervisors only) answers with the calls open now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask_socketio import SocketIO

from callyard import events as ev
from callyard.errors import Forbidden
from callyard.models import Agent, CallRecord
from callyard.services import Services
from callyard.services.access import is_manager
from callyard.services.calls import OPEN_CALL_STATES

from .push import NAMESPACE, managers, room
from .push_queue import PushQueue

log = logging.getLogger(__name__)

Ack = dict[str, Any]
On = Callable[[str], Callable[[Callable[[Agent, Any], Ack]], Any]]


def not_ready_notice(agent: Agent, missed: int) -> dict[str, Any]:
    return {
        "kind": "not_ready",
        "agent_id": agent.id,
        "agent_login": agent.login,
        "agent_name": agent.name,
        "missed": missed,
        "text": f"{agent.name} missed {missed} {'offer' if missed == 1 else 'offers'} in a row "
        "and was put on break (not-ready).",
    }


def init(socketio: SocketIO, services: Services, pushes: PushQueue) -> None:
    def emit_many(sends: list[tuple[int, str, dict[str, Any]]]) -> None:
        if not sends:
            return
        for (agent_id, event, data), seq in zip(sends, services.journal.record_many(sends), strict=True):
            socketio.emit(event, {**data, "seq": seq}, to=room(agent_id), namespace=NAMESPACE)

    def marked_not_ready(event: ev.AgentMarkedNotReady) -> None:
        with services.store.connection():
            agent = Agent.get_or_none(Agent.id == event.agent_id)
            if agent is None:
                return
            notice = not_ready_notice(agent, event.missed)
            emit_many([(manager, "notice", notice) for manager in managers()])

    services.bus.subscribe(pushes.defer(marked_not_ready), ev.AgentMarkedNotReady)


def register(on: On, services: Services) -> None:
    @on("calls_live")
    def calls_live(agent: Agent, _data: Any) -> Ack:
        """Every call open now (in the menu, waiting, ringing, talking): supervisors only."""
        if not is_manager(agent):
            raise Forbidden("only supervisors see every live call", error_id="not-a-supervisor")
        records = CallRecord.select().where(CallRecord.state.in_(OPEN_CALL_STATES)).order_by(CallRecord.id)
        return {"calls": [services.inbox.work_item(r.interaction, None) for r in records]}
