"""The one scoping mechanism: every ORM query and write of tenant data meets the current scope.

A scope is the set of administrative-unit ids the current principal may see. Every model
that mixes in ``Scoped`` names the column that ties a row to a unit (``commune_id`` for
commune data, ``unit_id`` for people and audit rows). A ``do_orm_execute`` hook adds
``column IN scope`` to every SELECT, UPDATE and DELETE, and a ``before_flush`` hook refuses
writes outside it. With no scope set, queries return nothing (fail closed). On PostgreSQL
the same set is handed to row-level security policies through ``app.unit_ranges``.

On PostgreSQL the set travels as an ``int4multirange`` (``ranges_literal``): units are made in
batches, so a province's ~500 ids are a handful of ranges, and testing a row against it is a
binary search over them. As an ``IN (SELECT unnest(ids))`` each table a statement named cost
PostgreSQL two hashes of the ~500 ids (this criterion's and the policy's), ~0.15 ms a table, most
of what a province user's report cost the database.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
from dataclasses import dataclass, field

from sqlalchemy import Integer, String, TypeDecorator, any_, bindparam, event, func, literal_column, or_, select
from sqlalchemy.dialects.postgresql import ARRAY, INT4MULTIRANGE
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, with_loader_criteria


class Scoped:
    """Mixin for tenant data. Subclasses set ``__scope_column__``."""

    __scope_column__ = "commune_id"

    @classmethod
    def scope_column(cls):
        return getattr(cls, cls.__scope_column__)

    def scope_value(self):
        """The unit a write of this row belongs to."""
        return getattr(self, self.__scope_column__)


class Perms(dict):
    """unit id -> permissions, shared by every request of the same grants (never mutated), which
    remembers the units holding each permission once they have been asked for. ``paths`` holds
    the tree path of each unit, so subtrees within the scope need no query."""

    def __init__(self, *args, paths: dict | None = None, **kw):
        super().__init__(*args, **kw)
        self.paths = paths or {}
        self._units_with: dict[str, frozenset] = {}
        self._below: dict[tuple, frozenset] = {}

    def units_with(self, perm: str) -> frozenset:
        found = self._units_with.get(perm)
        if found is None:
            found = self._units_with[perm] = frozenset(u for u, p in self.items() if perm in p)
        return found

    def units_below(self, unit_id: int, perm: str) -> frozenset:
        """The units at or below ``unit_id`` holding ``perm`` (empty when it holds no path)."""
        key = (unit_id, perm)
        found = self._below.get(key)
        if found is None:
            root = self.paths.get(unit_id)
            found = self._below[key] = frozenset(
                u for u in self.units_with(perm) if root is not None and self.paths.get(u, "").startswith(root))
        return found


@dataclass(frozen=True)
class Scope:
    user_id: int | None = None
    unit_ids: frozenset = frozenset()
    # unit id -> permissions held there (grants already pushed down the subtree)
    perms: dict = field(default_factory=dict, hash=False, compare=False)
    system: bool = False

    def sees(self, unit_id) -> bool:
        return self.system or unit_id in self.unit_ids

    def can(self, perm: str, unit_id: int | None = None) -> bool:
        if self.system:
            return True
        if unit_id is None:
            return any(perm in p for p in self.perms.values())
        return perm in self.perms.get(unit_id, ())

    def units_with(self, perm: str) -> frozenset:
        if isinstance(self.perms, Perms):
            return self.perms.units_with(perm)
        return frozenset(u for u, p in self.perms.items() if perm in p)

    def units_below(self, unit_id: int, perm: str) -> frozenset | None:
        """Units at or below ``unit_id`` holding ``perm``; None for a scope built without paths."""
        if isinstance(self.perms, Perms):
            return self.perms.units_below(unit_id, perm)
        return None


EMPTY = Scope()
SYSTEM = Scope(system=True)

_current: contextvars.ContextVar[Scope] = contextvars.ContextVar("camnet_scope", default=EMPTY)


def current_scope() -> Scope:
    return _current.get()


def set_scope(scope: Scope, session: Session | None = None):
    """Make ``scope`` current. PostgreSQL hears of it before the next statement (``install``);
    ``session`` is accepted for callers that name the session the scope is for."""
    return _current.set(scope)


def reset_scope(token, session: Session | None = None) -> None:
    _current.reset(token)


@contextlib.contextmanager
def use_scope(scope: Scope):
    """Run a block under another scope (workers and CLI use ``SYSTEM``)."""
    from ..extensions import db

    token = set_scope(scope, db.session)
    try:
        yield scope
    finally:
        reset_scope(token, db.session)


def system_scope():
    return use_scope(SYSTEM)


# Row-level security reads the scope from two transaction-local settings (``tenants/rls.py``).
SET_SCOPE_SQL = "SELECT set_config('app.unit_ranges', %s, true), set_config('app.system', %s, true)"


@functools.lru_cache(maxsize=512)
def rls_settings(scope: Scope) -> tuple[str, str]:
    """(app.unit_ranges, app.system) for a scope, built once per scope: the parameters of SET_SCOPE_SQL."""
    return ranges_literal(scope.unit_ids), "on" if scope.system else "off"


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


class _Ranges(TypeDecorator):
    """An int4multirange parameter handed over as its text literal: the ``::INT4MULTIRANGE`` cast
    types the parameter itself, so PostgreSQL parses it once per execution, not once per row."""

    impl = INT4MULTIRANGE
    cache_ok = True

    def bind_processor(self, dialect):
        return None


def dialect_name() -> str:
    from ..extensions import db

    return db.engine.dialect.name


class _IdArray(TypeDecorator):
    """An integer[] parameter handed over as its text literal ('{1,2,3}'). psycopg sends a str
    untyped, so the ``::INTEGER[]`` cast types the parameter itself: PostgreSQL parses it once
    and tests rows against a hashed set. (Dumping 500 ints one by one cost more than the query,
    and a VARCHAR parameter cast to integer[] is re-parsed for every row.)"""

    impl = ARRAY(Integer)
    cache_ok = True

    def bind_processor(self, dialect):
        return None


def member_of(column, ids, dialect: str | None = None):
    """``column IN ids`` for a set of unit ids of any size, the ids bound in the statement.

    On PostgreSQL it is ``column IN (SELECT unnest(one integer[] parameter))``: the SQL text is
    the same for ten ids or five hundred, so SQLAlchemy and psycopg reuse their compiled and
    converted statement (an IN list of ~500 placeholders cost ~10 ms of conversion per
    statement), and PostgreSQL tests rows against a hashed set built once. Unlike
    ``= ANY(array)`` it is never taken for a 500-probe index condition that crowds out a
    selective one (``commune_id = 7`` then fell back to a sequential scan). SQLite reads a
    JSON array the same way."""
    return in_ids(column, None, dialect or dialect_name(), ids)


def as_filter(membership):
    """``membership OR false``: the same rows, but PostgreSQL cannot pull an IN (SELECT ...) out of
    an OR into a join, so it stays a hashed SubPlan tested on each row where the rest of the plan
    puts it. As a semi-join it was hashed against the table instead, which threw away the order an
    index gives: a camera's newest 50 snapshots read every snapshot of the camera and sorted them."""
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
        return select(func.unnest(bindparam(name, type_=_IdArray(), **given)))
    return select(func.json_each(bindparam(name, type_=String(), **given)).table_valued("value").c.value)


def in_ids(column, name: str | None, dialect: str, ids=None):
    """``column IN ids_select(...)``, kept a per-row filter on PostgreSQL (``as_filter``)."""
    membership = column.in_(ids_select(name, dialect, ids))
    return as_filter(membership) if dialect == "postgresql" else membership


def any_of(column, name: str, dialect: str):
    """``column = ANY(:name)`` for a short list of ids (a report's cameras) in a statement built once:
    one integer[] parameter whatever the list's length, and still an index condition, where an
    expanding IN wrote a new statement for every length and ``in_ids`` a per-row filter. Not for
    scope sets: 500 ids as an index condition crowd out a selective one. Value: ``ids_value``."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=_IdArray()))
    return column.in_(ids_select(name, dialect))


def ids_value(ids: frozenset, dialect: str) -> str:
    """The parameter of ``ids_select``: '{1,2}' for PostgreSQL's integer[], '[1,2]' for SQLite's json_each."""
    return _id_literal(ids) if dialect == "postgresql" else _json_ids(ids)


@functools.lru_cache(maxsize=1024)
def _json_ids(ids: frozenset) -> str:
    return "[" + ",".join(str(int(i)) for i in sorted(ids)) + "]"


SCOPE_PARAM = "camnet_scope_ids"


def scope_value(ids: frozenset, dialect: str) -> str:
    """The value of ``SCOPE_PARAM``: the ranges for PostgreSQL, a JSON array for SQLite's json_each."""
    return ranges_literal(ids) if dialect == "postgresql" else _json_ids(ids)


# One loader criterion for every ``Scoped`` class, the same object for every scope: the ids travel
# as the parameter ``camnet_scope_ids``. SQLAlchemy's statement cache key then costs one option,
# not one per scoped class (a criterion per class and scope cost ~0.2 ms a statement), and the
# compiled SQL is shared by all principals. One lambda per dialect: SQLAlchemy caches a lambda's
# expression by its code.
# (Helpers, not literals, inside the lambdas: SQLAlchemy turns a literal it sees there into a parameter.)
def _pg_scope(column):
    return in_ranges(column, bindparam(SCOPE_PARAM, type_=_Ranges()))


def in_ranges(column, ranges):
    """``coalesce(column <@ ranges, false)``. The same rows as ``column <@ ranges``, but the planner,
    which cannot know the ranges of a generic plan, assumes half the rows pass (as it did for the
    IN list) rather than 0.5% of them: on that guess it joined 500 funding phases by a sequential
    scan per allocation instead of by their key."""
    return func.coalesce(column.op("<@")(ranges), literal_column("false"))


def _sqlite_scope(column):
    return in_ids(column, SCOPE_PARAM, "sqlite")


def _column_of(cls):
    """SQLAlchemy calls the lambda once with the mixin itself, which has no column: a stand-in."""
    name = cls.__scope_column__
    return getattr(cls, name) if hasattr(cls, name) else literal_column(name)


_CRITERIA = {
    "postgresql": with_loader_criteria(Scoped, lambda cls: _pg_scope(_column_of(cls)),
                                       include_aliases=True, track_closure_variables=False),
    "sqlite": with_loader_criteria(Scoped, lambda cls: _sqlite_scope(_column_of(cls)),
                                   include_aliases=True, track_closure_variables=False),
}


def install(db) -> None:
    """Register the hooks on every Session (idempotent)."""
    if getattr(install, "_done", False):
        return
    install._done = True

    @event.listens_for(Session, "do_orm_execute")
    def _add_scope_criteria(state):
        if not (state.is_select or state.is_update or state.is_delete):
            return
        if state.execution_options.get("skip_scope"):
            return
        scope = current_scope()
        if scope.system:
            return
        dialect = dialect_name()
        state.statement = state.statement.options(_CRITERIA[dialect])
        value = scope_value(scope.unit_ids, dialect)
        params = state.parameters
        if isinstance(params, list):
            state.parameters = [{**p, SCOPE_PARAM: value} for p in params]
        else:
            state.parameters = {**(params or {}), SCOPE_PARAM: value}

    @event.listens_for(Session, "before_flush")
    def _check_writes(session, flush_context, instances):
        scope = current_scope()
        if scope.system:
            return
        from ..errors import NotFoundError

        for obj in list(session.new) + list(session.dirty) + list(session.deleted):
            if isinstance(obj, Scoped):
                value = obj.scope_value()
                if value is None or value not in scope.unit_ids:
                    raise NotFoundError()

    # Row-level security reads the scope from two transaction-local settings. They are sent on
    # the connection just before a statement runs whenever the scope differs from what this
    # transaction last heard, so a scope switched and switched back without a query costs nothing.
    _RLS_KEY = "camnet_rls_sent"

    @event.listens_for(Engine, "before_cursor_execute")
    def _send_scope(conn, cursor, statement, parameters, context, executemany):
        if conn.dialect.name != "postgresql":
            return
        want = rls_settings(current_scope())
        if conn.info.get(_RLS_KEY) is not want:
            conn.connection.driver_connection.execute(SET_SCOPE_SQL, want)
            conn.info[_RLS_KEY] = want

    def _forget(conn, *args):
        conn.info.pop(_RLS_KEY, None)

    # Transaction-local settings end with the transaction, and a savepoint rolled back takes
    # back whatever was set inside it.
    for name in ("begin", "commit", "rollback", "rollback_savepoint"):
        event.listen(Engine, name, _forget)
