"""The agent inbox's own events on the ``/agent`` namespace: work details, wrap-up, transfer,
contact cards, canned responses, the knowledge base and search.

Each is registered through agent_socket's ``on``, so each checks the session like the others
and answers with an ``{"ok": ...}`` ack; the services check that the agent may do it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from callyard.errors import Forbidden
from callyard.models import Agent, Interaction
from callyard.services import Services
from callyard.services.access import can_see
from callyard.services.views import agent_dict

from .socket_input import criteria_of, positive_id, text_of

Ack = dict[str, Any]
On = Callable[[str], Callable[[Callable[[Agent, Any], Ack]], Any]]


def register(on: On, services: Services) -> None:
    inbox = services.inbox
    workdesk = services.workdesk
    cards = services.contact_cards
    library = services.library

    @on("read")
    def read(agent: Agent, data: Any) -> Ack:
        interaction_id = positive_id(data, "interaction_id")
        inbox.visible(agent, interaction_id)
        workdesk.mark_read(agent.id, interaction_id)
        return {}

    @on("peek")
    def peek(agent: Agent, data: Any) -> Ack:
        return inbox.peek(agent, positive_id(data, "interaction_id"))

    @on("stage")
    def stage(agent: Agent, data: Any) -> Ack:
        interaction_id = positive_id(data, "interaction_id")
        workdesk.set_stage(agent, interaction_id, text_of(data, "stage"))
        return {"interaction": inbox.work_item(Interaction.get_by_id(interaction_id), agent.id)}

    @on("label")
    def label(agent: Agent, data: Any) -> Ack:
        interaction_id = positive_id(data, "interaction_id")
        if data.get("remove") is True:
            workdesk.remove_label(agent, interaction_id, text_of(data, "label"))
        else:
            workdesk.add_label(agent, interaction_id, text_of(data, "label"))
        return {"interaction": inbox.work_item(Interaction.get_by_id(interaction_id), agent.id)}

    @on("wrap_up")
    def wrap_up(agent: Agent, data: Any) -> Ack:
        interaction = workdesk.wrap_up(
            agent.id,
            positive_id(data, "interaction_id"),
            text_of(data, "disposition"),
            text_of(data, "notes", required=False),
        )
        return {"interaction": inbox.work_item(interaction, agent.id)}

    @on("transfer")
    def transfer(agent: Agent, data: Any) -> Ack:
        interaction_id = positive_id(data, "interaction_id")
        to_agent = text_of(data, "to_agent", required=False) or None
        to_queue = text_of(data, "to_queue", required=False) or None
        interaction = workdesk.transfer(
            agent.id,
            interaction_id,
            to_agent=to_agent,
            to_queue=to_queue,
            note=text_of(data, "note", required=False),
        )
        return {"interaction": inbox.work_item(interaction, agent.id)}

    @on("colleagues")
    def colleagues(agent: Agent, _data: Any) -> Ack:
        """Who a transfer can go to: enabled agents other than me, with their presence."""
        others = Agent.select().where(Agent.enabled == True, Agent.id != agent.id)  # noqa: E712
        return {"agents": [agent_dict(a) for a in others.order_by(Agent.name)]}

    @on("contact")
    def contact(agent: Agent, data: Any) -> Ack:
        return cards.card(agent, positive_id(data, "contact_id"))

    @on("contact_note")
    def contact_note(agent: Agent, data: Any) -> Ack:
        contact_id = positive_id(data, "contact_id")
        cards.add_note(agent, contact_id, text_of(data, "body"))
        return cards.card(agent, contact_id)

    @on("contact_find")
    def contact_find(agent: Agent, data: Any) -> Ack:
        return {"contacts": cards.find(agent, text_of(data, "query"))}

    @on("contact_merge")
    def contact_merge(agent: Agent, data: Any) -> Ack:
        return cards.merge(agent, positive_id(data, "keep_id"), positive_id(data, "merge_id"))

    @on("canned")
    def canned(agent: Agent, _data: Any) -> Ack:
        return {"canned": library.canned(agent)}

    @on("canned_add")
    def canned_add(agent: Agent, data: Any) -> Ack:
        shared = isinstance(data, dict) and data.get("shared") is True
        library.add_canned(agent, text_of(data, "title"), text_of(data, "body"), shared=shared)
        return {"canned": library.canned(agent)}

    @on("canned_delete")
    def canned_delete(agent: Agent, data: Any) -> Ack:
        library.delete_canned(agent, positive_id(data, "id"))
        return {"canned": library.canned(agent)}

    @on("canned_render")
    def canned_render(agent: Agent, data: Any) -> Ack:
        interaction = None
        if isinstance(data, dict) and data.get("interaction_id") is not None:
            interaction_id = positive_id(data, "interaction_id")
            if not can_see(agent, interaction_id):
                raise Forbidden("this interaction is not yours", error_id="not-your-interaction")
            interaction = Interaction.get_by_id(interaction_id)
        return {"text": library.render_canned(agent, positive_id(data, "id"), interaction)}

    @on("kb_search")
    def kb_search(agent: Agent, data: Any) -> Ack:
        return {"articles": library.search_articles(text_of(data, "query", required=False))}

    @on("kb_save")
    def kb_save(agent: Agent, data: Any) -> Ack:
        article_id = (
            positive_id(data, "id") if isinstance(data, dict) and data.get("id") is not None else None
        )
        saved = library.save_article(agent, text_of(data, "title"), text_of(data, "body"), article_id)
        return {"id": saved}

    @on("search")
    def search(agent: Agent, data: Any) -> Ack:
        return {"results": inbox.search(agent, criteria_of(data))}
