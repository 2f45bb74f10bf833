"""No loss, no duplicates across crashes: a core killed after DATA but before its commit makes
the sender retry (no `250`), and a killed gateway is started again by `callyard run`. Real
processes, real SMTP, SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import smtplib
import sqlite3
import threading
import time
from collections.abc import Iterator

import psycopg2
import pytest

from harness import WAIT, AgentClient, running
from mailkit import CaptureRelay, letter, mail_env, send, smtp_port


@pytest.fixture
def relay():  # noqa: ANN201
    capture = CaptureRelay().start()
    yield capture
    capture.stop()


@contextlib.contextmanager
def writes_blocked(db_url: str) -> Iterator[object]:
    """Hold the database so the core's commit of a message has to wait (until released)."""
    if db_url.startswith("sqlite:///"):
        conn = sqlite3.connect(db_url[len("sqlite:///") :], isolation_level=None, timeout=10)
        conn.execute("BEGIN IMMEDIATE")
    else:
        conn = psycopg2.connect(db_url)
        conn.cursor().execute("LOCK TABLE message IN EXCLUSIVE MODE")
    try:
        yield conn
    finally:
        conn.rollback()
        conn.close()


def count_messages(db_url: str, external_id: str) -> int:
    if db_url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(db_url[len("sqlite:///") :])) as conn:
            return conn.execute(
                "SELECT COUNT(*) FROM message WHERE external_id = ?", (external_id,)
            ).fetchone()[0]
    with contextlib.closing(psycopg2.connect(db_url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM message WHERE external_id = %s", (external_id,))
        return cur.fetchone()[0]


def test_a_crash_before_the_commit_sends_no_250_and_the_retry_is_stored_once(tmp_path, db_url, relay):
    msgid = "<crash@example.ru>"
    with running(tmp_path, db_url, env=mail_env(relay), agents=("anna",)) as srv:
        port = smtp_port(srv)
        outcome: list[object] = []

        def deliver() -> None:
            try:
                outcome.append(send(port, letter(msgid=msgid)))
            except (smtplib.SMTPException, OSError) as exc:
                outcome.append(exc)

        with writes_blocked(db_url):
            client = threading.Thread(target=deliver)
            client.start()
            time.sleep(1.5)  # the message is in the core's hands, its commit waiting
            assert outcome == [], f"answered before the commit: {outcome}"
            srv.proc.send_signal(signal.SIGKILL)
            srv.proc.wait(timeout=WAIT)
            client.join(timeout=30)
            srv.stop()  # collects the dead core's output, once its orphaned gateway has gone too
        (result,) = outcome
        assert isinstance(result, (smtplib.SMTPException, OSError)), f"the sender got {result!r}"
        if isinstance(result, smtplib.SMTPResponseException):
            assert 400 <= result.smtp_code < 500, result
        assert count_messages(db_url, msgid) == 0

        # the sender's retry after the restart is stored, once, however often it comes
        srv.start()
        port = smtp_port(srv, nth=2)
        assert send(port, letter(msgid=msgid)) == {}
        assert send(port, letter(msgid=msgid)) == {}
        assert count_messages(db_url, msgid) == 1
        anna = AgentClient(srv.url, "anna")
        anna.available()
        assert anna.events.wait("offer")["channel"] == "email"
        anna.close()


def test_a_crash_with_messages_of_several_senders_at_the_core_sends_no_250_to_any(tmp_path, db_url, relay):
    """Group commit: what several SMTP sessions hand over together is stored together; a crash
    before that commit leaves every sender without a 250, and nothing stored."""
    ids = [f"<crash-{n}@example.ru>" for n in range(4)]
    with running(tmp_path, db_url, env=mail_env(relay), agents=()) as srv:
        port = smtp_port(srv)
        outcomes: dict[str, object] = {}

        def deliver(msgid: str, n: int) -> None:
            try:
                outcomes[msgid] = send(
                    port, letter(msgid=msgid, sender=f"c{n} <c{n}@example.ru>"), sender=f"c{n}@example.ru"
                )
            except (smtplib.SMTPException, OSError) as exc:
                outcomes[msgid] = exc

        with writes_blocked(db_url):
            clients = [threading.Thread(target=deliver, args=(m, n)) for n, m in enumerate(ids)]
            for client in clients:
                client.start()
            time.sleep(2)  # all in the gateway's or the core's hands, the commit waiting
            assert outcomes == {}, f"answered before the commit: {outcomes}"
            srv.proc.send_signal(signal.SIGKILL)
            srv.proc.wait(timeout=WAIT)
            for client in clients:
                client.join(timeout=30)
            srv.stop()
        assert sorted(outcomes) == sorted(ids)
        for msgid, result in outcomes.items():
            assert isinstance(result, (smtplib.SMTPException, OSError)), f"{msgid}: the sender got {result!r}"
            assert count_messages(db_url, msgid) == 0

        srv.start()
        port = smtp_port(srv, nth=2)
        for n, msgid in enumerate(ids):
            sent = letter(msgid=msgid, sender=f"c{n} <c{n}@example.ru>")
            assert send(port, sent, sender=f"c{n}@example.ru") == {}
        assert [count_messages(db_url, m) for m in ids] == [1, 1, 1, 1]


def gateway_pids(output: list[str]) -> list[int]:
    return [
        int(m.group(1)) for line in output if (m := re.search(r"email gateway started \(pid (\d+)\)", line))
    ]


def test_a_killed_gateway_is_started_again(tmp_path, db_url, relay):
    with running(tmp_path, db_url, env=mail_env(relay), agents=("anna",)) as srv:
        smtp_port(srv)
        (first,) = gateway_pids(srv.output)
        os.kill(first, signal.SIGKILL)
        port = smtp_port(srv, nth=2)  # a new gateway process, listening again
        assert send(port, letter(msgid="<after-restart@example.ru>")) == {}
        assert count_messages(db_url, "<after-restart@example.ru>") == 1
        assert any("exited with status -9" in line for line in srv.output)
        second = gateway_pids(srv.output)[-1]
        assert second != first
        os.kill(second, 0)  # running
    # the core stopped, and its gateway with it
    with pytest.raises(ProcessLookupError):
        os.kill(second, 0)
