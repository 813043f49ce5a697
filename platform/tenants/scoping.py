"""The one scoping mechanism: every ORM query and write of tenant data meets the current scope.

A scope is the set of administrative-unit ids the current principal may see. Every model
that mixes in ``Scoped`` names the column that ties a row to a unit (``commune_id`` for
commune data, ``unit_id`` for people and audit rows). A ``do_orm_execute`` hook adds
``column IN scope`` to every SELECT, UPDATE and DELETE, and a ``before_flush`` hook refuses
writes outside it. With no scope set, queries return nothing (fail closed). On PostgreSQL
the same set is handed to row-level security policies through ``app.unit_ids``.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
from dataclasses import dataclass, field

from sqlalchemy import event, text
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
        return frozenset(u for u, p in self.perms.items() if perm in p)


EMPTY = Scope()
SYSTEM = Scope(system=True)

_current: contextvars.ContextVar[Scope] = contextvars.ContextVar("camnet_scope", default=EMPTY)


def current_scope() -> Scope:
    return _current.get()


def set_scope(scope: Scope, session: Session | None = None):
    token = _current.set(scope)
    if session is not None:
        apply_to_database(session)
    return token


def reset_scope(token, session: Session | None = None) -> None:
    _current.reset(token)
    if session is not None:
        apply_to_database(session)


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


def _scoped_classes(mapper_registry):
    for mapper in mapper_registry.mappers:
        if issubclass(mapper.class_, Scoped):
            yield mapper.class_


def _rls_settings(scope: Scope) -> dict:
    return {
        "ids": ",".join(str(i) for i in sorted(scope.unit_ids)),
        "system": "on" if scope.system else "off",
    }


@functools.lru_cache(maxsize=512)
def _criteria(scope: Scope, registry) -> tuple:
    """The loader criteria of one scope, built once: a province's police scope holds hundreds of
    ids, and coercing them again for every class and every query cost more than the query."""
    ids = sorted(scope.unit_ids)
    return tuple(with_loader_criteria(cls, cls.scope_column().in_(ids), include_aliases=True)
                 for cls in _scoped_classes(registry))


def apply_to_database(session: Session) -> None:
    """Re-send the scope to PostgreSQL if a transaction is already open."""
    if hasattr(session, "registry"):  # a scoped_session: act on this context's Session
        session = session()
    if not session.in_transaction():
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT set_config('app.unit_ids', :ids, true), set_config('app.system', :system, true)"),
            _rls_settings(current_scope()),
        )


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
        state.statement = state.statement.options(*_criteria(scope, db.Model.registry))

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

    @event.listens_for(Session, "after_begin")
    def _send_scope(session, transaction, connection):
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT set_config('app.unit_ids', :ids, true), set_config('app.system', :system, true)"),
                _rls_settings(current_scope()),
            )
