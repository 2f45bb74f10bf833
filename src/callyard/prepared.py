"""Queries whose SQL is built once: peewee's query builder without its cost on every call.

peewee turns a query into SQL anew each time it runs; for the statements of every customer
message and every push (issue 8's push benchmark) that was a third to a half of the server's
time. A ``Prepared`` query is written with the query builder as usual, with ``slot(name)``
where a value goes; its SQL is made once per database (the dialect decides the placeholders
and quoting) and each run only sends it with the values in their places. Rows come back as
the query would give them (model instances with their joined models).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import peewee as pw

from .models import database


class _Slot:
    """Where a named value goes in a prepared query's parameters."""

    __slots__ = ("converter", "name")

    def __init__(self, name: str, converter: Callable[[Any], Any] | None) -> None:
        self.name = name
        self.converter = converter


def slot(name: str, field: pw.Field | None = None) -> pw.Value:
    """A named value of a prepared query; ``field`` converts it as that field stores it (a
    datetime or a JSON field, say). Plain numbers and text need none."""
    return pw.Value(_Slot(name, field.db_value if field is not None else None), converter=False)


class Prepared:
    """``build()`` returns a peewee query using ``slot()`` for its values; run it with them."""

    def __init__(self, build: Callable[[], pw.BaseQuery]) -> None:
        self._build = build
        self._lock = threading.Lock()
        # (database, query, sql, params): params hold _Slots where the values go.
        self._made: tuple[pw.Database, pw.BaseQuery, str, list[Any]] | None = None
        # What the query's row reader works out from the columns before its first row (which
        # column goes to which joined model, with which converter): the same for every run of
        # one SQL, and for a query with joins as costly as the rest of reading a row.
        self._reader: dict[str, Any] | None = None

    def _prepare(self) -> tuple[pw.BaseQuery, str, list[Any]]:
        db = database.obj
        made = self._made
        if made is None or made[0] is not db:  # another store (tests open many) or first use
            with self._lock:
                query = self._build()
                sql, params = query.sql()
                made = self._made = (db, query, sql, list(params))
                self._reader = None
        return made[1], made[2], made[3]

    def execute(self, **values: Any) -> Any:
        """Run it; the driver's cursor."""
        _query, sql, params = self._prepare()
        args = [
            (p.converter(values[p.name]) if p.converter else values[p.name]) if isinstance(p, _Slot) else p
            for p in params
        ]
        return database.execute_sql(sql, args)

    def rows(self, **values: Any) -> Iterator[Any]:
        """Its rows, as the query itself would give them."""
        query, _sql, _params = self._prepare()
        wrapper = query._get_cursor_wrapper(self.execute(**values))  # noqa: SLF001
        reader = self._reader
        if reader is None:
            before = set(vars(wrapper))
            wrapper.initialize()
            self._reader = {k: v for k, v in vars(wrapper).items() if k not in before}
        else:
            vars(wrapper).update(reader)
        wrapper.initialized = True
        return iter(wrapper)

    def first(self, **values: Any) -> Any:
        return next(self.rows(**values), None)

    def all(self, **values: Any) -> list[Any]:
        return list(self.rows(**values))

    def scalar(self, **values: Any) -> Any:
        row = self.execute(**values).fetchone()
        return None if row is None else row[0]


class Shapes:
    """One statement whose shape varies with the call (which columns an UPDATE sets): a
    ``Prepared`` per shape, made on its first use. ``build(*shape)`` returns the query."""

    def __init__(self, build: Callable[..., pw.BaseQuery]) -> None:
        self._build = build
        self._made: dict[tuple[Any, ...], Prepared] = {}

    def __call__(self, *shape: Any) -> Prepared:
        prepared = self._made.get(shape)
        if prepared is None:
            prepared = self._made.setdefault(shape, Prepared(lambda: self._build(*shape)))
        return prepared


def field_slots(model: type[pw.Model], names: tuple[str, ...], prefix: str = "") -> dict[str, pw.Value]:
    """``{name: slot}`` for an UPDATE's columns, each converted as its field stores it (the
    slots are named ``prefix + name``, apart from the query's other values)."""
    fields = model._meta.combined  # noqa: SLF001 - peewee's own name -> field map (agent and agent_id)
    return {name: slot(prefix + name, fields[name]) for name in names}


class Creates:
    """``model.create(**values)`` with its INSERT built once for each set of columns given.

    Defaults of the columns not given are written into the SQL when it is built, so a default
    computed at each insert (a time, say) must be given every time: such a model is refused.
    """

    _CONSTANT = (dict, list)  # callable defaults whose every value is the same

    def __init__(self, model: type[pw.Model]) -> None:
        self._model = model
        pk = model._meta.primary_key  # noqa: SLF001
        self._shapes = Shapes(
            lambda names: self._check(names) or model.insert(**field_slots(model, names)).returning(pk)
        )

    def __call__(self, **values: Any) -> Any:
        instance = self._model(**values)
        instance._pk = self._shapes(tuple(sorted(values))).scalar(**values)  # noqa: SLF001 - peewee's own primary key setter
        instance._dirty.clear()  # noqa: SLF001 - as stored, like Model.create leaves it
        return instance

    def _check(self, names: tuple[str, ...]) -> None:
        """Refuse a shape whose SQL would fix a default that varies (run as it is built)."""
        fields = self._model._meta.sorted_fields  # noqa: SLF001
        varying = [
            f.name
            for f in fields
            if f.name not in names and callable(f.default) and f.default not in self._CONSTANT
        ]
        if varying:
            raise TypeError(
                f"{self._model.__name__}: give {', '.join(varying)} (a default made at each insert)"
            )


class PreparedIn:
    """A query narrowed to a list of ids (``IN``), prepared once per length of the list, as
    each id has a placeholder of its own, and once without the list (every row).

    ``build(ids)`` returns the query with ``ids`` (the list's slots, or None for every row) in
    its ``IN``. Lists longer than ``keep`` are built at each run, as the query builder would."""

    def __init__(self, build: Callable[[list[pw.Value] | None], pw.BaseQuery], *, keep: int = 32) -> None:
        self._build = build
        self._keep = keep
        self._every = Prepared(lambda: build(None))
        self._by_length: dict[int, Prepared] = {}

    def _for(self, ids: Sequence[Any] | None) -> tuple[Prepared, dict[str, Any]]:
        if ids is None:
            return self._every, {}
        n = len(ids)
        made = self._by_length.get(n)
        if made is None:
            slots = [slot(f"in{i}") for i in range(n)]
            made = Prepared(lambda: self._build(slots))
            if n <= self._keep:
                self._by_length[n] = made
        return made, {f"in{i}": v for i, v in enumerate(ids)}

    def rows(self, ids: Sequence[Any] | None, **values: Any) -> Iterator[Any]:
        made, named = self._for(ids)
        return made.rows(**values, **named)

    def all(self, ids: Sequence[Any] | None, **values: Any) -> list[Any]:
        return list(self.rows(ids, **values))

    def execute(self, ids: Sequence[Any] | None, **values: Any) -> Any:
        made, named = self._for(ids)
        return made.execute(**values, **named)
