"""Dialplan applications of the simulated switch, run one after another per channel, each
announced by CHANNEL_EXECUTE and closed by CHANNEL_EXECUTE_COMPLETE as FreeSWITCH does."""

from __future__ import annotations

import logging
import queue
import re
import struct
import threading
import uuid as uuidlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .channel import Channel
    from .switch import Switch

log = logging.getLogger(__name__)
APP_SYNTAX = re.compile(r"^&?([\w:]+)(?:\((.*)\))?\s*(.*)$")


def enqueue(sw: Switch, ch: Channel, name: str, arg: str, app_uuid: str | None = None) -> None:
    ch.apps.put((name, arg, app_uuid or str(uuidlib.uuid4())))
    with sw.lock:
        if ch.executing:
            return
        ch.executing = True
    threading.Thread(target=_exec_loop, args=(sw, ch), daemon=True, name="fs-exec").start()


def run_inline(sw: Switch, ch: Channel, app: str) -> None:
    """Start an originate's application: ``&park``, ``&playback(x)`` or ``park``."""
    m = APP_SYNTAX.match(app.strip())
    name, arg = (m.group(1), m.group(2) or m.group(3) or "") if m else ("park", "")
    enqueue(sw, ch, name, arg)


def flush(ch: Channel) -> None:
    while True:
        try:
            item = ch.apps.get_nowait()
        except queue.Empty:
            return
        if item is None:  # keep the hangup's wake-up
            ch.apps.put(None)
            return


def _exec_loop(sw: Switch, ch: Channel) -> None:
    while ch.alive:
        item = ch.apps.get()  # a hangup puts None here to wake this thread for good
        if item is None or not ch.alive:
            break
        name, arg, app_uuid = item
        ch.app_done.clear()
        try:
            _run(sw, ch, name, arg, app_uuid)
        except Exception:
            log.exception("application %s failed", name)
        finally:
            ch.app_done.set()
    with sw.lock:
        ch.executing = False


def _run(sw: Switch, ch: Channel, name: str, arg: str, app_uuid: str) -> None:
    ch.interrupt.clear()
    ch.application, ch.application_data = name, arg
    if arg:
        ch.variables["current_application_data"] = arg
    ch.variables["current_application"] = name
    data = [("Application-Data", arg)] if arg else []
    sw.fire(
        "CHANNEL_EXECUTE",
        ch,
        after=[("Application", name), *data, ("Application-UUID", app_uuid)],
    )
    for hook in list(sw.on_app_start):
        try:
            hook(ch, name, arg)
        except Exception:
            log.exception("app hook failed")
    handler = APPS.get(name)
    if handler is None:
        log.warning("simulated switch: application %s is not simulated; skipped", name)
        response = "_none_"
    else:
        response = handler(sw, ch, arg)
    ch.application, ch.application_data = "", ""
    sw.fire(
        "CHANNEL_EXECUTE_COMPLETE",
        ch,
        after=[
            ("Application", name),
            *data,
            ("Application-Response", response),
            ("Application-UUID", app_uuid),
        ],
    )


def _wait(ch: Channel, seconds: float | None) -> bool:
    """Wait out a media operation; True when it was cut short (break, hangup, bridge)."""
    return ch.interrupt.wait(seconds)


def _media_seconds(sw: Switch, path: str) -> float | None:
    if path.startswith("local_stream://"):
        return None  # music on hold plays until something stops it
    if path.startswith("silence_stream://"):
        ms = path.split("://", 1)[1].split(",")[0]
        return max(int(ms), 0) / 1000 * sw.playback_seconds * 10 if ms.lstrip("-").isdigit() else 0
    return sw.playback_seconds


def _answer(sw: Switch, ch: Channel, _arg: str) -> str:
    sw.answer(ch)
    ch.set_state("CS_EXECUTE")
    return "_none_"


def _set(sw: Switch, ch: Channel, arg: str) -> str:
    key, _, value = arg.partition("=")
    if key:
        ch.variables[key.strip()] = value
    return "_none_"


def _export(sw: Switch, ch: Channel, arg: str) -> str:
    _set(sw, ch, arg)
    key = arg.partition("=")[0].strip()
    names = [n for n in ch.variables.get("export_vars", "").split(",") if n]
    ch.variables["export_vars"] = ",".join([*names, key])
    return "_none_"


def _playback_event(sw: Switch, ch: Channel, name: str, path: str, status: str = "") -> None:
    # A real 1.10 announces sound files, not generated streams (tone_stream://,
    # local_stream://): the transcripts show no PLAYBACK_* for those.
    if "://" not in path:
        extra = [("Playback-Status", status)] if status else []
        sw.fire(name, ch, after=[("Playback-File-Path", path), *extra])


def _playback(sw: Switch, ch: Channel, arg: str) -> str:
    _playback_event(sw, ch, "PLAYBACK_START", arg)
    broke = _wait(ch, _media_seconds(sw, arg))
    _playback_event(sw, ch, "PLAYBACK_STOP", arg, "break" if broke else "done")
    return "FILE PLAYED"


def _next_digit(ch: Channel, seconds: float) -> str | None:
    """A digit the caller pressed, or None on timeout or interruption."""
    end = seconds
    step = 0.02
    while end > 0:
        if ch.interrupt.is_set():
            return None
        try:
            return ch.dtmf.get(timeout=min(step, end))
        except queue.Empty:
            end -= step
    return None


def _play_and_get_digits(sw: Switch, ch: Channel, arg: str) -> str:
    parts = arg.split(" ")
    if len(parts) < 9:
        return "_none_"
    lo, hi, tries, timeout = (int(p) for p in parts[:4])
    terminators, prompt, invalid, var, regex = parts[4:9]
    digit_timeout = int(parts[9]) if len(parts) > 9 and parts[9].isdigit() else timeout
    ch.variables.pop(var, None)
    for _attempt in range(max(tries, 1)):
        _playback_event(sw, ch, "PLAYBACK_START", prompt)
        digits = ""
        # The prompt plays until the first key, then keys are read until enough, a
        # terminator or a pause.
        first = _next_digit(ch, (_media_seconds(sw, prompt) or 0) + timeout / 1000)
        _playback_event(sw, ch, "PLAYBACK_STOP", prompt, "done")
        digit = first
        while digit is not None:
            if digit in terminators:
                break
            digits += digit
            if len(digits) >= hi:
                break
            digit = _next_digit(ch, digit_timeout / 1000)
        if ch.interrupt.is_set():
            return "FILE PLAYED"
        if lo <= len(digits) and re.search(regex, digits):
            ch.variables[var] = digits
            return "_none_"
        if invalid and invalid != "silence_stream://250" and _wait(ch, _media_seconds(sw, invalid)):
            return "FILE PLAYED"
    return "_none_"


def _unset(sw: Switch, ch: Channel, arg: str) -> str:
    ch.variables.pop(arg.strip(), None)
    return "_none_"


def _record(sw: Switch, ch: Channel, arg: str) -> str:
    """``record <path> [max seconds]``: records until hangup, a break or the limit."""
    parts = arg.split()
    if not parts:
        return "_none_"
    limit = float(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    start_recording(sw, ch, parts[0])
    _wait(ch, limit)
    stop_recordings(sw, ch, parts[0])
    return "_none_"


def _park(sw: Switch, ch: Channel, _arg: str) -> str:
    sw.fire("CHANNEL_PARK", ch)
    _wait(ch, None)
    sw.fire("CHANNEL_UNPARK", ch)
    return "_none_"


def _sleep(sw: Switch, ch: Channel, arg: str) -> str:
    _wait(ch, int(arg or 0) / 1000)
    return "_none_"


def _hangup(sw: Switch, ch: Channel, arg: str) -> str:
    sw.hangup(ch, arg.strip() or "NORMAL_CLEARING")
    return "_none_"


def _record_session(sw: Switch, ch: Channel, arg: str) -> str:
    start_recording(sw, ch, arg.strip())
    return "_none_"


def _bridge(sw: Switch, ch: Channel, arg: str) -> str:
    result = sw.originate(arg, "park")
    if not result.startswith("+OK"):
        cause = result.split(" ", 1)[-1].strip()
        ch.variables.update({"originate_disposition": cause, "DIALSTATUS": cause})
        return "_none_"
    other = sw.get(result.split()[1])
    if other is None:
        return "_none_"
    sw.bridge(ch, other)
    ch.interrupt.clear()
    ch.variables.update({"originate_disposition": "SUCCESS", "DIALSTATUS": "SUCCESS"})
    while ch.alive and ch.other is other:
        ch.interrupt.wait(0.05)
    return "_none_"


def _eavesdrop(sw: Switch, ch: Channel, arg: str) -> str:
    target = sw.get(arg.strip())
    if target is None:
        return "_none_"
    sw.answer(ch)
    ch.variables["eavesdrop_target"] = target.uuid
    while ch.alive and target.alive and not ch.interrupt.is_set():
        target.hungup.wait(0.05)
    return "_none_"


def _intercept(sw: Switch, ch: Channel, arg: str) -> str:
    target = sw.get(arg.split()[-1]) if arg else None
    if target is None:
        return "_none_"
    sw.answer(ch)
    sw.bridge(ch, target)
    ch.interrupt.clear()
    while ch.alive and ch.other is target:
        ch.interrupt.wait(0.05)
    return "_none_"


APPS = {
    "answer": _answer,
    "pre_answer": _answer,
    "set": _set,
    "unset": _unset,
    "record": _record,
    "export": _export,
    "playback": _playback,
    "play_and_get_digits": _play_and_get_digits,
    "park": _park,
    "sleep": _sleep,
    "hangup": _hangup,
    "record_session": _record_session,
    "bridge": _bridge,
    "eavesdrop": _eavesdrop,
    "three_way": _eavesdrop,
    "intercept": _intercept,
}


# -- media that outlives an application ------------------------------------------------------


def start_recording(sw: Switch, ch: Channel, path: str) -> None:
    # FreeSWITCH creates the file when recording starts and writes it as the call goes on, so
    # it exists (a WAV header, then audio) for as long as the call lasts, not only after it.
    # With RECORD_APPEND=true it goes on in the file it finds instead.
    if ch.variables.get("RECORD_APPEND") != "true" or not Path(path).is_file():
        ch.recorded_seconds[path] = 0.0
        write_wav(Path(path), seconds=0)
    ch.recordings.append(path)
    sw.fire("RECORD_START", ch, after=[("Record-File-Path", path)])


def stop_recordings(sw: Switch, ch: Channel, path: str | None = None) -> None:
    with sw.lock:  # the record app and a hangup may stop the same recording at once
        stopping = [r for r in ch.recordings if path is None or r == path]
        ch.recordings[:] = [r for r in ch.recordings if r not in stopping]
    for rec in stopping:
        ch.recorded_seconds[rec] = ch.recorded_seconds.get(rec, 0.0) + 0.2
        write_wav(Path(rec), seconds=ch.recorded_seconds[rec])
        sw.fire("RECORD_STOP", ch, after=[("Record-File-Path", rec)])


def write_wav(path: Path, seconds: float) -> None:
    """A real (silent) 8 kHz mono WAV where FreeSWITCH would have written the recording."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        frames = int(8000 * seconds)
        data = b"\x00\x00" * frames
        header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt "
        header += struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16) + b"data"
        path.write_bytes(header + struct.pack("<I", len(data)) + data)
    except OSError:
        log.warning("simulated switch: cannot write recording %s", path)


def broadcast(sw: Switch, ch: Channel, path: str) -> None:
    def play() -> None:
        app_uuid = str(uuidlib.uuid4())
        sw.fire(
            "CHANNEL_EXECUTE",
            ch,
            after=[("Application", "playback"), ("Application-Data", path), ("Application-UUID", app_uuid)],
        )
        ch.hungup.wait(sw.playback_seconds)
        sw.fire(
            "CHANNEL_EXECUTE_COMPLETE",
            ch,
            after=[
                ("Application", "playback"),
                ("Application-Data", path),
                ("Application-Response", "FILE PLAYED"),
                ("Application-UUID", app_uuid),
            ],
        )

    threading.Thread(target=play, daemon=True, name="fs-broadcast").start()


def hang_up_after_bridge(sw: Switch, ch: Channel, seconds: float) -> None:
    def watch() -> None:
        if ch.bridged.wait(timeout=600) and not ch.hungup.wait(seconds):
            sw.hangup(ch, "NORMAL_CLEARING")

    threading.Thread(target=watch, daemon=True, name="fs-talk").start()
