"""What a supervisor (or an integration acting for one) does to interactions from outside the
inbox: close one, or hand it to a chosen agent. Both leave the same history as routing does."""

from __future__ import annotations

import datetime as dt

from ..clock import Clock
from ..errors import Conflict, InvalidInput
from ..events import Event, InteractionAssigned, InteractionClosed, OfferWithdrawn
from ..models import (
    ACTIVE,
    CLOSED,
    OFFERED,
    OPEN_STATES,
    QUEUED,
    TRANSITIONS,
    Agent,
    Interaction,
    Offer,
    RoutingDecision,
    StateChange,
)
from ..store import Store
from .agents import AgentService
from .interactions import InteractionService
from .notifier import Notifier


class SupervisionService:
    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        clock: Clock,
        interactions: InteractionService,
        agents: AgentService,
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._interactions = interactions
        self._agents = agents

    def close(self, interaction_id: int, by: str) -> Interaction:
        """Close an open interaction whatever its state; a pending offer is withdrawn."""
        now = self._clock()
        events: list[Event] = []
        with self._store.atomic():
            self._store.lock(f"interaction:{interaction_id}")
            interaction = self._interactions._get(interaction_id)
            if interaction.state not in OPEN_STATES:
                raise Conflict(
                    f"the interaction is already {interaction.state}",
                    error_id="invalid-transition",
                    state=interaction.state,
                )
            events += self._withdraw_offers(interaction, now, f"closed by {by}")
            agent_id = interaction.agent_id
            fields = {"closed_at": now}
            if interaction.ended_at is None:
                fields["ended_at"] = now
            self._step(interaction, CLOSED, now, agent_id, **fields)
            if agent_id:
                Agent.update(idle_since=now).where(Agent.id == agent_id).execute()
            events.append(InteractionClosed(interaction_id, agent_id))
            self._notifier.publish(events)
        return self._interactions._get(interaction_id)

    def assign(self, interaction_id: int, agent_id: int, by: str) -> Interaction:
        """Give a waiting, offered or active interaction to this agent, active at once."""
        now = self._clock()
        events: list[Event] = []
        with self._store.atomic():
            self._store.lock(f"interaction:{interaction_id}")
            agent = self._agents.get(agent_id)
            if not agent.enabled:
                raise Conflict(f"agent {agent.login} is disabled", error_id="agent-disabled")
            interaction = self._interactions._get(interaction_id)
            if interaction.state == ACTIVE and interaction.agent_id == agent_id:
                return interaction
            if interaction.state not in (QUEUED, OFFERED, ACTIVE):
                raise Conflict(
                    f"an interaction that is {interaction.state} cannot be assigned",
                    error_id="invalid-transition",
                    state=interaction.state,
                )
            events += self._withdraw_offers(interaction, now, f"assigned to {agent.name} by {by}")
            previous = interaction.agent_id
            if interaction.state == ACTIVE:  # a transfer: back to the queue, then to the agent
                self._step(interaction, QUEUED, now, previous)
                Agent.update(idle_since=now).where(Agent.id == previous).execute()
            if interaction.state == QUEUED:
                self._step(interaction, OFFERED, now, agent_id)
            self._step(
                interaction,
                ACTIVE,
                now,
                agent_id,
                agent=agent_id,
                answered_at=interaction.answered_at or now,
            )
            Offer.create(
                interaction=interaction_id,
                agent=agent_id,
                state="accepted",
                created_at=now,
                expires_at=now,
                decided_at=now,
            )
            RoutingDecision.create(
                interaction=interaction_id,
                agent=agent_id,
                strategy="manual",
                reason=f"assigned to {agent.name} by {by}",
                candidates=[],
                created_at=now,
            )
            events.append(InteractionAssigned(interaction_id, agent_id))
            self._notifier.publish(events)
        return self._interactions._get(interaction_id)

    @staticmethod
    def _withdraw_offers(interaction: Interaction, now: dt.datetime, reason: str) -> list[Event]:
        events: list[Event] = []
        for offer in Offer.select().where(Offer.interaction == interaction.id, Offer.state == "pending"):
            Offer.update(state="withdrawn", decided_at=now).where(Offer.id == offer.id).execute()
            events.append(OfferWithdrawn(interaction.id, offer.agent_id, offer.id, reason))
        return events

    @staticmethod
    def _step(
        interaction: Interaction, to_state: str, now: dt.datetime, agent_id: int | None, **fields: object
    ) -> None:
        from_state = interaction.state
        if to_state not in TRANSITIONS[from_state]:
            raise InvalidInput(f"{from_state} cannot become {to_state}", error_id="invalid-transition")
        changed = (
            Interaction.update(state=to_state, updated_at=now, **fields)
            .where(Interaction.id == interaction.id, Interaction.state == from_state)
            .execute()
        )
        if not changed:
            raise Conflict("the interaction changed meanwhile; try again", error_id="stale-state")
        StateChange.create(
            interaction=interaction.id, from_state=from_state, to_state=to_state, agent=agent_id, at=now
        )
        interaction.state = to_state
