"""The FreeSWITCH simulator against transcripts of a real FreeSWITCH 1.10: same framing,
Content-Types, reply texts, header order and header-value encoding, over real TCP."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from urllib.parse import unquote

import pytest

from callyard.testing.freeswitch import Caller, FreeSwitchSim, Phone
from callyard.testing.freeswitch.wire import GOODBYE, url_encode

from fs_transcripts import DIR, Frame, Reader, frames_of, inbound, outbound_stream, split_stream

ENVELOPE = 13  # Event-Name .. Event-Sequence, the same on every event


OPEN: list[socket.socket] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


@pytest.fixture
def sim() -> Iterator[FreeSwitchSim]:
    with FreeSwitchSim() as s:
        yield s


def connect(sim: FreeSwitchSim, auth: bool = True) -> Reader:
    sock = socket.create_connection(("127.0.0.1", sim.port))
    OPEN.append(sock)
    r = Reader(sock)
    assert r.frame().raw == b"Content-Type: auth/request\n\n"
    if auth:
        r.send("auth ClueCon")
        assert r.frame().raw == b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
    return r


def transcript_event(name: str, event: str) -> Frame:
    return next(
        f
        for f in frames_of(name)
        if f.content_type == "text/event-plain" and f.event_headers()[0] == ("Event-Name", event)
    )


def names(headers: list[tuple[str, str]]) -> list[str]:
    return [k for k, _ in headers if not k.startswith("variable_")]


def assert_same_layout(ours: list[tuple[str, str]], theirs: list[tuple[str, str]]) -> None:
    """Same envelope, and every header we send appears in the real event in the same order."""
    a, b = names(ours), names(theirs)
    assert a[:ENVELOPE] == b[:ENVELOPE]
    positions = [b.index(n) for n in a if n in b]
    assert positions == sorted(positions), f"header order differs: {a} vs {b}"
    missing = [n for n in a if n not in b and not n.startswith(("Channel-Read", "Channel-Write", "Other-"))]
    assert not missing, f"headers a real FreeSWITCH does not send here: {missing}"
    core = ["Channel-State", "Channel-Call-State", "Unique-ID", "Answer-State", "Caller-Unique-ID"]
    assert all(n in a for n in core if n in b)


def test_url_encoding_round_trips_every_header_value_of_every_transcript() -> None:
    checked = 0
    for path in sorted(DIR.glob("*.txt")):
        frames = (
            split_stream(outbound_stream(path.name))
            if path.name.startswith("outbound")
            else frames_of(path.name)
        )
        for i, frame in enumerate(frames):
            # Event bodies are encoded, and so is the outbound `connect` reply (the first frame).
            encoded = frame.headers if path.name.startswith("outbound") and i == 0 else []
            lines = encoded + (frame.event_headers() if frame.content_type == "text/event-plain" else [])
            for _key, value in lines:
                assert url_encode(unquote(value)) == value
                checked += 1
    assert checked > 2000


def test_auth_api_bgapi_exit_frames_match_the_transcript(sim: FreeSwitchSim) -> None:
    real = inbound("inbound-api.txt")
    r = connect(sim)
    replies = {cmd: None for kind, cmd in real if kind == "send"}
    it = iter(real)
    for kind, item in it:
        if kind != "send" or item == "auth ClueCon":
            continue
        r.send(item)
        ours = r.frame()
        theirs = next(it)[1]
        assert isinstance(theirs, Frame)
        assert [k for k, _ in ours.headers] == [k for k, _ in theirs.headers], item
        assert ours.content_type == theirs.content_type
        replies[item] = ours
        if item in (
            "api no_such_command",
            "api uuid_kill 00000000-0000-0000-0000-000000000000",
            "api show channels as json",
            "api sofia status",
            "exit",
        ):
            assert ours.raw == theirs.raw, item
        if item.startswith("bgapi"):
            job = ours.get("Job-UUID")
            assert ours.get("Reply-Text") == f"+OK Job-UUID: {job}"
            assert len(ours.raw) == len(theirs.raw)
        if item == "api status":
            assert ours.body.decode().splitlines()[1].startswith("FreeSWITCH (Version 1.10")
    bye = r.frame()
    assert bye.raw == frames_of("inbound-api.txt")[-1].raw
    assert bye.body.decode() == GOODBYE
    assert r.closed()


def test_wrong_password_is_refused_and_disconnected_like_freeswitch(sim: FreeSwitchSim) -> None:
    real = frames_of("inbound-auth-bad.txt")
    r = connect(sim, auth=False)
    r.send("auth wrong")
    assert r.frame().raw == real[1].raw
    assert r.frame().raw == real[2].raw
    assert r.closed()


def test_commands_before_auth_are_refused(sim: FreeSwitchSim) -> None:
    r = connect(sim, auth=False)
    r.send("api status")
    assert r.frame().get("Reply-Text") == "-ERR command not found"


def test_filter_nixevent_and_formats_reply_like_freeswitch(sim: FreeSwitchSim) -> None:
    real = inbound("inbound-filter-myevents.txt")
    wanted = [
        i
        for i, (kind, cmd) in enumerate(real)
        if kind == "send" and cmd.split()[0] in ("event", "filter", "nixevent")
    ]
    r = connect(sim)
    for i in wanted:
        r.send(real[i][1])  # type: ignore[arg-type]
        ours = r.frame()
        assert ours.raw == real[i + 1][1].raw  # type: ignore[union-attr]


def test_filter_passes_only_matching_events(sim: FreeSwitchSim) -> None:
    sim.add_phone(Phone("1001"))
    r = connect(sim)
    r.send("event plain CHANNEL_CREATE CHANNEL_HANGUP")
    r.frame()
    r.send("filter Unique-ID 31111111-2222-3333-4444-555555555555")
    r.frame()
    r.send("api originate {origination_uuid=41111111-2222-3333-4444-555555555555}user/1001 &park")
    assert r.frame().body == b"+OK 41111111-2222-3333-4444-555555555555\n"
    r.send("api originate {origination_uuid=31111111-2222-3333-4444-555555555555}user/1001 &park")
    frames = r.until(lambda f: f.content_type == "text/event-plain")
    created = frames[-1].event_headers()
    assert ("Unique-ID", "31111111-2222-3333-4444-555555555555") in created
    assert_same_layout(
        created, transcript_event("inbound-filter-myevents.txt", "CHANNEL_CREATE").event_headers()
    )


def test_json_and_xml_events_have_freeswitch_shape(sim: FreeSwitchSim) -> None:
    sim.add_phone(Phone("1001"))
    r = connect(sim)
    r.send("event json CHANNEL_CREATE BACKGROUND_JOB")
    assert r.frame().get("Reply-Text") == "+OK event listener enabled json"
    r.send("bgapi originate {origination_uuid=21111111-2222-3333-4444-555555555555}user/1001 &park")
    frames = r.until(lambda f: f.content_type == "text/event-json" and b"BACKGROUND_JOB" in f.body)
    real = frames_of("inbound-events-json-call.txt")
    real_job = json.loads(next(f.body for f in real if b'"BACKGROUND_JOB"' in f.body))
    ours = json.loads(frames[-1].body)
    assert list(ours) == list(real_job)
    assert ours["_body"] == "+OK 21111111-2222-3333-4444-555555555555\n"
    assert ours["Content-Length"] == str(len(ours["_body"]))
    assert [k for k, _ in frames[-1].headers] == ["Content-Length", "Content-Type"]
    r.send("event xml CHANNEL_HANGUP")
    r.until(lambda f: f.get("Reply-Text") == "+OK event listener enabled xml")
    r.send("noevents")
    r.until(lambda f: f.get("Reply-Text") == "+OK no longer listening for events")
    r.send("event xml CHANNEL_HANGUP")
    r.until(lambda f: f.content_type == "command/reply")
    r.send("api uuid_kill 21111111-2222-3333-4444-555555555555")
    xml = r.until(lambda f: f.content_type == "text/event-xml")[-1].body.decode()
    assert xml.startswith("<event>\n  <headers>\n    <Event-Name>CHANNEL_HANGUP</Event-Name>\n")
    assert xml.endswith("  </headers>\n</event>\n")
    assert "<FreeSWITCH-IPv6>%3A%3A1</FreeSWITCH-IPv6>" in xml


def test_background_job_for_an_unregistered_phone(sim: FreeSwitchSim) -> None:
    r = connect(sim)
    r.send("event plain BACKGROUND_JOB")
    r.frame()
    r.send("bgapi originate {call_timeout=5}user/1001 &park")
    reply = r.frame()
    job = r.frame()
    real = transcript_event("inbound-originate-agent.txt", "BACKGROUND_JOB")
    assert names(job.event_headers()) == names(real.event_headers())
    assert job.body.endswith(b"Content-Length: 25\n\n-ERR USER_NOT_REGISTERED\n")
    assert ("Job-UUID", reply.get("Job-UUID")) in job.event_headers()
    assert ("Job-Command-Arg", "%7Bcall_timeout%3D5%7Duser/1001%20%26park") in job.event_headers()


def test_sofia_register_and_unregister_events(sim: FreeSwitchSim) -> None:
    r = connect(sim)
    r.send("event plain CUSTOM sofia::register sofia::unregister sofia::expire")
    assert r.frame().get("Reply-Text") == "+OK event listener enabled plain"
    sim.register("1000")
    sim.register("1000", registered=False)
    real = [f for f in frames_of("inbound-sofia-register.txt") if f.content_type == "text/event-plain"]
    for theirs in real:
        ours = r.frame().event_headers()
        assert ours[0] == theirs.event_headers()[0]  # Event-Subclass first, encoded
        ours_names, their_names = names(ours), names(theirs.event_headers())
        assert ours_names[: ENVELOPE + 1] == their_names[: ENVELOPE + 1]
        assert [n for n in ours_names if n in their_names] == [n for n in their_names if n in ours_names]


def test_bridge_hold_and_kill_api_replies(sim: FreeSwitchSim) -> None:
    sim.add_phone(Phone("1001"))
    sim.add_phone(Phone("1002"))
    r = connect(sim)
    r.send("event plain CHANNEL_BRIDGE CHANNEL_HOLD")
    r.frame()
    r.send("api originate {origination_uuid=71111111-2222-3333-4444-555555555555}user/1001 &park")
    r.frame()
    r.send("api originate {origination_uuid=81111111-2222-3333-4444-555555555555}user/1002 &park")
    r.frame()
    r.send("api uuid_bridge 71111111-2222-3333-4444-555555555555 81111111-2222-3333-4444-555555555555")
    assert r.frame().body == b"+OK 81111111-2222-3333-4444-555555555555\n"
    bridge = r.frame().event_headers()
    real = transcript_event("inbound-originate-agent.txt", "CHANNEL_BRIDGE").event_headers()
    assert_same_layout(bridge, real)
    r.send("api uuid_hold 71111111-2222-3333-4444-555555555555")
    frames = r.until(lambda f: f.content_type == "api/response")
    assert frames[-1].body == b"+OK Success\n"
    r.send("api uuid_kill 71111111-2222-3333-4444-555555555555")
    r.until(lambda f: f.content_type == "api/response")
    r.send("api uuid_kill 71111111-2222-3333-4444-555555555555")
    assert r.until(lambda f: f.content_type == "api/response")[-1].body == b"-ERR No such channel!\n"


def test_garbage_and_truncated_commands_do_not_break_the_server(sim: FreeSwitchSim) -> None:
    r = connect(sim)
    r.sock.sendall(b"\xff\xfe\x00garbage\r\n\r\n")
    assert r.frame().get("Reply-Text") == "-ERR command not found"
    r.sock.sendall(b"api stat")  # truncated: the client goes away mid-command
    r.sock.close()
    again = connect(sim)
    again.send("api status")
    assert again.frame().content_type == "api/response"


class FakeController:
    """A bare outbound-socket listener: what the controller sees of one call, frame by frame."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.accepted: list[Reader] = []
        self.ready = threading.Event()

    def accept(self) -> Reader:
        self.server.settimeout(10)
        sock, _ = self.server.accept()
        OPEN.append(sock)
        return Reader(sock)

    def close(self) -> None:
        self.server.close()


def test_outbound_session_frames_match_the_transcript() -> None:
    ctl = FakeController()
    with FreeSwitchSim(outbound=("127.0.0.1", ctl.port)) as sim, contextlib.closing(ctl):
        sim.call(Caller(number="5551234", name="UAC Test", destination="7001"))
        r = ctl.accept()
        real = split_stream(outbound_stream("outbound-abandon.txt"))
        r.send("connect")
        connect_reply = r.frame()
        assert connect_reply.headers[-4:] == [
            ("Content-Type", "command/reply"),
            ("Reply-Text", "%2BOK%0A"),
            ("Socket-Mode", "async"),
            ("Control", "full"),
        ]
        assert_same_layout(
            connect_reply.headers[:-4], split_stream(outbound_stream("outbound-ivr.txt"))[0].headers[:-4]
        )
        r.send("myevents")
        assert r.frame().raw == real[1].raw
        r.send("linger 5")
        assert r.frame().raw == real[2].raw
        r.send(
            "sendmsg\ncall-command: execute\nexecute-app-name: answer\nevent-uuid: aaaaaaaa-0000-0000-0000-000000000001"
        )
        assert r.frame().raw == b"Content-Type: command/reply\nReply-Text: +OK\n\n"
        execute = r.frame().event_headers()
        assert ("Application-UUID", "aaaaaaaa-0000-0000-0000-000000000001") in execute
        sofia = split_stream(outbound_stream("outbound-ivr.txt"))  # a SIP caller, like ours
        assert_same_layout(execute, sofia[4].event_headers())
        seen = r.until(lambda f: ("Event-Name", "CHANNEL_EXECUTE_COMPLETE") in f.event_headers())
        assert [f.event_headers()[0][1] for f in seen] == ["CHANNEL_ANSWER", "CHANNEL_EXECUTE_COMPLETE"]
        r.send(
            "sendmsg\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: local_stream://moh"
        )
        r.until(lambda f: ("Application", "playback") in f.event_headers())
        uuid = connect_reply.get("Unique-ID")
        r.send(f"api uuid_kill {uuid} ORIGINATOR_CANCEL")
        frames = r.until(
            lambda f: (
                f.content_type == "text/disconnect-notice" and f.get("Content-Disposition") == "disconnect"
            )
        )
        kinds = [
            f.event_headers()[0][1] if f.content_type == "text/event-plain" else f.content_type
            for f in frames
        ]
        assert kinds[:3] == ["api/response", "CHANNEL_HANGUP", "text/disconnect-notice"]
        assert "CHANNEL_HANGUP_COMPLETE" in kinds
        linger = frames[2]
        assert [k for k, _ in linger.headers] == [
            k
            for k, _ in real[
                [i for i, f in enumerate(real) if f.content_type == "text/disconnect-notice"][0]
            ].headers
        ]
        assert frames[-1].body.decode() == GOODBYE
        assert r.closed()


def test_outbound_sockets_hear_their_own_call_or_every_call_as_subscribed() -> None:
    """myevents: the socket's own channel only; `event plain ...` without it: every channel's
    (as FreeSWITCH does). Commands written together are answered in order."""
    ctl = FakeController()
    with FreeSwitchSim(outbound=("127.0.0.1", ctl.port)) as sim, contextlib.closing(ctl):
        sim.call(Caller(number="5551001"))
        mine = ctl.accept()
        sim.call(Caller(number="5551002"))
        everyone = ctl.accept()
        # Pipelined, as the controller sends a call's setup: one write, replies in order.
        mine.sock.sendall(b"connect\n\nmyevents\n\nfilter Event-Name CHANNEL_EXECUTE_COMPLETE\n\n")
        own_uuid = mine.frame().get("Unique-ID")
        assert [mine.frame().get("Reply-Text") for _ in range(2)] == [
            "+OK Events Enabled",
            "+OK filter added. [Event-Name]=[CHANNEL_EXECUTE_COMPLETE]",
        ]
        everyone.send("connect")
        other_uuid = everyone.frame().get("Unique-ID")
        everyone.send("event plain CHANNEL_EXECUTE_COMPLETE")
        assert everyone.frame().get("Reply-Text") == "+OK event listener enabled plain"
        mine.send("sendmsg\ncall-command: execute\nexecute-app-name: answer")
        assert mine.frame().get("Reply-Text") == "+OK"
        everyone.until(lambda f: ("Unique-ID", own_uuid) in f.event_headers())  # the other call's
        mine.send(f"api uuid_kill {other_uuid}")
        frames = mine.until(lambda f: f.content_type == "api/response")
        mine.send(f"api uuid_kill {own_uuid}")
        frames += mine.until(lambda f: f.content_type == "text/disconnect-notice")
        ids = {
            dict(f.event_headers()).get("Unique-ID") for f in frames if f.content_type == "text/event-plain"
        }
        assert ids == {own_uuid}  # never the other call's
