"""Queues: where interactions wait for the right kind of agent."""

from __future__ import annotations

from collections.abc import Iterable

from ..clock import Clock
from ..config import STRATEGIES, QueueConfig, validate_queue_name
from ..errors import Conflict, InvalidInput, NotFound
from ..models import Queue
from ..store import Store
from .queue_rules import rules_json


class QueueService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def add(
        self,
        name: str,
        *,
        strategy: str = "longest-idle",
        priority: int = 0,
        skills: dict[str, int] | None = None,
        wrap_up_seconds: int = 0,
    ) -> Queue:
        self._check(name, strategy, skills or {}, wrap_up_seconds)
        with self._store.atomic():
            if Queue.select().where(Queue.name == name).exists():
                raise Conflict(f"queue {name!r} already exists", error_id="queue-exists")
            return Queue.create(
                name=name,
                strategy=strategy,
                priority=priority,
                skills=skills or {},
                wrap_up_seconds=wrap_up_seconds,
                created_at=self._clock(),
            )

    def sync(self, queues: Iterable[QueueConfig]) -> None:
        """Create or update the queues the config file declares; the file wins over the database."""
        with self._store.atomic():
            for qc in queues:
                existing = Queue.get_or_none(Queue.name == qc.name)
                fields = dict(
                    strategy=qc.strategy,
                    priority=qc.priority,
                    skills=dict(qc.skills),
                    wrap_up_seconds=qc.wrap_up_seconds,
                    rules=rules_json(qc),
                )
                if existing is None:
                    Queue.create(name=qc.name, created_at=self._clock(), **fields)
                else:
                    Queue.update(**fields).where(Queue.id == existing.id).execute()

    def get(self, name: str) -> Queue:
        queue = Queue.get_or_none(Queue.name == name)
        if queue is None:
            raise NotFound(f"no queue named {name!r}; see `callyard queue list`", error_id="queue-not-found")
        return queue

    def list(self) -> list[Queue]:
        return list(Queue.select().order_by(Queue.name))

    @staticmethod
    def _check(name: str, strategy: str, skills: dict[str, int], wrap_up_seconds: int) -> None:
        try:
            validate_queue_name(name)
        except Exception as exc:
            raise InvalidInput(str(exc), error_id="invalid-queue") from None
        if strategy not in STRATEGIES:
            raise InvalidInput(
                f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}", error_id="invalid-queue"
            )
        for skill, level in skills.items():
            if not skill or not 1 <= level <= 10:
                raise InvalidInput(
                    f"skill {skill!r}: level must be 1-10, got {level}", error_id="invalid-queue"
                )
        if wrap_up_seconds < 0:
            raise InvalidInput("wrap_up_seconds must be 0 or more", error_id="invalid-queue")
