"""The API channel adapter: customers' messages come in over the REST API (the integrator
posts them), agents' replies go out to the integrator as signed ``message.created`` webhooks.

The REST API calls ``receive`` / ``receive_on``; like every channel, they return only after
the kernel has committed the message, so the integrator's 201 means it is stored.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from callyard.config import ApiChannelConfig
from callyard.models import Identity, Interaction, OutboxItem
from callyard.services import Services
from callyard.services.interactions import Ingested
from callyard.services.outbox import GiveUp

from .errors import NotAnApiInteraction
from .inbound import split_thread_key, thread_key

log = logging.getLogger(__name__)


class ApiAdapter:
    name = "api"

    def __init__(self, config: ApiChannelConfig, services: Services) -> None:
        self._config = config
        self._services = services

    # -- adapter contract ------------------------------------------------------------------

    def start(self) -> None:
        log.info("API channel ready: POST /api/v1/interactions; new ones go to %s", self._config.queue)

    def stop(self) -> None:
        pass

    def deliver(self, item: OutboxItem) -> None:
        """An agent's reply: hand it to the integrator's webhook subscriptions for message.created."""
        if item.message_id is None:
            raise GiveUp("an API channel item must carry a message")
        assert self._services.webhooks is not None
        self._services.webhooks.forward_reply(item.message_id)

    # -- inbound (called by the REST API) --------------------------------------------------

    def receive(
        self,
        *,
        source: str,
        thread: str,
        identity: tuple[str, str],
        body: str,
        contact_name: str = "",
        queue: str | None = None,
        external_id: str | None = None,
    ) -> Ingested:
        """A customer's message on the integrator's channel; opens an interaction if none is open."""
        return self._services.interactions.ingest(
            channel=self.name,
            identity=identity,
            body=body,
            queue=queue or self._config.queue,
            thread_key=thread_key(source, thread),
            external_id=external_id,
            max_bytes=self._config.max_message_bytes,
            contact_name=contact_name,
        )

    def receive_on(self, interaction: Interaction, body: str, external_id: str | None = None) -> Ingested:
        """The next message of the customer of an existing API interaction (same thread)."""
        if interaction.channel != self.name:
            raise NotAnApiInteraction(
                f"interaction {interaction.id} is on the {interaction.channel} channel; "
                "only API interactions take customer messages over the API"
            )
        identity = (
            Identity.select().where(Identity.contact == interaction.contact_id).order_by(Identity.id).first()
        )
        source, thread = split_thread_key(interaction.thread_key)
        return self.receive(
            source=source,
            thread=thread,
            identity=(identity.kind, identity.value),
            body=body,
            queue=interaction.queue.name if interaction.queue_id else None,
            external_id=external_id,
        )

    @staticmethod
    def describe(interaction: Interaction) -> dict[str, Any]:
        source, thread = split_thread_key(interaction.thread_key)
        return {"source": source, "thread": thread}


def from_config(config: Any, services: Services) -> ApiAdapter | None:
    """Entry point for the core process: the adapter, or None when the API channel is off."""
    channel: ApiChannelConfig = config.channels.api
    if not channel.enabled:
        return None
    if not channel.queue:
        channel = dataclasses.replace(channel, queue=config.channels.chat.queue)
    return ApiAdapter(channel, services)
