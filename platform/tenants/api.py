"""Tenants API: units, villages, users, grants, tokens and the audit log."""
from __future__ import annotations

from flask_login import current_user
from sqlalchemy import select

from ..apispec import ApiBlueprint
from ..extensions import db
from . import access, services
from .idsets import member_of
from .models import AdminUnit, AuditEvent, User
from .schemas import (AuditEventOut, AuditQuery, GrantCreated, GrantIn, TokenCreated, TokenIn, TokenOut, UnitIn,
                      UnitOut, UserIn, UserOut, VillageCreated, VillageIn, VillageOut)
from .scope import current_scope

bp = ApiBlueprint("tenants_api", __name__, tag="tenants")


@bp.operation("/units", summary="Đơn vị hành chính trong phạm vi / Units in scope", perm="units.read",
              response=list[UnitOut])
def list_units():
    return services.list_units()


@bp.operation("/units", "POST", summary="Tạo đơn vị / Create a unit", perm="units.manage", body=UnitIn,
              example={"parent_id": "{unit_id}", "code": "X-NEW", "name": "Xã Mới", "level": "xã", "is_commune": True},
              response=UnitOut, status=201)
def create_unit(body: UnitIn):
    return services.create_unit(body), 201


@bp.operation("/units/<int:unit_id>", summary="Một đơn vị / One unit", perm="units.read",
              response=UnitOut)
def get_unit(unit_id: int):
    return access.get_scoped(AdminUnit, unit_id, "units.read")


@bp.operation("/units/<int:unit_id>/villages", summary="Thôn, tổ dân phố của xã / Villages of a commune",
              perm="units.read", response=list[VillageOut])
def list_villages(unit_id: int):
    return services.list_villages(unit_id)


@bp.operation("/units/<int:unit_id>/villages", "POST", summary="Thêm thôn / Add a village",
              perm="units.manage", body=VillageIn, example={"name": "Thôn Mới", "kind": "thôn"},
              response=VillageCreated, status=201)
def create_village(unit_id: int, body: VillageIn):
    return services.create_village(unit_id, body), 201


@bp.operation("/users", summary="Người dùng trong phạm vi / Users in scope", perm="users.read",
              response=list[UserOut])
def list_users():
    return services.list_users()


@bp.operation("/users", "POST", summary="Tạo người dùng / Create a user", perm="users.manage", body=UserIn,
              example={"username": "new.user", "full_name": "Người Mới", "password": "mat-khau-dai-1",
                       "unit_id": "{unit_id}"}, response=UserOut, status=201)
def create_user(body: UserIn):
    return services.create_user(body), 201


@bp.operation("/users/<int:user_id>", summary="Một người dùng / One user", perm="users.read",
              response=UserOut)
def get_user(user_id: int):
    return access.get_scoped(User, user_id, "users.read")


@bp.operation("/users/<int:user_id>/grants", "POST", summary="Cấp vai trò / Grant a role",
              perm="users.manage", body=GrantIn, example={"role": "operator", "unit_id": "{unit_id}"},
              response=GrantCreated, status=201)
def grant_role(user_id: int, body: GrantIn):
    return services.grant_role(user_id, body), 201


@bp.operation("/users/<int:user_id>/grants/<int:grant_id>", "DELETE", summary="Thu hồi vai trò / Revoke a role",
              perm="users.manage", status=204)
def revoke_grant(user_id: int, grant_id: int):
    services.revoke_grant(user_id, grant_id)
    return "", 204


@bp.operation("/tokens", summary="Mã truy cập API của tôi / My API tokens", response=list[TokenOut])
def list_tokens():
    return services.list_tokens(current_user)


@bp.operation("/tokens", "POST", summary="Tạo mã truy cập / Create an API token", body=TokenIn,
              example={"name": "máy chủ báo cáo"}, response=TokenCreated, status=201)
def create_token(body: TokenIn):
    token, secret = services.create_token(current_user, body)
    return TokenCreated(**TokenOut.model_validate(token).model_dump(), token=secret), 201


@bp.operation("/tokens/<int:token_id>", "DELETE", summary="Thu hồi mã truy cập / Revoke an API token",
              response=TokenOut)
def revoke_token(token_id: int):
    return services.revoke_token(current_user, token_id)


@bp.operation("/audit", summary="Nhật ký truy cập trong phạm vi / Audit log of the subtree",
              perm="audit.read", query=AuditQuery, response=list[AuditEventOut])
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
    return db.session.execute(stmt).scalars().all()
