"""Push benchmark: 2,000 agent Socket.IO clients on one server process, 200 events a second.

Each agent holds one chat conversation; the customers of those conversations write at 200
messages a second in all, and each message is pushed (committed, journalled, emitted) to its
agent's tab. The conversations are written straight into the store before the server starts
(routing 2,000 chats is not what this measures); logins, tokens and every message go through
the real server. The client side runs in its own gevent process (tests/bench/push/clients.py).

CALLYARD_BENCH_AGENTS (2000), CALLYARD_BENCH_RATE (200) and CALLYARD_BENCH_SECONDS (20) change
the load. Figures are printed; nothing is asserted about them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench.figures import per_message, sql_env
from werkzeug.security import generate_password_hash

from callyard import config as config_mod
from callyard.channels.chat.inbound import VisitorTokens
from callyard.models import ACTIVE, Agent, Contact, Identity, Interaction, Queue, StateChange
from callyard.store import Store

from harness import PASSWORD, init_workdir

pytestmark = pytest.mark.bench
CLIENTS = Path(__file__).with_name("clients.py")


def seed(db_url: str, secret_key: str, count: int) -> list[dict[str, str]]:
    """``count`` agents, each holding an active chat with its own visitor; the visitors' tokens."""
    store = Store(db_url)
    store.upgrade()
    tokens = VisitorTokens(secret_key)
    # A real hash at a low work factor: 2,000 logins should not spend minutes in scrypt.
    password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    now = dt.datetime.utcnow().replace(microsecond=0)  # noqa: DTZ003 - the store keeps naive UTC
    plan = []
    with store.db.connection_context(), store.db.atomic():
        queue = Queue.get(Queue.name == "support")
        for n in range(count):
            login = f"bench{n:05d}"
            agent = Agent.create(
                login=login,
                name=f"Bench {n}",
                password_hash=password_hash,
                presence="offline",
                presence_since=now,
                idle_since=now,
                created_at=now,
            )
            visitor, token = tokens.issue()
            contact = Contact.create(name=f"Customer {n}", created_at=now)
            Identity.create(contact=contact, kind="chat_visitor", value=visitor, created_at=now)
            interaction = Interaction.create(
                contact=contact,
                channel="chat",
                queue=queue,
                state=ACTIVE,
                agent=agent,
                thread_key=visitor,
                created_at=now,
                queued_at=now,
                answered_at=now,
                last_message_at=now,
                updated_at=now,
            )
            StateChange.create(interaction=interaction, from_state=None, to_state=ACTIVE, agent=agent, at=now)
            plan.append({"login": login, "token": token})
    store.close()
    return plan


def test_bench_push_to_thousands_of_agents(tmp_path, db_url):  # noqa: ANN001
    count = int(os.environ.get("CALLYARD_BENCH_AGENTS", "2000"))
    rate = os.environ.get("CALLYARD_BENCH_RATE", "200")
    seconds = os.environ.get("CALLYARD_BENCH_SECONDS", "20")
    kind = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    server = init_workdir(tmp_path, db_url)
    server.env["CALLYARD_ROUTING__TICK_SECONDS"] = "1"
    server.env.update(sql_env())
    secret = config_mod.load(server.config, env={}).server.secret_key
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(seed(db_url, secret, count)))
    server.start()
    try:
        print(f"\nBENCH push on {kind}: {count} agents, {rate} messages/s for {seconds} s")
        errors = tmp_path / "clients.err"
        with (
            errors.open("w") as err,
            subprocess.Popen(
                [
                    sys.executable,
                    str(CLIENTS),
                    "--url",
                    server.url,
                    "--plan",
                    str(plan_file),
                    "--server-pid",
                    str(server.proc.pid),
                    "--rate",
                    rate,
                    "--seconds",
                    seconds,
                ],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            ) as clients,
        ):
            logged, lines = 0, []
            assert clients.stdout is not None
            for line in clients.stdout:  # the clients' own deadlines end this
                lines.append(line)
                if line.startswith("BENCH push: sending"):
                    logged = len(server.output)
            returncode = clients.wait(timeout=60)
        stderr = errors.read_text()
        sent = 0
        for line in lines:
            if line.startswith("BENCH push: sending"):
                continue
            print(line, end="")
            if " messages sent at " in line:
                sent = int(line.split("BENCH push: ", 1)[1].split()[0])
        per_message(f"push on {kind}", server.output[logged:], sent)
        if returncode != 0:
            print(stderr[-5000:])
        assert returncode == 0, "the push benchmark's clients failed; see above"
    finally:
        server.stop()
