"""Roles, the permissions each carries, and the scope a user's grants give them."""
from __future__ import annotations

import functools

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from ..extensions import db
from .scope import Perms, Scope, system_scope

# Permissions are verbs on kinds of data. A grant at a node carries them to every unit below.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({
        "units.read", "units.manage", "users.read", "users.manage", "audit.read",
        "cameras.read", "cameras.manage", "media.view", "faults.read", "faults.manage",
        "incidents.read", "incidents.manage", "funding.read", "funding.manage",
    }),
    "police": frozenset({
        "units.read", "users.read", "audit.read", "cameras.read", "media.view",
        "faults.read", "incidents.read", "incidents.manage", "funding.read",
    }),
    "chairman": frozenset({
        "units.read", "users.read", "cameras.read", "faults.read", "incidents.read",
        "funding.read", "funding.manage",
    }),
    "operator": frozenset({
        "units.read", "cameras.read", "cameras.manage", "media.view", "faults.read",
        "incidents.read", "incidents.manage",
    }),
    "technician": frozenset({"units.read", "cameras.read", "faults.read", "faults.manage"}),
    "sponsor": frozenset({"sponsor.own"}),
    "household": frozenset({"household.own"}),
    # Add-on grants held beside a role: video for a chairman, money for an operator.
    "video": frozenset({"media.view"}),
    "finance": frozenset({"funding.read"}),
}
ROLES = tuple(ROLE_PERMISSIONS)

ROLE_LABELS = {
    "admin": ("Quản trị nền tảng", "Platform admin"),
    "police": ("Công an huyện/tỉnh", "District/province police"),
    "chairman": ("Chủ tịch UBND xã", "Commune chairman"),
    "operator": ("Cán bộ trực camera", "Commune operator"),
    "technician": ("Kỹ thuật viên", "Technician"),
    "sponsor": ("Nhà tài trợ", "Sponsor"),
    "household": ("Hộ gia đình", "Household"),
    "video": ("Quyền xem hình ảnh", "Video grant"),
    "finance": ("Quyền xem tài chính", "Finance grant"),
}


def subtree_ids(units_by_id: dict, root_path: str) -> list[int]:
    return [uid for uid, path in units_by_id.items() if path.startswith(root_path)]


def scope_for_user(user) -> Scope:
    """The units a user sees and what they may do in each: the union of their grants' subtrees."""
    from .models import RoleGrant

    with system_scope():
        rows = db.session.execute(
            select(*grant_columns()).join(RoleGrant.unit).where(RoleGrant.user_id == user.id)).all()
        return scope_from_grants(user.id, user.unit_id, rows)


def grant_columns() -> tuple:
    """(role, unit path, newest unit id): what ``scope_from_grants`` reads off a user's grant rows."""
    from .models import AdminUnit, RoleGrant

    return RoleGrant.role, AdminUnit.path, select(func.max(_newest_unit().id)).scalar_subquery()


def scope_from_grants(user_id: int, home_unit: int | None, rows) -> Scope:
    """The scope of grant rows shaped as ``grant_columns`` (a row without a role is no grant)."""
    grants = tuple(sorted((role, path) for role, path, _ in rows if role is not None))
    unit_ids, perms = _expand(grants, home_unit, rows[0][2] if rows else None)
    return Scope(user_id=user_id, unit_ids=unit_ids, perms=perms)


@functools.cache
def _newest_unit():
    """An alias of admin_units for the newest-unit subquery, built once (a fresh alias per request
    made SQLAlchemy build its columns and cache key again every time)."""
    from .models import AdminUnit

    return aliased(AdminUnit)


@functools.lru_cache(maxsize=1024)
def _expand(grants: tuple, home_unit: int | None, newest_unit: int | None) -> tuple[frozenset, Perms]:
    """Grants pushed down their subtrees, computed once per set of grants. Units are only ever
    added (never moved or deleted), so the newest unit id marks every change of a subtree."""
    from .models import AdminUnit

    perms: dict[int, set[str]] = {}
    paths: dict[int, str] = {}
    for role, path in grants:
        rows = db.session.execute(
            select(AdminUnit.id, AdminUnit.path).where(AdminUnit.path.startswith(path, autoescape=True)))
        for uid, upath in rows:
            perms.setdefault(uid, set()).update(ROLE_PERMISSIONS.get(role, ()))
            paths[uid] = upath
    # Everyone sees their own home unit (name on the page), nothing more without a grant.
    perms.setdefault(home_unit, set())
    return frozenset(perms), Perms({k: frozenset(v) for k, v in perms.items()}, paths=paths)


def roles_of(user) -> list[str]:
    return sorted({g.role for g in user.grants})


# Residents: households and sponsors. Everyone else (or anyone holding another role too) is staff,
# with longer passwords and API tokens.
RESIDENT_ROLES = frozenset({"household", "sponsor"})


def is_staff(roles) -> bool:
    """True unless every role held is a resident's. Holding no role yet counts as staff: a new
    account's roles are granted after it is made, so its password must already be a staff one."""
    roles = set(roles)
    return not roles or not roles <= RESIDENT_ROLES


def roles_of_id(user_id: int) -> set[str]:
    """Every role a user holds anywhere, whatever the current scope."""
    from .models import RoleGrant

    with system_scope():
        return set(db.session.execute(select(RoleGrant.role).where(RoleGrant.user_id == user_id)).scalars())
