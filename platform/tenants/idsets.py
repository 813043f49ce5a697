"""Sets of unit ids in SQL: ``column IN ids`` and ``column <@ ranges`` with the whole set as one parameter.

Every helper sends a set of any size as one parameter, so the SQL text stays the same for ten ids or
five hundred (why each shape was chosen: docs/SCALING.md, "Tenancy core").
"""
from __future__ import annotations

import functools

from sqlalchemy import Integer, String, TypeDecorator, any_, bindparam, func, literal_column, or_, select
from sqlalchemy.dialects.postgresql import ARRAY, INT4MULTIRANGE

from ..extensions import db

# The statement parameter that carries the current scope's ids (``orm_hooks``).
SCOPE_PARAM = "camnet_scope_ids"


@functools.lru_cache(maxsize=1024)
def ranges_literal(ids: frozenset) -> str:
    """'{[1,4),[7,8)}': a set of unit ids as PostgreSQL's int4multirange literal, once per set ('{}'
    for none, which holds nothing)."""
    ranges, start, last = [], None, None
    for i in sorted(int(i) for i in ids):
        if start is None:
            start = i
        elif i != last + 1:
            ranges.append(f"[{start},{last + 1})")
            start = i
        last = i
    if start is not None:
        ranges.append(f"[{start},{last + 1})")
    return "{" + ",".join(ranges) + "}"


class RangesParam(TypeDecorator):
    """An int4multirange parameter handed over as its text literal, parsed once per execution."""

    impl = INT4MULTIRANGE
    cache_ok = True

    def bind_processor(self, dialect):
        return None


class IdArrayParam(TypeDecorator):
    """An integer[] parameter handed over as its text literal ('{1,2,3}'), parsed once per execution."""

    impl = ARRAY(Integer)
    cache_ok = True

    def bind_processor(self, dialect):
        return None


def dialect_name() -> str:
    return db.engine.dialect.name


def member_of(column, ids, dialect: str | None = None):
    """``column IN ids`` for a set of unit ids of any size, the ids bound in the statement (on
    PostgreSQL ``IN (SELECT unnest(one integer[] parameter))``, on SQLite a JSON array)."""
    return in_ids(column, None, dialect or dialect_name(), ids)


def as_filter(membership):
    """``membership OR false``: the same rows, kept a per-row filter rather than a semi-join that
    would throw away an index's order."""
    return or_(membership, literal_column("false"))


@functools.lru_cache(maxsize=1024)
def _id_literal(ids: frozenset) -> str:
    """'{1,2,3}' for a set of ids, once per set (a scope's sets are the same objects request after request)."""
    return "{" + ",".join(str(int(i)) for i in sorted(ids)) + "}"


def ids_select(name: str | None, dialect: str, ids=None):
    """SELECT of unit ids handed over as one parameter: named ``name`` and filled in when the
    statement runs (value: ``ids_value``), for statements built once and run with many sets of
    ids; or, given ``ids``, bound right here."""
    # without ids the parameter stays required: a statement run without it fails, it does not match NULL
    given = {} if ids is None else {"value": ids_value(ids if isinstance(ids, frozenset) else frozenset(ids), dialect)}
    if dialect == "postgresql":
        return select(func.unnest(bindparam(name, type_=IdArrayParam(), **given)))
    return select(func.json_each(bindparam(name, type_=String(), **given)).table_valued("value").c.value)


def in_ids(column, name: str | None, dialect: str, ids=None):
    """``column IN ids_select(...)``, kept a per-row filter on PostgreSQL (``as_filter``)."""
    membership = column.in_(ids_select(name, dialect, ids))
    return as_filter(membership) if dialect == "postgresql" else membership


def any_of(column, name: str, dialect: str):
    """``column = ANY(:name)`` for a short list of ids (a report's cameras) in a statement built once;
    still an index condition, so not for scope sets. Value: ``ids_value``."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=IdArrayParam()))
    return column.in_(ids_select(name, dialect))


def in_ranges(column, ranges):
    """``coalesce(column <@ ranges, false)``: the rows of ``column <@ ranges``, with the planner's
    guess at the rows that pass kept at half."""
    return func.coalesce(column.op("<@")(ranges), literal_column("false"))


def ids_value(ids: frozenset, dialect: str) -> str:
    """The parameter of ``ids_select``: '{1,2}' for PostgreSQL's integer[], '[1,2]' for SQLite's json_each."""
    return _id_literal(ids) if dialect == "postgresql" else _json_ids(ids)


@functools.lru_cache(maxsize=1024)
def _json_ids(ids: frozenset) -> str:
    return "[" + ",".join(str(int(i)) for i in sorted(ids)) + "]"


def scope_value(ids: frozenset, dialect: str) -> str:
    """The value of ``SCOPE_PARAM``: the ranges for PostgreSQL, a JSON array for SQLite's json_each."""
    return ranges_literal(ids) if dialect == "postgresql" else _json_ids(ids)
