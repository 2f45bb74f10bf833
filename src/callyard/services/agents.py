"""Agents: accounts, skills, capacity per channel and presence."""

from __future__ import annotations

import re

from werkzeug.security import check_password_hash, generate_password_hash

from ..clock import Clock
from ..config import CHANNELS
from ..errors import Conflict, InvalidInput, NotFound
from ..events import AgentPresenceChanged, Event
from ..models import PRESENCES, ROLES, Agent, AgentCapacity, AgentSkill
from ..store import Store
from .notifier import Notifier
from .offers import end_offer, pending_offers_of

LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_PASSWORD = 8
# A hash to compare against when the login does not exist, so a wrong login and a wrong
# password take the same time and cannot be told apart. Written out, not computed: hashing it
# took every process (each CLI command, each server start) a tenth of a second or more. Its
# method and work factor are werkzeug's default, as real ones are (a unit test checks that).
_DUMMY_HASH = (
    "scrypt:32768:8:1$fdoRz3deVEtgdCtE$1861272eca124840eaefbaa40c9f0a85c8733161a15522457ab5a4eda2da55d9"
    "3470a75a91c9341cd8844de65cd678f718db933b48b231573c2949086a0c332b"
)


class AgentService:
    def __init__(
        self, store: Store, notifier: Notifier, clock: Clock, default_capacity: dict[str, int]
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._default_capacity = default_capacity

    def add(
        self,
        login: str,
        name: str,
        password: str,
        *,
        role: str = "agent",
        skills: dict[str, int] | None = None,
        capacity: dict[str, int] | None = None,
    ) -> Agent:
        login = login.strip().lower()
        if not LOGIN_RE.match(login):
            raise InvalidInput(
                f"login {login!r} must start with a letter or digit and use only a-z, 0-9, '.', '_', '-' (max 64)",
                error_id="invalid-agent",
            )
        if not name.strip():
            raise InvalidInput("an agent needs a display name", error_id="invalid-agent")
        if len(password) < MIN_PASSWORD:
            raise InvalidInput(
                f"password must be at least {MIN_PASSWORD} characters", error_id="weak-password"
            )
        if role not in ROLES:
            raise InvalidInput(f"role {role!r} is not one of {', '.join(ROLES)}", error_id="invalid-agent")
        skills = skills or {}
        for skill, level in skills.items():
            if not skill or not 1 <= level <= 10:
                raise InvalidInput(
                    f"skill {skill!r}: level must be 1-10, got {level}", error_id="invalid-agent"
                )
        caps = {**self._default_capacity, **(capacity or {})}
        for channel, limit in caps.items():
            if channel not in CHANNELS:
                raise InvalidInput(f"capacity: unknown channel {channel!r}", error_id="invalid-agent")
            if limit < 0:
                raise InvalidInput(f"capacity {channel}: must be 0 or more", error_id="invalid-agent")
        now = self._clock()
        with self._store.atomic():
            if Agent.select().where(Agent.login == login).exists():
                raise Conflict(f"an agent with login {login!r} already exists", error_id="agent-exists")
            agent = Agent.create(
                login=login,
                name=name.strip(),
                password_hash=generate_password_hash(password),
                role=role,
                presence="offline",
                presence_since=now,
                idle_since=now,
                created_at=now,
            )
            for skill, level in skills.items():
                AgentSkill.create(agent=agent, skill=skill, level=level)
            for channel, limit in caps.items():
                AgentCapacity.create(agent=agent, channel=channel, max_load=limit)
        return agent

    def authenticate(self, login: str, password: str) -> Agent | None:
        agent = Agent.get_or_none(Agent.login == login.strip().lower())
        if agent is None or not agent.enabled:
            check_password_hash(_DUMMY_HASH, password)
            return None
        return agent if check_password_hash(agent.password_hash, password) else None

    def get(self, agent_id: int) -> Agent:
        agent = Agent.get_or_none(Agent.id == agent_id)
        if agent is None:
            raise NotFound(f"no agent with id {agent_id}", error_id="agent-not-found")
        return agent

    def by_login(self, login: str) -> Agent:
        agent = Agent.get_or_none(Agent.login == login.strip().lower())
        if agent is None:
            raise NotFound(
                f"no agent with login {login!r}; see `callyard agent list`", error_id="agent-not-found"
            )
        return agent

    def list(self) -> list[Agent]:
        return list(Agent.select().order_by(Agent.login))

    def skills(self, agent_id: int) -> dict[str, int]:
        return {s.skill: s.level for s in AgentSkill.select().where(AgentSkill.agent == agent_id)}

    def capacity(self, agent_id: int) -> dict[str, int]:
        return {c.channel: c.max_load for c in AgentCapacity.select().where(AgentCapacity.agent == agent_id)}

    def set_presence(self, agent_id: int, presence: str, reason: str = "") -> Agent:
        """Change presence. Leaving `available` hands back offers the agent has not accepted yet."""
        if presence not in PRESENCES:
            raise InvalidInput(
                f"presence {presence!r} is not one of {', '.join(PRESENCES)}", error_id="invalid-presence"
            )
        reason = reason.strip()[:64] if presence == "break" else ""
        now = self._clock()
        events: list[Event] = []
        with self._store.atomic():
            agent = self.get(agent_id)
            if agent.presence == presence and agent.presence_reason == reason:
                return agent
            becoming_available = presence == "available" and agent.presence != "available"
            Agent.update(
                presence=presence,
                presence_reason=reason,
                presence_since=now,
                **({"idle_since": now} if becoming_available else {}),
            ).where(Agent.id == agent_id).execute()
            if presence != "available":
                for offer in pending_offers_of(agent_id):
                    events += end_offer(offer, now, "withdrawn", f"agent went {presence}")
            events.append(AgentPresenceChanged(agent_id, presence, reason))
            self._notifier.publish(events)
        return self.get(agent_id)

    def set_enabled(self, agent_id: int, enabled: bool) -> Agent:
        """Disable (someone left the team) or enable an account. A disabled agent cannot log in,
        their sessions end at once, and their pending offers go to someone else."""
        if not enabled:
            self.set_presence(agent_id, "offline")
        with self._store.atomic():
            self.get(agent_id)
            Agent.update(enabled=enabled, session_epoch=Agent.session_epoch + 1).where(
                Agent.id == agent_id
            ).execute()
        return self.get(agent_id)

    def end_sessions(self, agent_id: int) -> None:
        """Invalidate every login session of this agent (logout): they carry an older epoch."""
        with self._store.atomic():
            Agent.update(session_epoch=Agent.session_epoch + 1).where(Agent.id == agent_id).execute()

    def set_password(self, agent_id: int, password: str) -> None:
        """A new password; sessions opened with the old one end (as after a leaked password)."""
        if len(password) < MIN_PASSWORD:
            raise InvalidInput(
                f"password must be at least {MIN_PASSWORD} characters", error_id="weak-password"
            )
        with self._store.atomic():
            Agent.update(
                password_hash=generate_password_hash(password), session_epoch=Agent.session_epoch + 1
            ).where(Agent.id == agent_id).execute()

    def set_routing_order(self, agent_id: int, order: int) -> Agent:
        """Where the agent comes in top-down, round-robin and ring-progressively queues (lower
        first, then by id). The router picks it up at its next full rebuild."""
        if not 0 <= order <= 1_000_000:
            raise InvalidInput(f"order must be 0-1000000, got {order}", error_id="invalid-agent")
        with self._store.atomic():
            self.get(agent_id)
            Agent.update(routing_order=order).where(Agent.id == agent_id).execute()
        return self.get(agent_id)

    def set_dial_string(self, agent_id: int, dial_string: str | None) -> Agent:
        """How FreeSWITCH rings the agent's phone (``user/1001``); None: ``user/<login>``."""
        if dial_string is not None:
            dial_string = dial_string.strip()
            if not DIAL_STRING_RE.match(dial_string):
                raise InvalidInput(
                    f"dial string {dial_string!r} must look like user/1001 or sofia/gateway/gw/number "
                    "(letters, digits and . _ / @ : + - only)",
                    error_id="invalid-dial-string",
                )
        with self._store.atomic():
            self.get(agent_id)
            Agent.update(dial_string=dial_string).where(Agent.id == agent_id).execute()
        return self.get(agent_id)


# A FreeSWITCH endpoint: no spaces, braces or commas (those would inject channel variables).
DIAL_STRING_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./@:+-]{1,240}$")
