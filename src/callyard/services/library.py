"""What agents write once and use often: canned responses (shared or personal, with placeholders
such as ``{{contact.name}}``) and short knowledge-base articles."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..clock import Clock
from ..errors import Forbidden, InvalidInput, NotFound
from ..models import Agent, CannedResponse, Interaction, KbArticle
from ..store import Store
from .access import is_manager
from .contact_cards import contact_dict
from .views import iso

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+(?:\.[a-z_]+)?)\s*\}\}")
MAX_TITLE = 120
MAX_BODY = 20_000
KB_LIMIT = 20


def fill_placeholders(text: str, values: Mapping[str, str]) -> str:
    """Replace ``{{name}}`` placeholders; unknown ones stay as written, so a typo is visible."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def placeholder_values(agent: Agent, interaction: Interaction | None) -> dict[str, str]:
    values = {"agent.name": agent.name, "agent.first_name": agent.name.split(" ")[0] if agent.name else ""}
    if interaction is not None:
        contact = contact_dict(interaction.contact)
        values |= {
            "contact.name": contact["name"],
            "contact.first_name": contact["name"].split(" ")[0],
            "queue.name": interaction.queue.name if interaction.queue_id else "",
            "interaction.subject": interaction.subject,
            "interaction.id": str(interaction.id),
        }
    return values


def _title_body(title: object, body: object) -> tuple[str, str]:
    if not isinstance(title, str) or not 1 <= len(title.strip()) <= MAX_TITLE:
        raise InvalidInput(f"a title is 1-{MAX_TITLE} characters", error_id="invalid-title")
    if not isinstance(body, str) or not body.strip() or len(body) > MAX_BODY:
        raise InvalidInput(f"the text is 1-{MAX_BODY} characters", error_id="invalid-body")
    return title.strip(), body.strip()


class Library:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    # -- canned responses ------------------------------------------------------------------

    def canned(self, agent: Agent) -> list[dict[str, Any]]:
        rows = (
            CannedResponse.select()
            .where(CannedResponse.agent.is_null() | (CannedResponse.agent == agent.id))
            .order_by(CannedResponse.title, CannedResponse.id)
        )
        return [
            {
                "id": r.id,
                "title": r.title,
                "body": r.body,
                "shared": r.agent_id is None,
                "mine": r.agent_id == agent.id,
            }
            for r in rows
        ]

    def add_canned(self, agent: Agent, title: object, body: object, *, shared: bool) -> int:
        """A personal canned response, or (supervisors and admins) one shared with everyone."""
        clean_title, clean_body = _title_body(title, body)
        if shared and not is_manager(agent):
            raise Forbidden("only supervisors and admins add shared responses", error_id="not-allowed")
        with self._store.atomic():
            row = CannedResponse.create(
                agent=None if shared else agent.id,
                title=clean_title,
                body=clean_body,
                created_at=self._clock(),
            )
        return row.id

    def delete_canned(self, agent: Agent, canned_id: int) -> None:
        with self._store.atomic():
            row = CannedResponse.get_or_none(CannedResponse.id == canned_id)
            if row is None:
                raise NotFound("no such canned response", error_id="canned-not-found")
            if row.agent_id != agent.id and not (row.agent_id is None and is_manager(agent)):
                raise Forbidden("this canned response is not yours to delete", error_id="not-allowed")
            row.delete_instance()

    def render_canned(self, agent: Agent, canned_id: int, interaction: Interaction | None) -> str:
        row = CannedResponse.get_or_none(CannedResponse.id == canned_id)
        if row is None or row.agent_id not in (None, agent.id):
            raise NotFound("no such canned response", error_id="canned-not-found")
        return fill_placeholders(row.body, placeholder_values(agent, interaction))

    # -- knowledge base --------------------------------------------------------------------

    def search_articles(self, query: object) -> list[dict[str, Any]]:
        if query is not None and not isinstance(query, str):
            raise InvalidInput("search with text", error_id="invalid-search")
        text = (query or "").strip()[:200]
        rows = KbArticle.select()
        if text:
            rows = rows.where(KbArticle.title.contains(text) | KbArticle.body.contains(text))
        return [
            {
                "id": a.id,
                "title": a.title,
                "body": a.body,
                "author": a.agent.name if a.agent_id else None,
                "updated_at": iso(a.updated_at),
            }
            for a in rows.order_by(KbArticle.updated_at.desc(), KbArticle.id.desc()).limit(KB_LIMIT)
        ]

    def save_article(self, agent: Agent, title: object, body: object, article_id: int | None = None) -> int:
        """Write a new article, or change one (its author, or a supervisor or admin)."""
        clean_title, clean_body = _title_body(title, body)
        now = self._clock()
        with self._store.atomic():
            if article_id is None:
                return KbArticle.create(
                    title=clean_title, body=clean_body, agent=agent.id, created_at=now, updated_at=now
                ).id
            article = KbArticle.get_or_none(KbArticle.id == article_id)
            if article is None:
                raise NotFound("no such article", error_id="article-not-found")
            if article.agent_id != agent.id and not is_manager(agent):
                raise Forbidden("only its author or a supervisor changes an article", error_id="not-allowed")
            KbArticle.update(title=clean_title, body=clean_body, updated_at=now).where(
                KbArticle.id == article_id
            ).execute()
            return article_id
