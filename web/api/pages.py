"""Keyset pagination: newest first, ``cursor`` is the id the next page starts below."""

from __future__ import annotations

from typing import Any

import peewee as pw


def page(
    query: pw.ModelSelect, id_field: pw.Field, limit: int, cursor: int | None
) -> tuple[list[Any], int | None]:
    if cursor is not None:
        query = query.where(id_field < cursor)
    rows = list(query.order_by(id_field.desc()).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)
