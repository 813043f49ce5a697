"""Tenants API: units, villages, users, grants, tokens and the audit log."""
from __future__ import annotations

from flask import jsonify
from flask_login import current_user
from sqlalchemy import select

from ..apispec import ApiBlueprint
from ..extensions import db
from . import services
from .models import AdminUnit, AuditEvent, User
from .roles import roles_of
from .schemas import AuditQuery, GrantIn, TokenIn, UnitIn, UserIn, VillageIn
from .scoping import current_scope, member_of

bp = ApiBlueprint("tenants_api", __name__, tag="tenants")


def unit_json(u: AdminUnit) -> dict:
    return {"id": u.id, "parent_id": u.parent_id, "code": u.code, "name": u.name, "level": u.level,
            "is_commune": u.is_commune, "households": u.households, "population": u.population,
            "path": u.path}


def user_json(u: User) -> dict:
    return {"id": u.id, "username": u.username, "full_name": u.full_name, "email": u.email,
            "unit_id": u.unit_id, "active": u.active, "roles": roles_of(u),
            "grants": [{"id": g.id, "role": g.role, "unit_id": g.unit_id} for g in u.grants]}


@bp.operation("/units", summary="Đơn vị hành chính trong phạm vi / Units in scope", perm="units.read")
def list_units():
    return jsonify([unit_json(u) for u in services.list_units()])


@bp.operation("/units", "POST", summary="Tạo đơn vị / Create a unit", perm="units.manage", body=UnitIn,
              example={"parent_id": "{unit_id}", "code": "X-NEW", "name": "Xã Mới", "level": "xã", "is_commune": True})
def create_unit(body: UnitIn):
    return jsonify(unit_json(services.create_unit(body))), 201


@bp.operation("/units/<int:unit_id>", summary="Một đơn vị / One unit", perm="units.read")
def get_unit(unit_id: int):
    return jsonify(unit_json(services.get_scoped(AdminUnit, unit_id, "units.read")))


@bp.operation("/units/<int:unit_id>/villages", summary="Thôn, tổ dân phố của xã / Villages of a commune",
              perm="units.read")
def list_villages(unit_id: int):
    return jsonify([{"id": v.id, "commune_id": v.commune_id, "name": v.name, "kind": v.kind,
                     "households": v.households, "population": v.population}
                    for v in services.list_villages(unit_id)])


@bp.operation("/units/<int:unit_id>/villages", "POST", summary="Thêm thôn / Add a village",
              perm="units.manage", body=VillageIn, example={"name": "Thôn Mới", "kind": "thôn"})
def create_village(unit_id: int, body: VillageIn):
    v = services.create_village(unit_id, body)
    return jsonify({"id": v.id, "commune_id": v.commune_id, "name": v.name}), 201


@bp.operation("/users", summary="Người dùng trong phạm vi / Users in scope", perm="users.read")
def list_users():
    return jsonify([user_json(u) for u in services.list_users()])


@bp.operation("/users", "POST", summary="Tạo người dùng / Create a user", perm="users.manage", body=UserIn,
              example={"username": "new.user", "full_name": "Người Mới", "password": "mat-khau-dai-1",
                       "unit_id": "{unit_id}"})
def create_user(body: UserIn):
    return jsonify(user_json(services.create_user(body))), 201


@bp.operation("/users/<int:user_id>", summary="Một người dùng / One user", perm="users.read")
def get_user(user_id: int):
    return jsonify(user_json(services.get_scoped(User, user_id, "users.read")))


@bp.operation("/users/<int:user_id>/grants", "POST", summary="Cấp vai trò / Grant a role",
              perm="users.manage", body=GrantIn, example={"role": "operator", "unit_id": "{unit_id}"})
def grant_role(user_id: int, body: GrantIn):
    g = services.grant_role(user_id, body)
    return jsonify({"id": g.id, "role": g.role, "unit_id": g.unit_id, "user_id": g.user_id}), 201


@bp.operation("/users/<int:user_id>/grants/<int:grant_id>", "DELETE", summary="Thu hồi vai trò / Revoke a role",
              perm="users.manage")
def revoke_grant(user_id: int, grant_id: int):
    services.revoke_grant(user_id, grant_id)
    return "", 204


@bp.operation("/tokens", summary="Mã truy cập API của tôi / My API tokens")
def list_tokens():
    return jsonify([_token_json(t) for t in services.list_tokens(current_user)])


@bp.operation("/tokens", "POST", summary="Tạo mã truy cập / Create an API token", body=TokenIn,
              example={"name": "máy chủ báo cáo"})
def create_token(body: TokenIn):
    token, secret = services.create_token(current_user, body)
    return jsonify({**_token_json(token), "token": secret}), 201


@bp.operation("/tokens/<int:token_id>", "DELETE", summary="Thu hồi mã truy cập / Revoke an API token")
def revoke_token(token_id: int):
    return jsonify(_token_json(services.revoke_token(current_user, token_id)))


def _token_json(t) -> dict:
    iso = lambda d: d.isoformat() if d else None  # noqa: E731
    return {"id": t.id, "name": t.name, "prefix": t.prefix, "created_at": iso(t.created_at),
            "expires_at": iso(t.expires_at), "last_used_at": iso(t.last_used_at),
            "revoked_at": iso(t.revoked_at)}


@bp.operation("/audit", summary="Nhật ký truy cập trong phạm vi / Audit log of the subtree",
              perm="audit.read", query=AuditQuery)
def list_audit(query: AuditQuery):
    stmt = (select(AuditEvent)
            .where(member_of(AuditEvent.unit_id, current_scope().units_with("audit.read")))
            .order_by(AuditEvent.id.desc()).limit(query.limit))
    if query.unit_id is not None:
        stmt = stmt.where(AuditEvent.unit_id == query.unit_id)
    if query.action:
        stmt = stmt.where(AuditEvent.action == query.action)
    if query.before_id:
        stmt = stmt.where(AuditEvent.id < query.before_id)
    rows = db.session.execute(stmt).scalars()
    return jsonify([{"id": e.id, "at": e.at.isoformat(), "actor_id": e.actor_id, "actor": e.actor_name,
                     "action": e.action, "outcome": e.outcome, "unit_id": e.unit_id,
                     "object_type": e.object_type, "object_id": e.object_id, "ip": e.ip,
                     "reason": e.reason, "detail": e.detail} for e in rows])
