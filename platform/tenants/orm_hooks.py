"""The ORM meets the scope: every SELECT, UPDATE and DELETE of a ``Scoped`` class is filtered to the
current scope, and a flush refuses writes outside it (system scope: neither)."""
from __future__ import annotations

from sqlalchemy import bindparam, event, literal_column
from sqlalchemy.orm import Session, with_loader_criteria

from ..errors import NotFoundError
from .idsets import SCOPE_PARAM, RangesParam, dialect_name, in_ids, in_ranges, scope_value
from .scope import Scoped, current_scope


# One loader criterion for every ``Scoped`` class and every scope, the ids in the parameter
# ``SCOPE_PARAM`` (why: docs/SCALING.md, "Tenancy core"). One lambda per dialect: SQLAlchemy caches
# a lambda's expression by its code, and turns a literal it sees there into a parameter (hence helpers).
def _pg_scope(column):
    return in_ranges(column, bindparam(SCOPE_PARAM, type_=RangesParam()))


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
        for obj in list(session.new) + list(session.dirty) + list(session.deleted):
            if isinstance(obj, Scoped):
                value = obj.scope_value()
                if value is None or value not in scope.unit_ids:
                    raise NotFoundError()
