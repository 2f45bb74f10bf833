"""Domain services: the only code that changes state. Built and wired once, in ``build()``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..bus import Bus
from ..clock import Clock, utcnow
from ..config import Config
from ..store import Store
from .agents import AgentService
from .contacts import ContactService
from .interactions import InteractionService
from .notifier import Notifier
from .outbox import OutboxService
from .queues import QueueService
from .router import RouterService
from .views import Views


@dataclass
class Services:
    config: Config
    store: Store
    bus: Bus
    clock: Clock
    contacts: ContactService
    agents: AgentService
    queues: QueueService
    interactions: InteractionService
    outbox: OutboxService
    router: RouterService
    views: Views


def build(
    config: Config, *, store: Store | None = None, clock: Clock = utcnow, bus: Bus | None = None
) -> Services:
    store = store or Store(config.database_url())
    bus = bus or Bus()
    notifier = Notifier(bus)
    contacts = ContactService(clock)
    outbox = OutboxService(
        store,
        notifier,
        clock,
        max_attempts=config.outbox.max_attempts,
        retry_base_seconds=config.outbox.retry_base_seconds,
    )
    interactions = InteractionService(store, notifier, clock, contacts, outbox)
    return Services(
        config=config,
        store=store,
        bus=bus,
        clock=clock,
        contacts=contacts,
        agents=AgentService(store, notifier, clock, dataclasses.asdict(config.capacity)),
        queues=QueueService(store, clock),
        interactions=interactions,
        outbox=outbox,
        router=RouterService(
            store, notifier, clock, interactions, offer_timeout=config.routing.offer_timeout
        ),
        views=Views(),
    )
