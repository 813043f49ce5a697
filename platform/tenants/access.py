"""Access: the one module every feature asks "may this principal do that, there?".

404 when an object lies outside the principal's scope (it does not exist for them), 403 when
their roles never hold the permission anywhere (ids are not looked at). No feature defines a
permission helper of its own; serialisers never decide permissions (their callers do, here).
"""
from __future__ import annotations

from sqlalchemy import select

from ..errors import ForbiddenError, NotFoundError
from ..extensions import db
from .idsets import member_of
from .models import AdminUnit, RoleGrant
from .scope import current_scope, system_scope


def get_scoped(model, object_id, perm: str | None = None, options: tuple = ()):
    """Load one row through the scope; outside it (or without ``perm`` there) it does not exist."""
    row = db.session.execute(select(model).where(model.id == object_id).options(*options)).scalar_one_or_none()
    if row is None:
        raise NotFoundError()
    if perm is not None and not current_scope().can(perm, row.scope_value()):
        raise NotFoundError()
    return row


def get_commune(unit_id, perm: str) -> AdminUnit:
    """A commune the principal may act on with ``perm``; any other unit (or none) does not exist: 404."""
    unit = get_scoped(AdminUnit, unit_id, perm)
    if not unit.is_commune:
        raise NotFoundError()
    return unit


def may(perm: str, unit_id: int | None = None) -> bool:
    """Whether the principal holds ``perm`` (anywhere, or at ``unit_id``)."""
    return current_scope().can(perm, unit_id)


def may_any(*perms: str, unit_id: int | None = None) -> bool:
    """Whether the principal holds one of ``perms`` (anywhere, or at ``unit_id``)."""
    scope = current_scope()
    return any(scope.can(p, unit_id) for p in perms)


def require(perm: str, unit_id: int | None = None) -> None:
    """Route-level check: a role that never holds ``perm`` gets 403; a unit outside its reach 404."""
    scope = current_scope()
    if unit_id is None:
        if not scope.can(perm):
            raise ForbiddenError()
    elif not scope.can(perm, unit_id):
        raise NotFoundError()


def require_at(perm: str, unit_id: int) -> None:
    """403 unless ``perm`` is held at ``unit_id``, a unit the principal already sees (a reader on a
    page where only managers record)."""
    if not current_scope().can(perm, unit_id):
        raise ForbiddenError()


def require_any(*perms: str) -> None:
    """403 only when the role never holds any of ``perms``."""
    if not may_any(*perms):
        raise ForbiddenError()


def require_all(*perms: str) -> None:
    """403 unless the role holds every one of ``perms`` somewhere."""
    for perm in perms:
        require(perm)


def communes_for(perm: str) -> list[AdminUnit]:
    """The communes the principal may act on with ``perm`` (among the units it may read), in the
    unit tree's order."""
    scope = current_scope()
    stmt = select(AdminUnit).where(AdminUnit.is_commune.is_(True)).order_by(AdminUnit.path)
    if not scope.system:
        stmt = stmt.where(member_of(AdminUnit.id, scope.units_with("units.read")))
    return [u for u in db.session.execute(stmt).scalars() if scope.can(perm, u.id)]


def holds_role(roles: tuple[str, ...], unit_id: int) -> bool:
    """Whether the principal holds one of ``roles`` by a grant at ``unit_id`` or at a unit above it.
    For the few rules tied to a role rather than a permission (only police lift a closed case's
    evidence hold); the system scope holds no role."""
    scope = current_scope()
    if scope.system or scope.user_id is None:
        return False
    with system_scope():
        path = db.session.execute(select(AdminUnit.path).where(AdminUnit.id == unit_id)).scalar_one()
        grants = db.session.execute(
            select(AdminUnit.path).join(RoleGrant, RoleGrant.unit_id == AdminUnit.id)
            .where(RoleGrant.user_id == scope.user_id, RoleGrant.role.in_(roles))).scalars()
        return any(path.startswith(p) for p in grants)


def require_platform_admin() -> None:
    """Install-wide settings (shared by every commune): only an admin of a root unit."""
    scope = current_scope()
    if scope.system:
        return
    with system_scope():
        roots = set(db.session.execute(select(AdminUnit.id).where(AdminUnit.parent_id.is_(None))).scalars())
    if not any(scope.can("units.manage", r) for r in roots):
        raise ForbiddenError()
