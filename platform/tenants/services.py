"""Tenant services: units, villages, users, grants, tokens, sign-in. They validate and own the transaction."""
from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import timedelta, timezone

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.orm import lazyload

from ..clock import utc_now
from ..errors import ConflictError, ForbiddenError, NotFoundError, TooManyRequests, ValidationFailed
from ..extensions import db
from . import audit, throttle
from .access import get_scoped
from .idsets import member_of
from .models import AdminUnit, ApiToken, RoleGrant, User, Village
from .passwords import check_new_password, hash_password, verify_password
from .roles import ROLE_PERMISSIONS, is_staff, roles_of_id
from .scope import Scope, current_scope, system_scope


# ---- units -------------------------------------------------------------------------------

def create_unit(data) -> AdminUnit:
    parent = None
    if data.parent_id is None:
        if not current_scope().system:
            raise ValidationFailed("parent_id: only the platform creates a root unit", field="parent_id")
    else:
        parent = get_scoped(AdminUnit, data.parent_id, "units.manage")
        if parent.is_commune:
            raise ValidationFailed("parent_id: a commune cannot contain units", field="parent_id")
    with system_scope():
        if db.session.execute(select(AdminUnit.id).where(AdminUnit.code == data.code)).first():
            raise ConflictError(f"code: a unit with code {data.code!r} already exists", field="code")
        unit = AdminUnit(parent_id=data.parent_id, code=data.code, name=data.name, level=data.level,
                         is_commune=data.is_commune, households=data.households,
                         population=data.population, path="/")
        db.session.add(unit)
        db.session.flush()
        unit.path = f"{parent.path if parent else '/'}{unit.id}/"
        audit.record("unit.create", unit_id=unit.id, object_type="unit", object_id=unit.id,
                     detail={"name": unit.name, "parent_id": unit.parent_id})
    db.session.commit()
    return unit


def list_units(parent_id: int | None = None) -> list[AdminUnit]:
    stmt = select(AdminUnit).order_by(AdminUnit.path)
    scope = current_scope()
    if not scope.system:
        stmt = stmt.where(member_of(AdminUnit.id, scope.units_with("units.read")))
    if parent_id is not None:
        stmt = stmt.where(AdminUnit.parent_id == parent_id)
    return list(db.session.execute(stmt).scalars())


def communes_below(unit: AdminUnit) -> list[AdminUnit]:
    return list(db.session.execute(
        select(AdminUnit).where(AdminUnit.is_commune.is_(True),
                                AdminUnit.path.startswith(unit.path, autoescape=True))
        .order_by(AdminUnit.name)
    ).scalars())


# ---- villages ----------------------------------------------------------------------------

def create_village(commune_id: int, data) -> Village:
    commune = get_scoped(AdminUnit, commune_id, "units.manage")
    if not commune.is_commune:
        raise ValidationFailed("commune_id: villages belong to a commune", field="commune_id")
    exists = db.session.execute(
        select(Village.id).where(Village.commune_id == commune.id, Village.name == data.name)
    ).first()
    if exists:
        raise ConflictError(f"name: {data.name!r} already exists in this commune", field="name")
    village = Village(commune_id=commune.id, name=data.name, kind=data.kind,
                      households=data.households, population=data.population)
    db.session.add(village)
    db.session.commit()
    return village


def list_villages(commune_id: int) -> list[Village]:
    commune = get_scoped(AdminUnit, commune_id, "units.read")
    return list(db.session.execute(
        select(Village).where(Village.commune_id == commune.id).order_by(Village.name)
    ).scalars())


# ---- users and grants --------------------------------------------------------------------

def create_user(data) -> User:
    unit = get_scoped(AdminUnit, data.unit_id, "users.manage")
    # roles come after the account: a new account's password must already be a staff one
    check_password_for(data.password, username=data.username, roles=())
    with system_scope():
        if db.session.execute(select(User.id).where(User.username == data.username)).first():
            raise ConflictError(f"username: {data.username!r} is taken", field="username")
    user = User(username=data.username, full_name=data.full_name, email=data.email,
                password_hash=hash_password(data.password), unit_id=unit.id, lang=data.lang)
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", unit_id=unit.id, object_type="user", object_id=user.id,
                 detail={"username": user.username})
    db.session.commit()
    return user


def grant_role(user_id: int, data) -> RoleGrant:
    user = get_scoped(User, user_id, "users.manage")
    unit = get_scoped(AdminUnit, data.unit_id, "users.manage")
    if data.role not in ROLE_PERMISSIONS:
        raise ValidationFailed("role: unknown role", field="role")
    if data.role == "admin" and unit.parent_id is not None:
        raise ValidationFailed("role: platform admin is granted at the root only", field="role")
    if data.role in {"chairman", "operator", "technician", "household", "sponsor"} and not unit.is_commune:
        raise ValidationFailed(f"unit_id: the {data.role} role is held at a commune", field="unit_id")
    existing = db.session.execute(
        select(RoleGrant).where(RoleGrant.user_id == user.id, RoleGrant.role == data.role,
                                RoleGrant.unit_id == unit.id)
    ).scalar_one_or_none()
    if existing:
        return existing
    grant = RoleGrant(user_id=user.id, role=data.role, unit_id=unit.id,
                      granted_by_id=current_scope().user_id)
    db.session.add(grant)
    db.session.flush()
    audit.record("role.grant", unit_id=unit.id, object_type="user", object_id=user.id,
                 detail={"role": data.role, "unit_id": unit.id})
    db.session.commit()
    return grant


def revoke_grant(user_id: int, grant_id: int) -> None:
    user = get_scoped(User, user_id, "users.manage")
    grant = get_scoped(RoleGrant, grant_id, "users.manage")
    if grant.user_id != user.id:
        raise NotFoundError()
    audit.record("role.revoke", unit_id=grant.unit_id, object_type="user", object_id=user.id,
                 detail={"role": grant.role, "unit_id": grant.unit_id})
    db.session.delete(grant)
    db.session.commit()


def list_users(unit_id: int | None = None) -> list[User]:
    stmt = select(User).order_by(User.username)
    scope = current_scope()
    if not scope.system:
        stmt = stmt.where(member_of(User.unit_id, scope.units_with("users.read")))
    if unit_id is not None:
        stmt = stmt.where(User.unit_id == unit_id)
    return list(db.session.execute(stmt).scalars())


def check_password_for(password: str, *, username: str, roles, field: str = "password") -> None:
    """The password rules of ``passwords.check_new_password`` for someone holding ``roles``."""
    cfg = current_app.config
    check_new_password(password, username=username, staff=is_staff(roles), field=field,
                       min_staff=cfg["PASSWORD_MIN_LENGTH_STAFF"], min_resident=cfg["PASSWORD_MIN_LENGTH_RESIDENT"])


# ---- tokens ------------------------------------------------------------------------------

def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(user: User, data) -> tuple[ApiToken, str]:
    """Returns the token row and the secret, which is shown once and never stored. Every token
    expires: ``API_TOKEN_DEFAULT_DAYS`` unless asked, at most ``API_TOKEN_MAX_DAYS``. Households and
    sponsors use the pages only."""
    if not is_staff(roles_of_id(user.id)):
        raise ForbiddenError("Hộ gia đình và nhà tài trợ không dùng mã API / "
                             "Households and sponsors cannot hold API tokens")
    cfg = current_app.config
    now = utc_now()
    expires_at = data.expires_at
    if expires_at is None:
        expires_at = now + timedelta(days=min(cfg["API_TOKEN_DEFAULT_DAYS"], cfg["API_TOKEN_MAX_DAYS"]))
    expires_at = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=timezone.utc)
    if expires_at <= now:
        raise ValidationFailed("expires_at: must be in the future", field="expires_at")
    if expires_at > now + timedelta(days=cfg["API_TOKEN_MAX_DAYS"]):
        raise ValidationFailed(f"expires_at: Tối đa {cfg['API_TOKEN_MAX_DAYS']} ngày / "
                               f"at most {cfg['API_TOKEN_MAX_DAYS']} days ahead", field="expires_at")
    secret = "cn_" + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, unit_id=user.unit_id, name=data.name, prefix=secret[:10],
                     token_hash=_token_hash(secret), expires_at=expires_at)
    with system_scope():
        db.session.add(token)
        db.session.flush()
        audit.record("token.create", unit_id=user.unit_id, object_type="token", object_id=token.id,
                     detail={"name": data.name, "user_id": user.id, "expires_at": expires_at.isoformat()})
    db.session.commit()
    return token, secret


def list_tokens(user: User) -> list[ApiToken]:
    with system_scope():
        return list(db.session.execute(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
        ).scalars())


def revoke_token(user: User, token_id: int) -> ApiToken:
    with system_scope():
        token = db.session.execute(
            select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)
        ).scalar_one_or_none()
        if token is None:
            raise NotFoundError()
        if token.revoked_at is None:
            token.revoked_at = utc_now()
            audit.record("token.revoke", unit_id=token.unit_id, object_type="token", object_id=token.id)
    db.session.commit()
    return token


def principal_for_token(secret: str) -> tuple[User, Scope] | None:
    """The active user behind a live (unrevoked, unexpired) token and the scope of their grants,
    in one round trip: one row per grant (or one row with no grant)."""
    if not secret.startswith("cn_"):
        return None
    from .roles import scope_from_grants

    with system_scope():
        rows = db.session.execute(_principal_statement(), {
            "token_hash": _token_hash(secret), "now": utc_now()}).all()
        if not rows:
            return None
        user = rows[0][0]
        return user, scope_from_grants(user.id, user.unit_id, [row[1:] for row in rows])


@functools.cache
def _principal_statement():
    """Built once: every API request runs it, and building it cost as much as running it."""
    from .roles import grant_columns

    return (select(User, *grant_columns()).join(ApiToken, ApiToken.user_id == User.id)
            .outerjoin(RoleGrant, RoleGrant.user_id == User.id).outerjoin(RoleGrant.unit)
            .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None),
                   ApiToken.expires_at > bindparam("now"),  # every token expires (0009 gave old ones a date)
                   User.active.is_(True))
            .options(lazyload(User.grants)))  # the scope is built from the rows; most requests never need them


# ---- sign-in -----------------------------------------------------------------------------

def authenticate(username: str, password: str, ip: str | None) -> User:
    """Check a password under the throttle; every attempt is audited."""
    username = (username or "").strip().lower()
    wait = throttle.locked_for(username, ip)
    if wait:
        with system_scope():
            audit.record("auth.signin", outcome="locked", actor_name=username[:80],
                         detail={"retry_after": wait})
        db.session.commit()
        raise TooManyRequests(f"Tạm khóa đăng nhập, thử lại sau {wait} giây / "
                              f"Sign-in locked, retry in {wait} s", field="username")
    with system_scope():
        user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        ok = verify_password(user.password_hash if user else None, password) and user is not None and user.active
        if not ok:
            throttle.note_failure(username, ip)
            audit.record("auth.signin", outcome="failed", unit_id=user.unit_id if user else None,
                         actor_name=username[:80])
            db.session.commit()
            raise ValidationFailed("Sai tên đăng nhập hoặc mật khẩu / Wrong username or password",
                                   field="password")
        throttle.note_success(username)
        audit.record("auth.signin", unit_id=user.unit_id, actor=user)
    db.session.commit()
    return user
