"""The ``callyard`` command line: run, init, db, agent and queue."""

from __future__ import annotations

import gc
import logging
import secrets
import sys
from pathlib import Path
from typing import Any

import click

from . import config as config_mod
from .errors import CallyardError

DEFAULT_CONFIG = "var/callyard.toml"
DEMO_LOGIN = "demo"


class Context:
    def __init__(self, config_path: str) -> None:
        self.config_path = config_path
        self._services: Any = None

    def config(self) -> config_mod.Config:
        return config_mod.load(self.config_path)

    def services(self, upgrade: bool = True) -> Any:
        """The kernel's services on an up-to-date database."""
        if self._services is None:
            from .services import build

            services = build(self.config())
            services.store.check()
            if upgrade:
                services.store.upgrade(progress=lambda m: click.echo(m, err=True))
            self._services = services
        return self._services


def _fail_cleanly(fn):  # noqa: ANN001, ANN202
    """Domain errors become a one-line message and exit status 1, not a traceback."""

    def wrapped(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        try:
            return fn(*args, **kwargs)
        except CallyardError as exc:
            raise click.ClickException(exc.message) from None

    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = fn.__doc__
    return wrapped


def _pairs(values: tuple[str, ...], sep: str, what: str) -> dict[str, int]:
    out = {}
    for value in values:
        name, _, number = value.partition(sep)
        if not name or not number.isdigit():
            raise click.BadParameter(f"{value!r}: expected {what}", param_hint=f"NAME{sep}NUMBER")
        out[name] = int(number)
    return out


def _skills_text(skills: dict[str, int]) -> str:
    return ", ".join(f"{name}:{level}" for name, level in sorted(skills.items())) or "-"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "config_path",
    envvar="CALLYARD_CONFIG",
    default=DEFAULT_CONFIG,
    show_default=True,
    help="Configuration file (also CALLYARD_CONFIG).",
)
@click.version_option(package_name="callyard")
@click.pass_context
def cli(ctx: click.Context, config_path: str) -> None:
    """Callyard: one team answers every customer on every channel."""
    ctx.obj = Context(config_path)


@cli.command()
@click.option("--host", help="Address to listen on (default: server.host).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port to listen on; 0 picks a free one.")
@click.pass_obj
@_fail_cleanly
def run(obj: Context, host: str | None, port: int | None) -> None:
    """Start Callyard: web app, agent inbox, chat widget, router and outbox."""
    config = obj.config()
    if host:
        config.server.host = host
    if port is not None:
        config.server.port = port
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from .runner import Core

    core = Core(config)
    url = core.start(say=lambda m: click.echo(m, err=True))
    click.echo(f"Callyard is running at {url}")
    if config.server.demo_page:
        click.echo(f"  demo shop with the chat widget: {url}/")
    click.echo(f"  agent inbox:                    {url}/inbox")
    click.echo("Press Ctrl+C to stop.", err=True)
    sys.stdout.flush()
    core.wait()


@cli.command()
@click.option(
    "--force", is_flag=True, help="Overwrite an existing config file (a new secret key logs everyone out)."
)
@click.pass_obj
@_fail_cleanly
def init(obj: Context, force: bool) -> None:
    """Create the config file, the database and a demo agent."""
    path = Path(obj.config_path)
    if path.exists() and not force:
        click.echo(f"{path} exists; keeping it (use --force to write a new one).")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config_mod.SAMPLE.format(secret_key=secrets.token_urlsafe(32)), encoding="utf-8")
        path.chmod(0o600)
        click.echo(f"wrote {path}")
    services = obj.services()
    with services.store.connection():
        services.queues.sync(services.config.queues)
        if services.agents.list():
            click.echo("agents exist already; no demo agent created.")
            return
        password = secrets.token_urlsafe(9)
        services.agents.add(DEMO_LOGIN, "Demo Agent", password, skills={"support": 5})
    click.echo(f"demo agent created: login {DEMO_LOGIN}, password {password}")


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_obj
@_fail_cleanly
def db_upgrade(obj: Context) -> None:
    """Apply pending schema migrations."""
    services = obj.services(upgrade=False)
    applied = services.store.upgrade(progress=click.echo)
    click.echo(f"schema at version {services.store.version()}" + ("" if applied else " (nothing to do)"))


@db.command("status")
@click.pass_obj
@_fail_cleanly
def db_status(obj: Context) -> None:
    """Show the schema version of the database and of this code."""
    from . import migrations

    services = obj.services(upgrade=False)
    click.echo(f"database: {services.store.version()}, code: {migrations.head()}")


@cli.group()
def agent() -> None:
    """Agents: add, list, set passwords, disable and enable."""


@agent.command("add")
@click.argument("login")
@click.option("--name", help="Display name (default: the login).")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="CALLYARD_AGENT_PASSWORD",
    help="Password (prompted; or CALLYARD_AGENT_PASSWORD).",
)
@click.option(
    "--role", type=click.Choice(["agent", "supervisor", "admin"]), default="agent", show_default=True
)
@click.option(
    "--skill", "skills", multiple=True, metavar="NAME:LEVEL", help="A skill, level 1-10. Repeatable."
)
@click.option(
    "--capacity",
    "capacity",
    multiple=True,
    metavar="CHANNEL=N",
    help="Most interactions at once on a channel. Repeatable.",
)
@click.pass_obj
@_fail_cleanly
def agent_add(
    obj: Context,
    login: str,
    name: str | None,
    password: str,
    role: str,
    skills: tuple[str, ...],
    capacity: tuple[str, ...],
) -> None:
    """Add an agent."""
    services = obj.services()
    with services.store.connection():
        created = services.agents.add(
            login,
            name or login,
            password,
            role=role,
            skills=_pairs(skills, ":", "NAME:LEVEL"),
            capacity=_pairs(capacity, "=", "CHANNEL=N"),
        )
    click.echo(f"agent {created.login} added (id {created.id})")


@agent.command("list")
@click.pass_obj
@_fail_cleanly
def agent_list(obj: Context) -> None:
    """List agents with role, presence and skills."""
    services = obj.services()
    with services.store.connection():
        agents = services.agents.list()
        if not agents:
            click.echo("no agents; add one with `callyard agent add LOGIN`")
        for a in agents:
            skills = _skills_text(services.agents.skills(a.id))
            state = a.presence + (f" ({a.presence_reason})" if a.presence_reason else "")
            flag = "" if a.enabled else " [disabled]"
            click.echo(f"{a.login:<16} {a.name:<24} {a.role:<10} {state:<14} {skills}{flag}")


@agent.command("passwd")
@click.argument("login")
@click.option(
    "--password",
    prompt="New password",
    hide_input=True,
    confirmation_prompt=True,
    envvar="CALLYARD_AGENT_PASSWORD",
    help="New password (prompted; or CALLYARD_AGENT_PASSWORD).",
)
@click.pass_obj
@_fail_cleanly
def agent_passwd(obj: Context, login: str, password: str) -> None:
    """Set an agent's password."""
    services = obj.services()
    with services.store.connection():
        services.agents.set_password(services.agents.by_login(login).id, password)
    click.echo(f"password of {login} changed; their open sessions have ended")


def _set_enabled(obj: Context, login: str, enabled: bool) -> None:
    services = obj.services()
    with services.store.connection():
        services.agents.set_enabled(services.agents.by_login(login).id, enabled)
    click.echo(f"agent {login} {'enabled' if enabled else 'disabled'}")


@agent.command("disable")
@click.argument("login")
@click.pass_obj
@_fail_cleanly
def agent_disable(obj: Context, login: str) -> None:
    """Disable an agent: no login, sessions end, pending offers go to others."""
    _set_enabled(obj, login, False)


@agent.command("enable")
@click.argument("login")
@click.pass_obj
@_fail_cleanly
def agent_enable(obj: Context, login: str) -> None:
    """Enable a disabled agent again."""
    _set_enabled(obj, login, True)


@agent.command("order")
@click.argument("login")
@click.argument("position", type=click.IntRange(0, 1_000_000))
@click.pass_obj
@_fail_cleanly
def agent_order(obj: Context, login: str, position: int) -> None:
    """Set where an agent comes in top-down, round-robin and ring-progressively queues
    (lower first; equal positions go by id)."""
    services = obj.services()
    with services.store.connection():
        services.agents.set_routing_order(services.agents.by_login(login).id, position)
    click.echo(f"agent {login} now at position {position} for top-down and round-robin")


@cli.group()
def queue() -> None:
    """Queues: add and list."""


@queue.command("add")
@click.argument("name")
@click.option("--strategy", default="longest-idle", show_default=True, help="How the agent is picked.")
@click.option("--priority", type=int, default=0, show_default=True, help="Higher is served first.")
@click.option(
    "--skill", "skills", multiple=True, metavar="NAME:LEVEL", help="A required skill and minimum level."
)
@click.option(
    "--wrap-up",
    "wrap_up",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Seconds of wrap-up after each interaction (0: until the agent is done).",
)
@click.pass_obj
@_fail_cleanly
def queue_add(
    obj: Context, name: str, strategy: str, priority: int, skills: tuple[str, ...], wrap_up: int
) -> None:
    """Add a queue (queues in the config file are added at start)."""
    services = obj.services()
    with services.store.connection():
        services.queues.add(
            name,
            strategy=strategy,
            priority=priority,
            skills=_pairs(skills, ":", "NAME:LEVEL"),
            wrap_up_seconds=wrap_up,
        )
    click.echo(f"queue {name} added")


@queue.command("list")
@click.pass_obj
@_fail_cleanly
def queue_list(obj: Context) -> None:
    """List queues with strategy, priority and required skills."""
    services = obj.services()
    with services.store.connection():
        queues = services.queues.list()
        if not queues:
            click.echo("no queues; add one with `callyard queue add NAME` or in the config file")
        for q in queues:
            skills = _skills_text(q.skills)
            click.echo(f"{q.name:<20} {q.strategy:<14} priority {q.priority:<4} {skills}")


@cli.command()
@click.argument("name")
@click.option(
    "--parent-pid",
    type=int,
    help="Stop when this process is gone (set by `callyard run`, which starts gateways itself).",
)
@click.pass_obj
@_fail_cleanly
def gateway(obj: Context, name: str, parent_pid: int | None) -> None:
    """Run one channel gateway (e.g. email) in this process.

    `callyard run` starts the enabled gateways itself; run one by hand to put it on another
    machine, with gateway.core_url and gateway.secret (CALLYARD_GATEWAY__SECRET) set.
    """
    config = obj.config()
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from .gateway import run as run_gateway

    def ready(line: str) -> None:
        click.echo(line)
        sys.stdout.flush()
        gc.freeze()  # as in `run` (callyard.gc_tuning): what start made lives as long as the process

    run_gateway(config, name, parent_pid, ready)


# -- integrators: API tokens and webhooks -------------------------------------------------------


@cli.group()
def token() -> None:
    """REST API tokens: create (shown once), list, revoke."""


@token.command("create")
@click.option(
    "--role",
    type=click.Choice(["integrator", "supervisor", "admin"]),
    required=True,
    help="integrator: channels, webhooks, reads; supervisor: assign, close, reply, presence; admin: all.",
)
@click.option("--name", default="", help="What the token is for (default: the role).")
@click.pass_obj
@_fail_cleanly
def token_create(obj: Context, role: str, name: str) -> None:
    """Create a token. It is printed once; only a hash is kept."""
    services = obj.services()
    with services.store.connection():
        created, secret = services.tokens.create(name or role, role)
    click.echo(f"token {created.id} ({created.role}) created; it is shown only now, keep it safe:", err=True)
    click.echo(secret)


@token.command("list")
@click.pass_obj
@_fail_cleanly
def token_list(obj: Context) -> None:
    """List tokens: id, prefix, role, name, last use; revoked ones marked."""
    services = obj.services()
    with services.store.connection():
        tokens = services.tokens.list()
        if not tokens:
            click.echo("no tokens; create one with `callyard token create --role integrator`")
        for t in tokens:
            used = t.last_used_at.strftime("%Y-%m-%d %H:%M") if t.last_used_at else "never used"
            flag = " [revoked]" if t.revoked_at else ""
            click.echo(f"{t.id:<5} {t.prefix}…  {t.role:<11} {t.name:<24} {used}{flag}")


@token.command("revoke")
@click.argument("token_id", type=int)
@click.pass_obj
@_fail_cleanly
def token_revoke(obj: Context, token_id: int) -> None:
    """Revoke a token at once (its next request gets 401)."""
    services = obj.services()
    with services.store.connection():
        revoked = services.tokens.revoke(token_id)
    click.echo(f"token {revoked.id} ({revoked.name}) revoked")


@cli.group()
def webhook() -> None:
    """Webhook subscriptions: add, list, remove, enable, disable, deliveries."""


@webhook.command("add")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    required=True,
    metavar="EVENT",
    help="An event type, e.g. interaction.created or message.created. Repeatable.",
)
@click.option("--description", default="", help="What the endpoint is.")
@click.pass_obj
@_fail_cleanly
def webhook_add(obj: Context, url: str, events: tuple[str, ...], description: str) -> None:
    """Subscribe URL to events; prints the signing secret once."""
    services = obj.services()
    with services.store.connection():
        sub = services.webhooks.subscribe(url, list(events), description)
    click.echo(
        f"webhook {sub.id} added for {', '.join(sub.events)}; signing secret (shown only now):", err=True
    )
    click.echo(sub.secret)


@webhook.command("list")
@click.pass_obj
@_fail_cleanly
def webhook_list(obj: Context) -> None:
    """List subscriptions; disabled ones say why."""
    services = obj.services()
    with services.store.connection():
        subs = services.webhooks.list()
        if not subs:
            click.echo("no webhooks; add one with `callyard webhook add URL --event interaction.created`")
        for s in subs:
            state = "enabled" if s.enabled else f"DISABLED ({s.disabled_reason})"
            click.echo(f"{s.id:<5} {s.url}  [{', '.join(s.events)}]  {state}")


@webhook.command("remove")
@click.argument("webhook_id", type=int)
@click.pass_obj
@_fail_cleanly
def webhook_remove(obj: Context, webhook_id: int) -> None:
    """Remove a subscription and drop its waiting deliveries."""
    services = obj.services()
    with services.store.connection():
        services.webhooks.remove(webhook_id)
    click.echo(f"webhook {webhook_id} removed")


def _set_webhook_enabled(obj: Context, webhook_id: int, enabled: bool) -> None:
    services = obj.services()
    with services.store.connection():
        sub = services.webhooks.update(webhook_id, enabled=enabled)
    click.echo(f"webhook {sub.id} {'enabled' if sub.enabled else 'disabled'}")


@webhook.command("enable")
@click.argument("webhook_id", type=int)
@click.pass_obj
@_fail_cleanly
def webhook_enable(obj: Context, webhook_id: int) -> None:
    """Turn a subscription (back) on; its failure count starts afresh."""
    _set_webhook_enabled(obj, webhook_id, True)


@webhook.command("disable")
@click.argument("webhook_id", type=int)
@click.pass_obj
@_fail_cleanly
def webhook_disable(obj: Context, webhook_id: int) -> None:
    """Stop sending to a subscription."""
    _set_webhook_enabled(obj, webhook_id, False)


@webhook.command("deliveries")
@click.argument("webhook_id", type=int)
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@click.pass_obj
@_fail_cleanly
def webhook_deliveries(obj: Context, webhook_id: int, limit: int) -> None:
    """Show the newest deliveries with every attempt."""
    services = obj.services()
    with services.store.connection():
        deliveries = services.webhooks.deliveries(webhook_id, limit=limit)
    if not deliveries:
        click.echo("no deliveries yet")
    for d in deliveries:
        click.echo(f"delivery {d['id']} {d['event']} {d['state']} (created {d['created_at']})")
        for a in d["attempts"]:
            status = a["status_code"] if a["status_code"] is not None else "-"
            click.echo(
                f"    attempt {a['number']} {a['at']} status {status} {a['duration_ms']} ms {a['error']}"
            )


@cli.command("fs-sim")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address of the event socket.")
@click.option(
    "--port", type=int, default=8021, show_default=True, help="Event socket port (0: any free one)."
)
@click.option("--password", default="ClueCon", show_default=True, help="Event socket password.")
@click.option(
    "--outbound",
    default="127.0.0.1:8084",
    show_default=True,
    help="Where the dialplan's `socket` application connects each call (the Callyard controller).",
)
@click.option("--phones", default="", help="Agent phones to register, e.g. 1001-1010 or 1001,1002.")
@click.option("--answer-after", type=float, default=1.0, show_default=True, help="Seconds phones ring.")
@click.option("--call", "calls", multiple=True, help="Place a call from this number once ready (repeatable).")
def fs_sim(
    host: str,
    port: int,
    password: str,
    outbound: str,
    phones: str,
    answer_after: float,
    calls: tuple[str, ...],
) -> None:
    """Run the FreeSWITCH simulator: a real event-socket server with scripted phones, for
    trying Callyard's voice channel without a FreeSWITCH."""
    import time

    from .testing.freeswitch import Caller, FreeSwitchSim, Phone

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    out_host, _, out_port = outbound.rpartition(":")
    if not out_port.isdigit():
        raise click.BadParameter("expected HOST:PORT", param_hint="--outbound")
    sim = FreeSwitchSim(host=host, port=port, password=password, outbound=(out_host, int(out_port)))
    try:
        sim.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    for user in _phone_users(phones):
        sim.add_phone(Phone(user, answer_after=answer_after))
    click.echo(f"FreeSWITCH simulator: event socket on {host}:{sim.port} (password {password!r})")
    for number in calls:
        sim.call(Caller(number=number))
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()


def _phone_users(spec: str) -> list[str]:
    users: list[str] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        first, _, last = part.partition("-")
        if last and first.isdigit() and last.isdigit():
            users += [str(n) for n in range(int(first), int(last) + 1)]
        else:
            users.append(part)
    return users


@agent.command("phone")
@click.argument("login")
@click.argument("dial_string", required=False)
@click.pass_obj
@_fail_cleanly
def agent_phone(obj: Context, login: str, dial_string: str | None) -> None:
    """Set how FreeSWITCH rings the agent (e.g. user/1001); without DIAL_STRING, show it.

    "-" goes back to the default, user/<login>."""
    services = obj.services()
    with services.store.connection():
        agent = services.agents.by_login(login)
        if dial_string is not None:
            agent = services.agents.set_dial_string(agent.id, None if dial_string == "-" else dial_string)
        click.echo(f"{agent.login}: {agent.dial_string or f'user/{agent.login} (default)'}")
