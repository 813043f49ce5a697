"""What a scope is and which one is current.

A scope is the set of administrative-unit ids the current principal may see, with the permissions
held in each. Every model that mixes in ``Scoped`` names the column that ties a row to a unit
(``commune_id`` for commune data, ``unit_id`` for people and audit rows). ``orm_hooks`` keeps every
query and write inside the current scope, ``rls_session`` hands it to PostgreSQL's row-level
security, and ``roles.scope_for_user`` builds it from a user's grants. With no scope set, queries
return nothing (fail closed).
"""
from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from ..extensions import db


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
    """Make ``scope`` current. PostgreSQL hears of it before the next statement (``rls_session``);
    ``session`` is accepted for callers that name the session the scope is for."""
    return _current.set(scope)


def reset_scope(token, session: Session | None = None) -> None:
    _current.reset(token)


@contextlib.contextmanager
def use_scope(scope: Scope):
    """Run a block under another scope (workers and CLI use ``SYSTEM``)."""
    token = set_scope(scope, db.session)
    try:
        yield scope
    finally:
        reset_scope(token, db.session)


def system_scope():
    return use_scope(SYSTEM)
