"""Configuration: typed defaults, then one TOML file, then ``CALLYARD_*`` environment variables.

Every value is checked once, here, so the rest of the code can trust it. Errors name the key
and say how to fix it. Nested keys in the environment use ``__``:
``CALLYARD_SERVER__PORT=9000`` sets ``[server] port``; a variable is applied when its first
part names a top-level key (``server``, ``database``, ``log_level``, ...). ``DATABASE_URL`` is
honoured as well, because every hosting platform sets it.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

STRATEGIES = ("longest-idle",)
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
    # How often the router looks at the clock (expired offers, waiting work).
    tick_seconds: float = 1.0


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
class ChannelsConfig:
    chat: ChatConfig = field(default_factory=ChatConfig)


@dataclass
class CapacityConfig:
    chat: int = 3
    email: int = 5
    voice: int = 1
    telegram: int = 3
    api: int = 3


@dataclass
class QueueConfig:
    name: str = ""
    strategy: str = "longest-idle"
    priority: int = 0
    # skill name -> minimum level (1-10)
    skills: dict[str, int] = field(default_factory=dict)
    wrap_up_seconds: int = 0


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
    # Set by the loader: the file this came from (None for pure defaults).
    source: str | None = None

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
    if chat.enabled and config.queues and chat.queue not in seen:
        raise ConfigError(
            f"channels.chat.queue: queue {chat.queue!r} is not defined; add a [[queues]] "
            f"entry named {chat.queue!r} or pick one of {', '.join(sorted(seen))}"
        )


def validate_queue_name(name: str, key: str = "name") -> None:
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
        raise ConfigError(f"{key}: {name!r} must be 1-64 letters, digits, '-', '_' or '.'")


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

[outbox]
max_attempts = 8
retry_base_seconds = 2.0

[channels.chat]
enabled = true
# Queue that new web chats go to
queue = "support"
# Largest chat message accepted, in bytes of UTF-8
max_message_bytes = 8192

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
"""
