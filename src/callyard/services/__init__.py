"""Domain services: the only code that changes state. Built and wired once, in ``build()``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..bus import Bus
from ..clock import Clock, utcnow
from ..config import Config
from ..store import Store
from .agent_events import AgentEventLog
from .agents import AgentService
from .attachments import AttachmentStore
from .calls import CallService
from .compose import ComposeService
from .contact_cards import ContactCards
from .contacts import ContactService
from .crm import CrmService
from .inbox import InboxViews
from .interactions import InteractionService
from .library import Library
from .notifier import Notifier
from .outbox import OutboxService
from .queues import QueueService
from .router import RouterService
from .supervision import SupervisionService
from .tokens import TokenService
from .views import Views
from .webhooks import WebhookService
from .workdesk import WorkdeskService


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
    # The agent inbox (issue 8)
    journal: AgentEventLog
    workdesk: WorkdeskService
    inbox: InboxViews
    contact_cards: ContactCards
    library: Library
    calls: CallService
    attachments: AttachmentStore | None = None
    tokens: TokenService | None = None
    webhooks: WebhookService | None = None
    crm: CrmService | None = None
    supervision: SupervisionService | None = None
    compose: ComposeService | None = None


def build(
    config: Config, *, store: Store | None = None, clock: Clock = utcnow, bus: Bus | None = None
) -> Services:
    store = store or Store(config.database_url())
    bus = bus or Bus()
    notifier = Notifier(bus, store)
    contacts = ContactService(clock)
    outbox = OutboxService(
        store,
        notifier,
        clock,
        max_attempts=config.outbox.max_attempts,
        retry_base_seconds=config.outbox.retry_base_seconds,
    )
    attachments = AttachmentStore(config.data_path("attachments"))
    interactions = InteractionService(store, notifier, clock, contacts, outbox, attachments)
    agents = AgentService(store, notifier, clock, dataclasses.asdict(config.capacity))
    router = RouterService(
        store,
        notifier,
        clock,
        interactions,
        agents,
        offer_timeout=config.routing.offer_timeout,
        max_no_answer=config.routing.max_no_answer,
        blocks=config.routing.blocks,
        resync_seconds=config.routing.resync_seconds,
    )
    router.watch(bus)
    views = Views()
    journal = AgentEventLog(store, clock, retention_seconds=config.inbox.event_retention_seconds)
    inbox = InboxViews(views, journal, config.inbox)
    services = Services(
        config=config,
        store=store,
        bus=bus,
        clock=clock,
        contacts=contacts,
        agents=agents,
        queues=QueueService(store, clock),
        interactions=interactions,
        outbox=outbox,
        router=router,
        views=views,
        attachments=attachments,
        journal=journal,
        workdesk=WorkdeskService(
            store, notifier, clock, interactions, config.inbox, offer_timeout=config.routing.offer_timeout
        ),
        inbox=inbox,
        contact_cards=ContactCards(store, notifier, clock, inbox),
        library=Library(store, clock),
        calls=CallService(store, notifier, clock, contacts, interactions),
    )
    _add_integrations(services, notifier)
    _add_compose(services)
    return services


def _add_integrations(services: Services, notifier: Notifier) -> None:
    """Tokens, webhooks, the CRM hook and supervision. Webhooks and the CRM hook write their
    deliveries in the transaction of every change that publishes events, in every process that
    changes state (the core, the CLI), so no event is missed; the core delivers."""
    config, store, clock = services.config, services.store, services.clock
    services.tokens = TokenService(store, clock)
    services.webhooks = WebhookService(
        store,
        notifier,
        clock,
        services.outbox,
        timeout_seconds=config.webhooks.timeout_seconds,
        disable_after=config.webhooks.disable_after,
    )
    services.crm = CrmService(store, notifier, clock, services.outbox, config.crm)
    services.supervision = SupervisionService(store, notifier, clock, services.interactions, services.agents)
    notifier.add_writer(services.webhooks.write_deliveries)
    notifier.add_writer(services.crm.write_lookups)


def _add_compose(services: Services) -> None:
    """The composer's file uploads and email reply drafts (services/compose.py)."""
    if services.attachments is not None:
        services.compose = ComposeService(
            services.store,
            services.clock,
            services.attachments,
            max_bytes=services.config.inbox.max_upload_bytes,
        )
