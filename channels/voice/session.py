"""What a caller goes through on the outbound socket: answer, recording, greeting, menus,
then music on hold in the queue. Runs in its own greenlet per call."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gevent
import gevent.event

from callyard.config import VoiceConfig
from callyard.errors import CallyardError

from .esl import CallSession, NotConnectedError, SessionGone
from .ivr import MenuWalk

if TYPE_CHECKING:
    from .controller import VoiceController

log = logging.getLogger(__name__)
CHOICE_VAR = "callyard_choice"


def caller_of(data: dict[str, str]) -> tuple[str, str, str]:
    """(uuid, number, name) from the channel data FreeSWITCH sends on ``connect``."""
    uuid = data.get("Unique-ID") or data.get("Channel-Unique-ID") or data.get("variable_uuid") or ""
    number = data.get("Caller-Caller-ID-Number") or data.get("Channel-Caller-ID-Number") or ""
    name = data.get("Caller-Caller-ID-Name") or data.get("Channel-Caller-ID-Name") or ""
    return uuid.strip(), number.strip()[:64], name.strip()[:128]


def recording_path(recordings: Path, uuid: str) -> str:
    return str(recordings / f"{uuid}.wav")


class CallerFlow:
    def __init__(self, controller: VoiceController, session: CallSession, config: VoiceConfig) -> None:
        self._ctl = controller
        self._session = session
        self._config = config
        self.uuid = ""

    def run(self) -> None:
        session = self._session
        try:
            session.connect()
            uuid, number, name = caller_of(session.session_data or {})
            if not uuid:
                log.warning("voice: FreeSWITCH connected a call without a Unique-ID; hanging up")
                session.send("sendmsg\ncall-command: hangup\nhangup-cause: CALL_REJECTED")
                return
            self.uuid = uuid
            # Keep the call when this socket goes (a restart): the dialplan parks it. Only the
            # completions the menu waits for: a call's other events (thirty-odd kilobytes of
            # headers) come over the node's inbound connection already. One write, one wait.
            session.send_many(["resume", "myevents", "filter Event-Name CHANNEL_EXECUTE_COMPLETE"])
            # The node the call is on (its Core-UUID): the call's commands go there.
            node = (session.session_data or {}).get("Core-UUID") or None
            record = self._ctl.entered(uuid, number, name, node)  # committed before the answer
            if record is None:
                session.send("sendmsg\ncall-command: hangup\nhangup-cause: TEMPORARY_FAILURE")
                return
            if record.state != "ivr":
                return  # a call we know already (the socket came back): nothing to redo
            # FreeSWITCH's playback stops on "*" by default: a key pressed in the queue (the
            # callback key) must not silence the hold music; the controller reacts to it. The
            # channel runs the applications in the order sent: one write for the three.
            self._execute_many(
                [("set", "park_after_bridge=true"), ("set", "playback_terminators=none")], then="answer"
            )
            if self._ctl.record_on_answer:
                path = recording_path(self._ctl.recordings, uuid)
                self._execute("record_session", path)
                self._ctl.recorded(uuid, path)
            if self._config.greeting:
                self._execute("playback", self._config.greeting, block=True)
            walk = self._menus()
            outcome = walk.outcome
            if outcome.action == "hangup":
                self._execute("hangup", "NORMAL_CLEARING")
                return
            if outcome.action in ("voicemail", "callback"):
                self._ctl.enqueue(uuid, outcome.queue, outcome.skills)
                if outcome.action == "voicemail":
                    self._ctl.voicemail(uuid)
                else:
                    self._ctl.request_callback(uuid)
                return
            # Queued (committed) before the hold music starts: a caller who gives up at the
            # first bar of music gave up waiting in the queue, not in the menu. An agent's
            # phone rings for far longer than the playback takes to start, so the bridge
            # always comes after it (the phone may well be dialled before it starts). The
            # queue's recording setting is applied before any phone can ring.
            self._ctl.enqueue(uuid, outcome.queue, outcome.skills)
            self._ctl.record_in_queue(uuid, outcome.queue)
            self._ctl.route_now()
            self._execute("playback", self._config.music_on_hold)
        except (SessionGone, NotConnectedError, gevent.Timeout) as exc:
            # A timeout is the switch no longer answering this call's socket: unless the caller
            # went meanwhile, they would stay parked, in no queue, for good.
            if isinstance(exc, gevent.Timeout) and self.uuid and not session._lingering:  # noqa: SLF001
                self._ctl.menu_failed(self.uuid, "the menu got no answer from FreeSWITCH in time")
            else:
                log.info("voice: caller %s left during the menu", self.uuid or "?")
        except CallyardError as exc:
            log.info("voice: call %s: %s", self.uuid or "?", exc.message)
        except Exception:
            log.exception("voice: call %s failed in the menu", self.uuid or "?")
        finally:
            self._ctl.session_done(self.uuid, session)

    def _execute(self, app: str, arg: str = "", block: bool = False) -> Any:
        timeout = self._config.command_timeout + self._config.timeout_ms / 1000 * (self._config.tries + 1)
        return self._session.call_command(app, arg or None, block=block, response_timeout=timeout)

    def _execute_many(self, apps: list[tuple[str, str]], then: str) -> Any:
        """Queue ``apps`` and then ``then`` on the channel in one write; wait for ``then`` to
        complete (as ``_execute(then, block=True)``)."""
        session = self._session
        if session._lingering:  # noqa: SLF001 - greenswitch's own flag: the caller hung up
            raise SessionGone()
        done = gevent.event.AsyncResult()
        session.register_expected_event("CHANNEL_EXECUTE_COMPLETE", "current_application", then, done)
        session.send_many([_sendmsg(app, arg) for app, arg in [*apps, (then, "")]])
        timeout = self._config.command_timeout + self._config.timeout_ms / 1000 * (self._config.tries + 1)
        return done.get(block=True, timeout=timeout)

    def _menus(self) -> MenuWalk:
        walk = MenuWalk(self._config)
        while (step := walk.step()) is not None:
            args = " ".join(
                [
                    "1",
                    "1",
                    str(self._config.tries),
                    str(self._config.timeout_ms),
                    "#",
                    step.prompt,
                    self._config.invalid_prompt,
                    CHOICE_VAR,
                    step.regex,
                    str(self._config.timeout_ms),
                ]
            )
            done = self._execute("play_and_get_digits", args, block=True)
            headers = getattr(done, "headers", {}) or {}
            if headers.get("Hangup-Cause") or headers.get("Answer-State") == "hangup":
                raise SessionGone()
            digit = (headers.get(f"variable_{CHOICE_VAR}") or "").strip()
            walk.answer(digit if digit in step.keys and digit else None)
            # The variable stays on the channel: clear it for the next menu.
            self._execute("unset", CHOICE_VAR)
        return walk


def _sendmsg(app: str, arg: str = "") -> str:
    """greenswitch's ``call_command`` message: run ``app`` on this socket's channel."""
    command = f"sendmsg\ncall-command: execute\nexecute-app-name: {app}"
    return f"{command}\nexecute-app-arg: {arg}" if arg else command
