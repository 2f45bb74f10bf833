"""Configuration: typed defaults, then one TOML file, then ``CALLYARD_*`` environment variables.

Every value is checked once, here, so the rest of the code can trust it. Errors name the key
and say how to fix it. Nested keys in the environment use ``__``:
``CALLYARD_SERVER__PORT=9000`` sets ``[server] port``; a variable is applied when its first
part names a top-level key (``server``, ``database``, ``log_level``, ...). ``DATABASE_URL`` is
honoured as well, because every hosting platform sets it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import routing
from .errors import ConfigError
from .routing.hours import valid_timezone

# every strategy the routing brain knows (longest-idle, ring-all, round-robin, ...)
STRATEGIES = tuple(routing.STRATEGIES)
CHANNELS = ("chat", "email", "voice", "telegram", "api")
ENV_PREFIX = "CALLYARD_"


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    # Signs session cookies, CSRF tokens and chat visitor tokens. `callyard init` writes a
    # random one into the config file; it never lives in the repository.
    secret_key: str = ""
    # Mark cookies Secure (sent over HTTPS only); turn on when served behind HTTPS.
    secure_cookies: bool = False
    # Serve the demo shop page (with the chat widget) at `/`.
    demo_page: bool = True
    # Origins allowed to embed the chat widget ("*" = any site).
    widget_origins: list[str] = field(default_factory=lambda: ["*"])


@dataclass
class DatabaseConfig:
    # sqlite:///relative/path.db (relative to the config file), sqlite:////abs/path.db,
    # or postgresql://user:password@host:5432/dbname
    url: str = "sqlite:///callyard.db"


@dataclass
class RoutingConfig:
    # Seconds an agent has to accept an offer before it goes to the next agent.
    offer_timeout: int = 30
    # How often the router looks at the clock (expired offers, waiting work, wrap-ups over).
    # What is due in between is done at the tick, in one go, and a call arriving meanwhile
    # waits for it: at 1 s, 50 calls a second closed ~50 wrap-ups a tick and the voice bench's
    # queue entry -> dial p99 was 40-43 ms; at 0.25 s, 19-22 ms (issue 5).
    tick_seconds: float = 0.25
    # Offers in a row an agent lets time out before they go to break "not-ready" (0: never).
    max_no_answer: int = 3
    # channel -> channels it blocks while the agent holds one (a call blocks chats and emails).
    blocks: dict[str, list[str]] = field(
        default_factory=lambda: {k: sorted(v) for k, v in routing.DEFAULT_BLOCKS.items()}
    )
    # Seconds between full rebuilds of the router's index from the store (between them, only
    # what events changed is re-read); picks up changes made by other processes, like the CLI.
    resync_seconds: float = 60.0
    # Rounds woken in a burst (many emails at once) are at least this far apart, so one round
    # routes many arrivals instead of a round for each: each round costs the same queries
    # however much it routes. A wake after a quiet moment routes at once. 0: never wait.
    # Each wake that comes sooner waits out the rest, so this is also what a call arriving at
    # a steady pace may wait before routing: at 0.02, 50 calls a second (one every 20 ms) waited
    # 9 ms at the median (issue 5's voice bench); at 0.005 it was 2 ms, for the same CPU.
    gather_seconds: float = 0.005


@dataclass
class OutboxConfig:
    max_attempts: int = 8
    # First retry after this many seconds, doubling each time.
    retry_base_seconds: float = 2.0


@dataclass
class ChatConfig:
    enabled: bool = True
    queue: str = "support"
    max_message_bytes: int = 8192


@dataclass
class EmailConfig:
    """The email channel: an SMTP gateway process for mail in, a relay for replies out."""

    enabled: bool = False
    # Where the SMTP gateway listens (25 in production behind the MX or as a forwarding target).
    host: str = "127.0.0.1"
    port: int = 2525
    # Mail is accepted only for these addresses and for any address at these domains.
    addresses: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    # Queue for new email conversations, and per-address overrides (address -> queue).
    queue: str = "support"
    queue_by_address: dict[str, str] = field(default_factory=dict)
    max_message_bytes: int = 25 * 1024 * 1024
    max_attachments: int = 100
    max_attachment_bytes: int = 10 * 1024 * 1024
    # PEM files; with both set the gateway offers STARTTLS.
    tls_cert: str = ""
    tls_key: str = ""
    # Replies go From the address the customer wrote to; this one when that is unknown.
    from_address: str = ""
    relay_host: str = ""
    relay_port: int = 25
    relay_starttls: bool = False
    # CA bundle that vouches for the relay's certificate; empty: the system's CAs.
    relay_ca_file: str = ""
    relay_username: str = ""
    relay_password: str = ""
    relay_timeout: float = 30.0
    # Answer a new conversation at once with its number (never an automatic message).
    auto_ack: bool = False
    auto_ack_text: str = (
        "Thank you for writing to us. Your message is conversation #{number}; we will answer soon."
    )


@dataclass
class TelegramConfig:
    """The Telegram channel: a gateway process on python-telegram-bot, on when a token is set."""

    # The bot's token from @BotFather. Never commit it: CALLYARD_CHANNELS__TELEGRAM__TOKEN.
    token: str = ""
    queue: str = "support"
    # Answer to /start (and the first message of a new conversation started with it).
    greeting: str = "Hello! Write your question here and one of our team will answer."
    # Long-polling: seconds Telegram holds a getUpdates call open when there is nothing new.
    poll_timeout: int = 25
    # Webhook mode when set: Telegram posts updates to this public https URL; the gateway
    # listens on webhook_host:webhook_port (behind your TLS proxy) and checks webhook_secret.
    webhook_url: str = ""
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret: str = ""
    # Files larger than this are not downloaded; the message says so instead.
    max_file_bytes: int = 20 * 1024 * 1024
    # The Bot API server (a local telegram-bot-api server, or a test double).
    api_url: str = "https://api.telegram.org"


@dataclass
class FreeSwitchNodeConfig:
    host: str = "127.0.0.1"
    port: int = 8021
    # mod_event_socket's password (event_socket.conf.xml); set your own, never ClueCon in production.
    password: str = "ClueCon"  # noqa: S105 - FreeSWITCH's stock default, documented as such


@dataclass
class VoiceMenuConfig:
    # What the caller hears, then keys; each choice is a comma-separated list of actions:
    # "queue:<name>", "menu:<name>", "skill:<name>" (a routing skill, e.g. a language),
    # "voicemail", "callback" (hang up and keep the place in line) or "hangup".
    prompt: str = "callyard/menu.wav"
    choices: dict[str, str] = field(default_factory=dict)
    # What happens after `tries` invalid or silent answers.
    fallback: str = ""


@dataclass
class VoiceConfig:
    enabled: bool = False
    # Where FreeSWITCH's dialplan `socket` application connects each call.
    listen_host: str = "127.0.0.1"
    listen_port: int = 8084
    # One inbound event-socket connection per FreeSWITCH node, for commands and events.
    nodes: list[FreeSwitchNodeConfig] = field(default_factory=lambda: [FreeSwitchNodeConfig()])
    # Queue of calls that go through no menu (or whose menu falls back).
    queue: str = "support"
    greeting: str = ""
    # The first menu ("" = straight to `queue`).
    menu: str = ""
    menus: dict[str, VoiceMenuConfig] = field(default_factory=dict)
    tries: int = 3
    timeout_ms: int = 5000
    invalid_prompt: str = "ivr/ivr-that_was_an_invalid_entry.wav"
    music_on_hold: str = "local_stream://moh"
    # Seconds between "you are number N" announcements in the queue (0: none).
    announce_seconds: int = 0
    announce_prompt: str = "ivr/ivr-hold_connect_call.wav"
    # Seconds an agent's phone rings before the next agent is tried.
    ring_seconds: int = 20
    # Record every call (record_session) into <data_dir>/recordings.
    record: bool = True
    # Longest pause between attempts to reconnect to a FreeSWITCH node.
    reconnect_max_seconds: float = 30.0
    # Seconds to wait for FreeSWITCH to answer a command before the connection counts as lost.
    command_timeout: float = 10.0
    # How a caller who asked for a callback is dialled ({number} is their number).
    callback_dial_string: str = "sofia/gateway/provider/{number}"
    # The key a caller presses while waiting in a queue to be called back instead, keeping
    # their place in line ("" = no callback from the queue).
    callback_key: str = "*"
    # With the place in line, the estimated wait in minutes (position × the queue's recent
    # average handle time ÷ agents able to serve): its prompt ("" = no estimate), and the
    # handle time assumed while a queue has no answered calls yet.
    wait_prompt: str = "callyard/wait.wav"
    default_handle_seconds: int = 300


@dataclass
class ChannelsConfig:
    chat: ChatConfig = field(default_factory=ChatConfig)
    email: EmailConfig = field(default_factory=EmailConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    api: ApiChannelConfig = field(default_factory=lambda: ApiChannelConfig())
    voice: VoiceConfig = field(default_factory=VoiceConfig)


@dataclass
class CapacityConfig:
    chat: int = 3
    email: int = 5
    voice: int = 1
    telegram: int = 3
    api: int = 3


@dataclass
class EscalationConfig:
    """One step: from ``after`` seconds of waiting in the queue, exactly one of: cap the
    required levels at ``min_level``, drop skills, overflow to a queue, or a timeout action."""

    after: int = 0
    min_level: int = 0  # 0: unchanged
    drop_skills: list[str] = field(default_factory=list)
    overflow: str = ""
    timeout: str = ""  # voicemail, callback or close
    message: str = ""  # for close: what the customer is told


@dataclass
class QueueConfig:
    name: str = ""
    strategy: str = "longest-idle"
    priority: int = 0
    # skill name -> minimum level (1-10)
    skills: dict[str, int] = field(default_factory=dict)
    wrap_up_seconds: int = 0
    # Escalation over wait time, in order (see EscalationConfig).
    escalation: list[EscalationConfig] = field(default_factory=list)
    # Business hours: weekday (mon..sun) -> ["09:00-17:00", ...]; empty: always open.
    hours: dict[str, list[str]] = field(default_factory=dict)
    timezone: str = "UTC"
    # Closed days, "YYYY-MM-DD".
    holidays: list[str] = field(default_factory=list)
    # What happens to work while closed: wait, voicemail, callback or close.
    after_hours: str = "wait"
    after_hours_message: str = ""
    # A returning contact goes to their last agent, if available, within this many seconds.
    sticky_seconds: int = 0
    # ring-progressively: seconds before the next agent is rung as well.
    ring_interval: int = 10
    # Voice: record the calls of this queue (true/false), overriding channels.voice.record;
    # unset: the global switch decides.
    record: bool | None = None


@dataclass
class GatewayConfig:
    """How gateway processes (SMTP, Telegram) and the core talk: the internal API."""

    # Shared secret of the internal API. Empty: `callyard run` makes a random one for the
    # gateways it starts; set one to run a gateway on another machine. Never commit it.
    secret: str = ""
    # Where a gateway reaches the core; empty: the core's own server address.
    core_url: str = ""
    # Seconds a gateway holds claimed outbox items before they can be claimed again.
    lease_seconds: int = 60
    # How often a gateway asks for outbound work.
    poll_seconds: float = 1.0
    # Largest request the internal API takes (a message with its attachments).
    max_request_bytes: int = 64 * 1024 * 1024


@dataclass
class Config:
    # Where var data lives (database, recordings, attachments); relative to the config file.
    data_dir: str = "."
    log_level: str = "info"
    server: ServerConfig = field(default_factory=ServerConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    channels: ChannelsConfig = field(default_factory=ChannelsConfig)
    # Default capacity of a new agent per channel.
    capacity: CapacityConfig = field(default_factory=CapacityConfig)
    queues: list[QueueConfig] = field(default_factory=list)
    gateway: GatewayConfig = field(default_factory=GatewayConfig)
    inbox: InboxConfig = field(default_factory=lambda: InboxConfig())
    # Set by the loader: the file this came from (None for pure defaults).
    source: str | None = None
    api: ApiConfig = field(default_factory=lambda: ApiConfig())
    webhooks: WebhooksConfig = field(default_factory=lambda: WebhooksConfig())
    crm: CrmConfig = field(default_factory=lambda: CrmConfig())

    def data_path(self, *parts: str) -> Path:
        base = Path(self.source).parent if self.source else Path.cwd()
        return (base / self.data_dir).joinpath(*parts).resolve()

    def database_url(self) -> str:
        """The database URL with a relative SQLite path made absolute against data_dir."""
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
            return prefix + str(self.data_path(url[len(prefix) :]))
        return url


def load(path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None) -> Config:
    """Load the config file at ``path`` (None: defaults only) and apply environment overrides."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    source = None
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise ConfigError(
                f"config file {p} does not exist; create one with `callyard init` "
                "or point CALLYARD_CONFIG / --config at yours"
            )
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{p} is not valid TOML: {exc}") from exc
        source = str(p.resolve())
    known = {f.name for f in dataclasses.fields(Config)} - {"source"}
    for key, value in sorted(env.items()):
        parts = key[len(ENV_PREFIX) :].lower().split("__")
        # Other CALLYARD_* variables (CALLYARD_CONFIG, CALLYARD_AGENT_PASSWORD, test settings)
        # are not configuration keys; only those naming a top-level key are applied.
        if key.startswith(ENV_PREFIX) and parts[0] in known:
            _set_path(raw, parts, value, key)
    if env.get("DATABASE_URL"):
        raw.setdefault("database", {})
        raw["database"]["url"] = env["DATABASE_URL"]
    config = _build(Config, raw, "")
    config.source = source
    validate(config)
    return config


def _set_path(raw: dict[str, Any], parts: list[str], value: str, env_key: str) -> None:
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{env_key}: '{part}' is not a section")
        node = child
    node[parts[-1]] = value


def _build(cls: type, raw: Any, prefix: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a table, got {raw!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.name != "source"}
    unknown = sorted(set(raw) - known)
    if unknown:
        where = f"[{prefix}]" if prefix else "the top level"
        raise ConfigError(
            f"unknown key {_join(prefix, unknown[0])!r} in {where}; known keys: {', '.join(sorted(known))}"
        )
    values = {name: _coerce(hints[name], raw[name], _join(prefix, name)) for name in raw}
    return cls(**values)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _coerce(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        # bool is an int subclass and int(2.5) == 2: both would slip through silently.
        if isinstance(value, (bool, float)):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected an integer, got {value!r}") from None
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected a number, got {value!r}") from None
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if isinstance(value, str) and item_tp is str:  # from the environment: comma separated
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return [_coerce(item_tp, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        key_tp, val_tp = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table, got {value!r}")
        return {str(k): _coerce(val_tp, v, f"{key}.{k}") for k, v in value.items()}
    if origin in (types.UnionType, typing.Union):
        return None if value is None else _coerce(typing.get_args(tp)[0], value, key)
    raise ConfigError(f"{key}: unsupported type {tp!r}")  # pragma: no cover - programming error


def validate(config: Config) -> None:
    """Range and consistency checks that types alone cannot express."""
    if not 0 <= config.server.port <= 65535:
        raise ConfigError(f"server.port: {config.server.port} is not a TCP port (0-65535)")
    if config.log_level.lower() not in ("debug", "info", "warning", "error"):
        raise ConfigError(f"log_level: {config.log_level!r} is not one of debug, info, warning, error")
    url = config.database.url
    if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise ConfigError(
            f"database.url: {url!r} is not supported; use sqlite:///path.db or postgresql://host/db"
        )
    if config.routing.offer_timeout < 1:
        raise ConfigError("routing.offer_timeout: must be at least 1 second")
    if config.routing.tick_seconds <= 0:
        raise ConfigError("routing.tick_seconds: must be above 0")
    if config.outbox.max_attempts < 1:
        raise ConfigError("outbox.max_attempts: must be at least 1")
    if config.outbox.retry_base_seconds <= 0:
        raise ConfigError("outbox.retry_base_seconds: must be above 0")
    chat = config.channels.chat
    if not 1 <= chat.max_message_bytes <= 1_000_000:
        raise ConfigError("channels.chat.max_message_bytes: must be between 1 and 1000000")
    for name, value in dataclasses.asdict(config.capacity).items():
        if value < 0:
            raise ConfigError(f"capacity.{name}: must be 0 or more, got {value}")
    seen: set[str] = set()
    for i, queue in enumerate(config.queues):
        key = f"queues[{i}]"
        if not queue.name:
            raise ConfigError(f"{key}.name: every queue needs a name")
        validate_queue_name(queue.name, f"{key}.name")
        if queue.name in seen:
            raise ConfigError(f"{key}.name: queue {queue.name!r} is defined twice")
        seen.add(queue.name)
        if queue.strategy not in STRATEGIES:
            raise ConfigError(
                f"queues.{queue.name}.strategy: unknown strategy {queue.strategy!r}; "
                f"use one of {', '.join(STRATEGIES)}"
            )
        for skill, level in queue.skills.items():
            if not 1 <= level <= 10:
                raise ConfigError(f"queues.{queue.name}.skills.{skill}: level must be 1-10, got {level}")
        if queue.wrap_up_seconds < 0:
            raise ConfigError(f"queues.{queue.name}.wrap_up_seconds: must be 0 or more")
    validate_routing(config)
    validate_voice(config.channels.voice, seen)
    if chat.enabled and config.queues and chat.queue not in seen:
        raise ConfigError(
            f"channels.chat.queue: queue {chat.queue!r} is not defined; add a [[queues]] "
            f"entry named {chat.queue!r} or pick one of {', '.join(sorted(seen))}"
        )
    validate_inbox(config.inbox)
    validate_integrations(config, seen)
    validate_gateway(config.gateway)
    validate_email(config.channels.email, seen)
    validate_telegram(config.channels.telegram, seen)
    if config.channels.email.max_message_bytes > config.gateway.max_request_bytes:
        raise ConfigError(
            "channels.email.max_message_bytes: larger than gateway.max_request_bytes, so the core "
            "would refuse what the gateway accepts; raise gateway.max_request_bytes too"
        )


def validate_gateway(gateway: GatewayConfig) -> None:
    if gateway.secret and len(gateway.secret) < 16:
        raise ConfigError("gateway.secret: use at least 16 random characters (or leave it empty)")
    if gateway.core_url and not gateway.core_url.startswith(("http://", "https://")):
        raise ConfigError(f"gateway.core_url: {gateway.core_url!r} must start with http:// or https://")
    if gateway.lease_seconds < 1:
        raise ConfigError("gateway.lease_seconds: must be at least 1")
    if gateway.poll_seconds <= 0:
        raise ConfigError("gateway.poll_seconds: must be above 0")
    if gateway.max_request_bytes < 1024:
        raise ConfigError("gateway.max_request_bytes: must be at least 1024")


def validate_email(email: EmailConfig, queues: set[str]) -> None:
    if not 0 <= email.port <= 65535:
        raise ConfigError(f"channels.email.port: {email.port} is not a TCP port (0-65535)")
    if not 0 < email.relay_port <= 65535:
        raise ConfigError(f"channels.email.relay_port: {email.relay_port} is not a TCP port (1-65535)")
    for i, address in enumerate(email.addresses):
        if address.count("@") != 1 or address.startswith("@") or address.endswith("@"):
            raise ConfigError(f"channels.email.addresses[{i}]: {address!r} is not an email address")
    for i, domain in enumerate(email.domains):
        if not domain or "@" in domain or " " in domain:
            raise ConfigError(f"channels.email.domains[{i}]: {domain!r} is not a domain name")
    if email.enabled and not (email.addresses or email.domains):
        raise ConfigError(
            "channels.email.addresses: the email channel is enabled but accepts mail for nobody; "
            "list addresses (or domains) it receives for"
        )
    for key, value in (
        ("max_message_bytes", email.max_message_bytes),
        ("max_attachment_bytes", email.max_attachment_bytes),
    ):
        if value < 1024:
            raise ConfigError(f"channels.email.{key}: must be at least 1024")
    if email.max_attachments < 0:
        raise ConfigError("channels.email.max_attachments: must be 0 or more")
    if bool(email.tls_cert) != bool(email.tls_key):
        raise ConfigError("channels.email.tls_key: STARTTLS needs both tls_cert and tls_key")
    if email.relay_username and not email.relay_password:
        raise ConfigError("channels.email.relay_password: a relay login needs a password")
    if email.relay_timeout <= 0:
        raise ConfigError("channels.email.relay_timeout: must be above 0")
    if email.enabled and queues:
        for key, name in [("queue", email.queue)] + [
            (f"queue_by_address.{a}", q) for a, q in email.queue_by_address.items()
        ]:
            if name not in queues:
                raise ConfigError(
                    f"channels.email.{key}: queue {name!r} is not defined; add a [[queues]] entry "
                    f"named {name!r} or pick one of {', '.join(sorted(queues))}"
                )


def validate_telegram(telegram: TelegramConfig, queues: set[str]) -> None:
    key = "channels.telegram"
    if telegram.token and not _BOT_TOKEN.fullmatch(telegram.token):
        raise ConfigError(f"{key}.token: expected a token like 123456:ABC... from @BotFather")
    if not 1 <= telegram.poll_timeout <= 50:
        raise ConfigError(f"{key}.poll_timeout: must be 1-50 seconds")
    if telegram.webhook_url:
        if not telegram.webhook_url.startswith("https://"):
            raise ConfigError(f"{key}.webhook_url: Telegram posts only to https:// URLs")
        if not _WEBHOOK_SECRET.fullmatch(telegram.webhook_secret):
            raise ConfigError(
                f"{key}.webhook_secret: webhook mode needs a secret of 16-256 characters A-Z a-z 0-9 _ -"
            )
    if not 0 <= telegram.webhook_port <= 65535:
        raise ConfigError(f"{key}.webhook_port: {telegram.webhook_port} is not a TCP port (0-65535)")
    if telegram.max_file_bytes < 0:
        raise ConfigError(f"{key}.max_file_bytes: must be 0 or more")
    if not telegram.api_url.startswith(("http://", "https://")):
        raise ConfigError(f"{key}.api_url: {telegram.api_url!r} must start with http:// or https://")
    if telegram.token and queues and telegram.queue not in queues:
        raise ConfigError(
            f"{key}.queue: queue {telegram.queue!r} is not defined; add a [[queues]] entry "
            f"named {telegram.queue!r} or pick one of {', '.join(sorted(queues))}"
        )


_BOT_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,100}")
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{16,256}")


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def validate_routing(config: Config) -> None:
    """Routing rules per queue: escalation order, hours, sticky time, blocks, max_no_answer."""
    if config.routing.max_no_answer < 0:
        raise ConfigError("routing.max_no_answer: must be 0 (never) or more")
    if config.routing.resync_seconds <= 0:
        raise ConfigError("routing.resync_seconds: must be above 0")
    if not 0 <= config.routing.gather_seconds <= 1:
        raise ConfigError("routing.gather_seconds: must be 0-1 (seconds a woken round waits for more)")
    for channel, blocked in config.routing.blocks.items():
        for name in (channel, *blocked):
            if name not in CHANNELS:
                raise ConfigError(
                    f"routing.blocks.{channel}: unknown channel {name!r}; use {', '.join(CHANNELS)}"
                )
    names = {q.name for q in config.queues}
    overflows: dict[str, str] = {}
    for queue in config.queues:
        key = f"queues.{queue.name}"
        for skill in queue.skills:
            if not skill.strip():
                raise ConfigError(f"{key}.skills: a skill needs a name")
        for name, value in (("sticky_seconds", queue.sticky_seconds), ("priority", queue.priority)):
            if value < 0:
                raise ConfigError(f"{key}.{name}: must be 0 or more, got {value}")
        if queue.ring_interval < 1:
            raise ConfigError(f"{key}.ring_interval: must be at least 1 second")
        if queue.after_hours not in routing.AFTER_HOURS_ACTIONS:
            raise ConfigError(
                f"{key}.after_hours: {queue.after_hours!r} is not one of "
                f"{', '.join(routing.AFTER_HOURS_ACTIONS)}"
            )
        parse_hours(queue, key)
        last_after, last_level = -1, 11
        for i, step in enumerate(queue.escalation):
            skey = f"{key}.escalation[{i}]"
            if step.after <= last_after:
                raise ConfigError(
                    f"{skey}.after: steps must come in order of wait time; {step.after}s is not "
                    f"after the previous step's {last_after}s"
                )
            last_after = step.after
            kinds = [bool(step.min_level), bool(step.drop_skills), bool(step.overflow), bool(step.timeout)]
            if sum(kinds) != 1:
                raise ConfigError(
                    f"{skey}: a step does exactly one of min_level, drop_skills, overflow or timeout"
                )
            if step.min_level:
                if not 1 <= step.min_level <= 10:
                    raise ConfigError(f"{skey}.min_level: must be 1-10, got {step.min_level}")
                if step.min_level >= last_level:
                    raise ConfigError(
                        f"{skey}.min_level: {step.min_level} does not relax the previous step's "
                        f"{last_level}; each step must ask for less"
                    )
                last_level = step.min_level
            for skill in step.drop_skills:
                if not skill.strip():
                    raise ConfigError(f"{skey}.drop_skills: a skill needs a name")
            if step.overflow:
                if step.overflow == queue.name:
                    raise ConfigError(f"{skey}.overflow: a queue cannot overflow to itself")
                if step.overflow not in names:
                    raise ConfigError(
                        f"{skey}.overflow: no queue named {step.overflow!r}; define it in [[queues]]"
                    )
                overflows[queue.name] = step.overflow
            if step.timeout and step.timeout not in routing.TIMEOUT_ACTIONS:
                raise ConfigError(
                    f"{skey}.timeout: {step.timeout!r} is not one of {', '.join(routing.TIMEOUT_ACTIONS)}"
                )
            if (step.overflow or step.timeout) and i != len(queue.escalation) - 1:
                raise ConfigError(
                    f"{key}.escalation[{i + 1}]: can never apply, the interaction has left the queue "
                    f"at step {i} ({'overflow' if step.overflow else 'timeout'}); put later steps "
                    "on the queue it overflows to"
                )
    for start in overflows:
        seen, name = [start], overflows[start]
        while name in overflows:
            if name in seen:
                loop = " -> ".join([*seen[seen.index(name) :], name])
                raise ConfigError(f"queues.{start}.escalation: overflow goes round in a loop ({loop})")
            seen.append(name)
            name = overflows[name]


def parse_hours(queue: QueueConfig, key: str | None = None) -> routing.BusinessHours | None:
    """The queue's business hours, or None when it is always open; ConfigError names the key."""
    key = key or f"queues.{queue.name}"
    if not valid_timezone(queue.timezone):
        raise ConfigError(f"{key}.timezone: unknown time zone {queue.timezone!r} (e.g. Europe/Berlin)")
    holidays = []
    for i, day in enumerate(queue.holidays):
        try:
            holidays.append(dt.date.fromisoformat(day))
        except ValueError:
            raise ConfigError(f"{key}.holidays[{i}]: {day!r} is not a date like 2026-12-25") from None
    if not queue.hours:
        if queue.holidays:
            raise ConfigError(f"{key}.holidays: set hours too; without hours the queue is always open")
        return None
    weekly: dict[int, tuple[tuple[dt.time, dt.time], ...]] = {}
    for day, ranges in queue.hours.items():
        if day.lower() not in WEEKDAYS:
            raise ConfigError(f"{key}.hours.{day}: not a weekday; use {', '.join(WEEKDAYS)}")
        parsed = []
        for i, text in enumerate(ranges):
            try:
                start_text, end_text = text.split("-")
                start, end = (
                    dt.time.fromisoformat(start_text.strip()),
                    dt.time.fromisoformat(end_text.strip()),
                )
            except ValueError:
                raise ConfigError(
                    f"{key}.hours.{day}[{i}]: {text!r} is not a range like 09:00-17:00"
                ) from None
            if end <= start:
                raise ConfigError(f"{key}.hours.{day}[{i}]: {text!r} ends before it starts")
            parsed.append((start, end))
        weekly[WEEKDAYS.index(day.lower())] = tuple(parsed)
    return routing.BusinessHours(queue.timezone, weekly, frozenset(holidays))


VOICE_ACTIONS = ("queue", "menu", "skill", "voicemail", "callback", "hangup")


def parse_voice_actions(text: str, key: str) -> list[tuple[str, str]]:
    """``"skill:lang_ru,queue:support"`` -> [("skill", "lang_ru"), ("queue", "support")]."""
    actions = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, arg = part.partition(":")
        if kind not in VOICE_ACTIONS or (kind in ("queue", "menu", "skill") and not arg):
            raise ConfigError(
                f"{key}: {part!r} is not an action; use queue:<name>, menu:<name>, skill:<name>, "
                "voicemail, callback or hangup"
            )
        actions.append((kind, arg))
    return actions


def validate_voice(voice: VoiceConfig, queues: set[str]) -> None:
    if not voice.enabled:
        return
    if not 0 <= voice.listen_port <= 65535:
        raise ConfigError(f"channels.voice.listen_port: {voice.listen_port} is not a TCP port (0-65535)")
    if not voice.nodes:
        raise ConfigError("channels.voice.nodes: list at least one FreeSWITCH node")
    for i, node in enumerate(voice.nodes):
        if not 0 < node.port <= 65535:
            raise ConfigError(f"channels.voice.nodes[{i}].port: {node.port} is not a TCP port")
    if voice.tries < 1:
        raise ConfigError("channels.voice.tries: must be at least 1")
    if voice.timeout_ms < 100:
        raise ConfigError("channels.voice.timeout_ms: must be at least 100")
    if voice.ring_seconds < 1:
        raise ConfigError("channels.voice.ring_seconds: must be at least 1")
    if voice.announce_seconds < 0:
        raise ConfigError("channels.voice.announce_seconds: must be 0 or more")
    if voice.command_timeout <= 0 or voice.reconnect_max_seconds <= 0:
        raise ConfigError("channels.voice.command_timeout and reconnect_max_seconds: must be above 0")
    if queues and voice.queue not in queues:
        raise ConfigError(f"channels.voice.queue: queue {voice.queue!r} is not defined in [[queues]]")
    if voice.default_handle_seconds < 1:
        raise ConfigError("channels.voice.default_handle_seconds: must be at least 1")
    if voice.callback_key and (len(voice.callback_key) != 1 or voice.callback_key not in "0123456789*#"):
        raise ConfigError(
            f'channels.voice.callback_key: {voice.callback_key!r} is not one key (0-9, * or #; "" for none)'
        )
    if voice.menu and voice.menu not in voice.menus:
        raise ConfigError(f"channels.voice.menu: no menu named {voice.menu!r} in [channels.voice.menus]")
    for name, menu in voice.menus.items():
        pairs = [(f"channels.voice.menus.{name}.choices.{d}", a) for d, a in menu.choices.items()]
        pairs.append((f"channels.voice.menus.{name}.fallback", menu.fallback))
        for digit in menu.choices:
            if len(digit) != 1 or digit not in "0123456789*#":
                raise ConfigError(
                    f"channels.voice.menus.{name}.choices: {digit!r} is not one key (0-9, * or #)"
                )
        for key, text in pairs:
            for kind, arg in parse_voice_actions(text, key):
                if kind == "menu" and arg not in voice.menus:
                    raise ConfigError(f"{key}: no menu named {arg!r}")
                if kind == "queue" and queues and arg not in queues:
                    raise ConfigError(f"{key}: queue {arg!r} is not defined in [[queues]]")


def validate_queue_name(name: str, key: str = "name") -> None:
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
        raise ConfigError(f"{key}: {name!r} must be 1-64 letters, digits, '-', '_' or '.'")


@dataclass
class ApiChannelConfig:
    """The API channel: integrators post customers' messages from channels Callyard has no
    adapter for (SMS, WhatsApp, a CRM form); agents' replies go back to them by webhook."""

    enabled: bool = True
    # Queue for new API interactions that do not name one; empty: channels.chat.queue.
    queue: str = ""
    max_message_bytes: int = 65536


@dataclass
class ApiConfig:
    """The REST API under /api/v1."""

    # Largest request body accepted, in bytes; larger ones get 413.
    max_body_bytes: int = 65536


@dataclass
class WebhooksConfig:
    # Seconds a receiver has to answer one delivery, all of it (connect, send, answer).
    timeout_seconds: float = 5.0
    # Failed attempts in a row after which a subscription is disabled and the admin told.
    disable_after: int = 20
    # Deliveries (webhooks and CRM lookups) in flight at once, and per endpoint.
    concurrency: int = 8
    per_endpoint: int = 2


@dataclass
class CrmConfig:
    """The CRM lookup hook: on a new interaction, POST the contact's identities to ``url``;
    the JSON object it answers is shown on the contact card."""

    url: str = ""
    # Sent as the HMAC-SHA256 signature key (X-Callyard-Signature), like webhooks.
    secret: str = ""
    timeout_seconds: float = 3.0


def validate_integrations(config: Config, queues: set[str]) -> None:
    """Checks of the [api], [webhooks], [crm] and [channels.api] sections."""
    api = config.api
    if not 1024 <= api.max_body_bytes <= 10_000_000:
        raise ConfigError("api.max_body_bytes: must be between 1024 and 10000000")
    hooks = config.webhooks
    if not 0 < hooks.timeout_seconds <= 120:
        raise ConfigError("webhooks.timeout_seconds: must be above 0 and at most 120")
    if hooks.disable_after < 1:
        raise ConfigError("webhooks.disable_after: must be at least 1")
    if not 1 <= hooks.concurrency <= 256:
        raise ConfigError("webhooks.concurrency: must be between 1 and 256")
    if not 1 <= hooks.per_endpoint <= hooks.concurrency:
        raise ConfigError("webhooks.per_endpoint: must be between 1 and webhooks.concurrency")
    crm = config.crm
    if crm.url and not crm.url.startswith(("http://", "https://")):
        raise ConfigError(f"crm.url: {crm.url!r} must start with http:// or https://")
    if not 0 < crm.timeout_seconds <= 60:
        raise ConfigError("crm.timeout_seconds: must be above 0 and at most 60")
    channel = config.channels.api
    if not 1 <= channel.max_message_bytes <= 1_000_000:
        raise ConfigError("channels.api.max_message_bytes: must be between 1 and 1000000")
    if channel.enabled and queues and channel.queue and channel.queue not in queues:
        raise ConfigError(
            f"channels.api.queue: queue {channel.queue!r} is not defined; add a [[queues]] "
            f"entry named {channel.queue!r} or pick one of {', '.join(sorted(queues))}"
        )


SAMPLE = """\
# Callyard configuration. Every key can be overridden from the environment:
# CALLYARD_<SECTION>__<KEY>, e.g. CALLYARD_SERVER__PORT=9000; DATABASE_URL sets database.url.

# Where data lives (database, recordings, attachments), relative to this file.
data_dir = "."
log_level = "info"

[server]
host = "127.0.0.1"
port = 8080
# Signs sessions, CSRF tokens and chat visitor tokens. Keep it secret; generated by `callyard init`.
secret_key = "{secret_key}"
# Send the session cookie over HTTPS only; set true in production behind HTTPS
secure_cookies = false
# Serve the demo shop page with the chat widget at /
demo_page = true
# Sites allowed to embed the chat widget ("*" for any)
widget_origins = ["*"]

[database]
# sqlite:///callyard.db (relative to data_dir) or postgresql://user:password@host:5432/dbname
url = "sqlite:///callyard.db"

[routing]
# Seconds an agent has to accept an offer before the next agent is tried
offer_timeout = 30
# Offers in a row an agent lets time out before going on break "not-ready" (0: never)
max_no_answer = 3
# What a call blocks while it lasts (emails block nothing): channel = [channels]
blocks = {{ voice = ["api", "chat", "email", "telegram"] }}

[outbox]
max_attempts = 8
retry_base_seconds = 2.0

[channels.chat]
enabled = true
# Queue that new web chats go to
queue = "support"
# Largest chat message accepted, in bytes of UTF-8
max_message_bytes = 8192

[channels.email]
# An SMTP gateway process, started by `callyard run`, receives mail for these addresses
enabled = false
host = "127.0.0.1"
port = 2525
addresses = []          # e.g. ["support@example.com"]
domains = []            # or every address at these domains
queue = "support"
# queue_by_address = {{ "sales@example.com" = "sales" }}
max_message_bytes = 26214400
max_attachments = 100
max_attachment_bytes = 10485760
# PEM certificate and key: STARTTLS is offered when both are set
tls_cert = ""
tls_key = ""
# Replies go out through this relay, From the address the customer wrote to
from_address = ""
relay_host = ""
relay_port = 25
relay_starttls = false
relay_ca_file = ""
relay_username = ""
relay_password = ""     # better: CALLYARD_CHANNELS__EMAIL__RELAY_PASSWORD
relay_timeout = 30.0
# Answer each new conversation at once with its number ({{number}})
auto_ack = false
auto_ack_text = "Thank you for writing to us. Your message is conversation #{{number}}; we will answer soon."

[channels.telegram]
# A gateway process on python-telegram-bot runs when a bot token is set (better through
# CALLYARD_CHANNELS__TELEGRAM__TOKEN than in this file)
token = ""
queue = "support"
greeting = "Hello! Write your question here and one of our team will answer."
poll_timeout = 25
# Webhook mode: a public https URL Telegram posts to; empty means long polling
webhook_url = ""
webhook_host = "127.0.0.1"
webhook_port = 8443
webhook_secret = ""     # 16+ characters A-Z a-z 0-9 _ -; better: CALLYARD_CHANNELS__TELEGRAM__WEBHOOK_SECRET
max_file_bytes = 20971520

[gateway]
# Shared secret between the core and gateway processes; empty: a random one per start.
# Set it (CALLYARD_GATEWAY__SECRET) only to run a gateway on another machine.
secret = ""
# Where a gateway reaches the core; empty: this server's own address
core_url = ""
lease_seconds = 60
poll_seconds = 1.0
# Largest message-with-attachments the internal API takes
max_request_bytes = 67108864
[channels.voice]
# Phone calls through FreeSWITCH (see freeswitch-conf/ and the README's Voice section)
enabled = false
# Where FreeSWITCH's dialplan `socket` application connects each call
listen_host = "127.0.0.1"
listen_port = 8084
# Queue of calls that take no menu; the first menu ("" for none)
queue = "support"
menu = ""
greeting = ""
tries = 3
timeout_ms = 5000
music_on_hold = "local_stream://moh"
# Seconds between position announcements in the queue (0: none)
announce_seconds = 0
# Seconds an agent's phone rings before the next agent is tried
ring_seconds = 20
# Record every call into <data_dir>/recordings
record = true
# The key a waiting caller presses to be called back, keeping their place in line ("": none)
callback_key = "*"

# One inbound event-socket connection per FreeSWITCH node
[[channels.voice.nodes]]
host = "127.0.0.1"
port = 8021
password = "ClueCon"

# A menu: keys to actions (queue:<name>, menu:<name>, skill:<name>, voicemail, hangup)
# [channels.voice.menus.main]
# prompt = "callyard/menu.wav"
# choices = {{ "1" = "queue:support", "2" = "menu:language" }}
# fallback = "queue:support"
# [channels.voice.menus.language]
# choices = {{ "1" = "skill:lang_en,queue:support", "2" = "skill:lang_ru,queue:support" }}

# Default capacity of a new agent per channel
[capacity]
chat = 3
email = 5
voice = 1
telegram = 3
api = 3

[[queues]]
name = "support"
strategy = "longest-idle"
priority = 0
# skill = minimum level (1-10)
skills = {{ support = 1 }}
wrap_up_seconds = 0
# (strategy: longest-idle, ring-all, round-robin, fewest-contacts, least-talk-time, top-down,
# random, ring-progressively or most-skilled)
# Seconds during which a returning contact goes to their last agent, if available (0: off)
sticky_seconds = 0
# Business hours (empty: always open), in this time zone, and what happens while closed:
# wait, voicemail, callback or close (with after_hours_message).
# hours = {{ mon = ["09:00-17:00"], tue = ["09:00-17:00"] }}
# timezone = "Europe/Berlin"
# holidays = ["2026-12-25"]
# after_hours = "wait"
#
# Escalation over wait time, in order; each step does one thing:
# [[queues.escalation]]
# after = 30
# min_level = 5            # accept agents with level 5 or more on the required skills
# [[queues.escalation]]
# after = 60
# min_level = 1            # any agent with the skill
# [[queues.escalation]]
# after = 120
# overflow = "general"     # move to another queue (its own escalation applies there)
# or, as the last step: timeout = "close" (with message = "..."), "voicemail" or "callback"

# The API channel: integrators post customers' messages from other channels over /api/v1
[channels.api]
enabled = true
# Queue for new API interactions that do not name one (empty: the chat's queue)
queue = ""
max_message_bytes = 65536

# The REST API (/api/v1; tokens from `callyard token create`)
[api]
# Largest request body accepted, in bytes
max_body_bytes = 65536

# Webhooks (subscriptions from `callyard webhook add` or POST /api/v1/webhooks)
[webhooks]
# Seconds a receiver has to answer one delivery
timeout_seconds = 5.0
# Failed attempts in a row before a subscription is disabled (and the admin told in the log)
disable_after = 20
# Deliveries in flight at once, and per endpoint
concurrency = 8
per_endpoint = 2

# CRM lookup: on a new interaction, POST the contact's identities here and show the answer
[crm]
url = ""
# HMAC-SHA256 key for the X-Callyard-Signature header (set it from the environment:
# CALLYARD_CRM__SECRET)
secret = ""
timeout_seconds = 3.0

# The agent inbox: the lists agents pick from, and per-queue scripts.
[inbox]
# Reasons an agent can give for a break ("not-ready" is always there: routing uses it
# for an agent who missed offers)
break_reasons = ["lunch", "training", "meeting", "not-ready"]
# Disposition codes chosen at wrap-up
dispositions = ["resolved", "follow-up", "no-answer", "spam"]
# The request stages an interaction moves through; the first is where new ones start
stages = ["new", "in-progress", "waiting-for-customer", "resolved"]
# Seconds a customer may wait for our answer before the inbox shows the item as late
sla_seconds = 120
# How long the inbox keeps each agent's missed live events for a reconnecting tab
event_retention_seconds = 3600

# Per-queue scripts shown beside the conversation, one step per line
[inbox.scripts]
support = '''
Greet the customer by name.
Ask for the order number.
Confirm the problem in your own words.
Offer the next step and say when it will happen.
'''
"""


# -- the agent inbox (issue 8) ---------------------------------------------------------------

# Always a valid break reason: the routing brain sets it for an agent who missed offers.
NOT_READY = "not-ready"


@dataclass
class InboxConfig:
    # Reasons an agent may give for a break, in the order the inbox lists them.
    break_reasons: list[str] = field(default_factory=lambda: ["lunch", "training", "meeting", NOT_READY])
    # Disposition codes an agent picks at wrap-up.
    dispositions: list[str] = field(default_factory=lambda: ["resolved", "follow-up", "no-answer", "spam"])
    # The request stages (status workflow) of an interaction; the first is the starting one.
    stages: list[str] = field(
        default_factory=lambda: ["new", "in-progress", "waiting-for-customer", "resolved"]
    )
    # Seconds a customer may wait for an answer before the inbox marks the item late.
    sla_seconds: int = 120
    # How long each agent's live events are kept for a reconnecting tab to catch up.
    event_retention_seconds: int = 3600
    # queue name -> script text (one step per line), shown beside the conversation.
    scripts: dict[str, str] = field(default_factory=dict)
    # Largest file an agent may attach to a reply in the composer.
    max_upload_bytes: int = 10 * 1024 * 1024

    def all_break_reasons(self) -> list[str]:
        return self.break_reasons + ([] if NOT_READY in self.break_reasons else [NOT_READY])


def _validate_words(values: list[str], key: str, *, allow_empty: bool = False) -> None:
    if not values and not allow_empty:
        raise ConfigError(f"{key}: must list at least one value")
    if len(set(values)) != len(values):
        raise ConfigError(f"{key}: a value is listed twice")
    for value in values:
        if not value or len(value) > 32 or not all(c.isalnum() or c in "-_ " for c in value):
            raise ConfigError(f"{key}: {value!r} must be 1-32 letters, digits, spaces, '-' or '_'")


def validate_inbox(inbox: InboxConfig) -> None:
    _validate_words(inbox.break_reasons, "inbox.break_reasons", allow_empty=True)
    _validate_words(inbox.dispositions, "inbox.dispositions")
    _validate_words(inbox.stages, "inbox.stages")
    if inbox.sla_seconds < 1:
        raise ConfigError("inbox.sla_seconds: must be at least 1")
    if inbox.event_retention_seconds < 60:
        raise ConfigError("inbox.event_retention_seconds: must be at least 60")
    if not 1 <= inbox.max_upload_bytes <= 1024**3:
        raise ConfigError("inbox.max_upload_bytes: must be 1 byte to 1 GiB")
    for queue, script in inbox.scripts.items():
        validate_queue_name(queue, f"inbox.scripts.{queue}")
        if len(script) > 20_000:
            raise ConfigError(f"inbox.scripts.{queue}: at most 20000 characters")
