"""Live pushes about calls and the team, for the inbox (issues 5 and 8).

- ``call``: a call moved (ringing, talking, on hold, back in line, ended). The agent who has it
  gets the work item with its ``call`` part; supervisors and admins get it too, for their list
  of live calls and its Listen / Whisper / Barge buttons.
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
from callyard.prepared import Prepared
from callyard.services import Services
from callyard.services.access import MANAGERS, is_manager
from callyard.services.calls import OPEN_CALL_STATES

from .push import NAMESPACE, room
from .push_queue import PushQueue

log = logging.getLogger(__name__)

Ack = dict[str, Any]
On = Callable[[str], Callable[[Callable[[Agent, Any], Ack]], Any]]


# Who watches every call, read for each call push: its SQL built once.
_MANAGERS = Prepared(
    lambda: Agent.select(Agent.id).where(Agent.role.in_(MANAGERS), Agent.enabled == True),  # noqa: E712
)


def managers() -> list[int]:
    return [a.id for a in _MANAGERS.all()]


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
    def emit(agent_id: int, event: str, data: dict[str, Any]) -> None:
        seq = services.journal.record(agent_id, event, data)
        socketio.emit(event, {**data, "seq": seq}, to=room(agent_id), namespace=NAMESPACE)

    def emit_many(sends: list[tuple[int, str, dict[str, Any]]]) -> None:
        if not sends:
            return
        for (agent_id, event, data), seq in zip(sends, services.journal.record_many(sends), strict=True):
            socketio.emit(event, {**data, "seq": seq}, to=room(agent_id), namespace=NAMESPACE)

    def call_changed(event: ev.CallStateChanged) -> None:
        with services.store.connection():
            interaction = services.inbox.interaction(event.interaction_id)
            if interaction is None:
                return
            watchers = [m for m in managers() if m != event.agent_id]
            # The agent's view (with their unread count) and the supervisors' one: read together,
            # and journalled for everyone in one statement.
            wanted = [(interaction, event.agent_id)] if event.agent_id is not None else []
            if watchers:
                wanted.append((interaction, None))
            items = services.inbox.work_items(wanted)
            sends = [(event.agent_id, "call", items[0])] if event.agent_id is not None else []
            sends += [(manager, "call", items[-1]) for manager in watchers]
            emit_many(sends)

    def marked_not_ready(event: ev.AgentMarkedNotReady) -> None:
        with services.store.connection():
            agent = Agent.get_or_none(Agent.id == event.agent_id)
            if agent is None:
                return
            notice = not_ready_notice(agent, event.missed)
            for manager in managers():
                emit(manager, "notice", notice)

    # A call's pushes read it as it is when they run: one waiting per call and agent says it all.
    services.bus.subscribe(
        pushes.defer(call_changed, lambda e: (e.interaction_id, e.agent_id)),  # type: ignore[attr-defined]
        ev.CallStateChanged,
    )
    services.bus.subscribe(pushes.defer(marked_not_ready), ev.AgentMarkedNotReady)


def register(on: On, services: Services) -> None:
    @on("calls_live")
    def calls_live(agent: Agent, _data: Any) -> Ack:
        """Every call open now (in the menu, waiting, ringing, talking): supervisors only."""
        if not is_manager(agent):
            raise Forbidden("only supervisors see every live call", error_id="not-a-supervisor")
        records = CallRecord.select().where(CallRecord.state.in_(OPEN_CALL_STATES)).order_by(CallRecord.id)
        return {"calls": [services.inbox.work_item(r.interaction, None) for r in records]}
