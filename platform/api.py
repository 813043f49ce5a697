"""The /api/v1 root: the OpenAPI document and who-am-I."""
from typing import Any

from flask import jsonify
from flask_login import current_user

from .apispec import ApiBlueprint, openapi_document
from .tenants.schemas import MeOut
from .tenants.scope import current_scope

bp = ApiBlueprint("api", __name__, tag="meta")


@bp.operation("/openapi.json", summary="Tài liệu OpenAPI / This OpenAPI document", public=True,
              response=dict[str, Any])
def openapi():
    return jsonify(openapi_document())


@bp.operation("/me", summary="Người dùng hiện tại / The signed-in user and their grants", response=MeOut)
def me():
    return MeOut.model_validate(current_user).model_copy(update={"unit_count": len(current_scope().unit_ids)})
