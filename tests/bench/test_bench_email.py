"""The email channel under load: 10 concurrent SMTP clients send 5,000 messages of mixed size
to the real gateway of a real `callyard run`, on SQLite and PostgreSQL. Prints messages per
second accepted and committed, p50/p99 time to `250`, memory, and checks that none was lost.
(CALLYARD_BENCH_EMAIL_MESSAGES changes the count.)"""

from __future__ import annotations

import contextlib
import os
import smtplib
import sqlite3
import threading
import time
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

import psycopg2

from figures import per_message, sql_env, summary
from harness import running
from mailkit import CaptureRelay, mail_env, smtp_port

CLIENTS = 10
MESSAGES = int(os.environ.get("CALLYARD_BENCH_EMAIL_MESSAGES", "5000"))


def message(n: int) -> EmailMessage:
    """Mixed sizes: most mail is a short text, some carries a file, a few a large one."""
    msg = EmailMessage()
    msg["From"] = f"Customer {n % 500} <customer{n % 500}@example.ru>"
    msg["To"] = "support@shop.test"
    msg["Subject"] = f"Вопрос номер {n}"
    msg["Message-ID"] = f"<bench-{n}@example.ru>"
    msg.set_content("Здравствуйте! Где мой заказ? Номер 42, оплачен вчера.\n" * 30)
    if n % 10 in (7, 8):
        msg.add_attachment(os.urandom(40_000), maintype="application", subtype="pdf", filename=f"doc-{n}.pdf")
    elif n % 10 == 9:
        msg.add_attachment(os.urandom(400_000), maintype="image", subtype="jpeg", filename=f"photo-{n}.jpg")
    return msg


def committed(db_url: str) -> int:
    query = "SELECT COUNT(*) FROM message WHERE channel = 'email' AND direction = 'in'"
    if db_url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(db_url[len("sqlite:///") :])) as conn:
            return conn.execute(query).fetchone()[0]
    with contextlib.closing(psycopg2.connect(db_url)) as conn, conn.cursor() as cur:
        cur.execute(query)
        return cur.fetchone()[0]


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 when it is gone)."""
    with contextlib.suppress(OSError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def test_bench_email(tmp_path, db_url):  # noqa: ANN001
    kind = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    relay = CaptureRelay().start()
    try:
        with running(
            tmp_path, db_url, env={**mail_env(relay), "CALLYARD_LOG_LEVEL": "warning", **sql_env()}, agents=()
        ) as srv:
            port = smtp_port(srv)
            prepared = [message(n).as_bytes(policy=SMTP_POLICY) for n in range(MESSAGES)]
            durations: list[float] = []
            failures: list[str] = []
            lock = threading.Lock()

            def client(k: int) -> None:
                with smtplib.SMTP("127.0.0.1", port, timeout=120) as smtp:
                    for n in range(k, MESSAGES, CLIENTS):
                        start = time.perf_counter()
                        try:
                            smtp.sendmail(f"customer{n % 500}@example.ru", ["support@shop.test"], prepared[n])
                        except smtplib.SMTPException as exc:
                            with lock:
                                failures.append(f"{n}: {exc}")
                            continue
                        with lock:
                            durations.append(time.perf_counter() - start)

            threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
            logged = len(srv.output)
            processes = [srv.proc.pid, *children(srv.proc.pid)]
            cpu_before = [cpu_seconds(p) for p in processes]
            start_all = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            total = time.perf_counter() - start_all
            cpu = [cpu_seconds(p) - before for p, before in zip(processes, cpu_before, strict=True)]
            assert durations, f"nothing was accepted: {failures[:3]}"
            summary(
                f"email accepted (250 after commit) on {kind}, {CLIENTS} clients",
                durations,
                total,
                "messages",
            )
            print(
                f"BENCH email on {kind}: CPU per message {cpu[0] / len(durations) * 1000:.2f} ms core, "
                f"{sum(cpu[1:]) / len(durations) * 1000:.2f} ms gateway"
            )
            per_message(f"email on {kind}", srv.output[logged:], len(durations))
            stored = committed(db_url)
            gateways = children(srv.proc.pid)
            print(
                f"BENCH email on {kind}: {stored} of {MESSAGES} committed, {len(failures)} refused; "
                f"RSS core {rss_mb(srv.proc.pid):.0f} MB, gateway {sum(rss_mb(p) for p in gateways):.0f} MB"
            )
            assert failures == [], failures[:5]
            assert stored == MESSAGES  # none lost, none twice
    finally:
        relay.stop()
