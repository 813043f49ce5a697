"""The /api/v1 root: the OpenAPI document and who-am-I."""
from flask import jsonify
from flask_login import current_user

from .apispec import ApiBlueprint, openapi_document
from .tenants.roles import roles_of
from .tenants.scoping import current_scope

bp = ApiBlueprint("api", __name__, tag="meta")


@bp.operation("/openapi.json", summary="Tài liệu OpenAPI / This OpenAPI document", public=True)
def openapi():
    return jsonify(openapi_document())


@bp.operation("/me", summary="Người dùng hiện tại / The signed-in user and their grants")
def me():
    scope = current_scope()
    return jsonify({
        "id": current_user.id,
        "username": current_user.username,
        "full_name": current_user.full_name,
        "unit_id": current_user.unit_id,
        "roles": roles_of(current_user),
        "grants": [{"id": g.id, "role": g.role, "unit_id": g.unit_id} for g in current_user.grants],
        "unit_count": len(scope.unit_ids),
    })
