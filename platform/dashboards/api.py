"""Dashboards JSON API: the oversight figures, a commune's coverage, the sponsor portal's data."""
from __future__ import annotations

import json
from types import SimpleNamespace

from flask import Response

from ..aggregates import aggregate_cache
from ..apispec import ApiBlueprint, dump
from ..clock import utc_now
from ..errors import ValidationFailed
from ..incidents.schemas import OversightQuery
from ..tenants.access import get_scoped
from ..tenants.models import AdminUnit
from ..tenants.scope import current_scope
from . import services
from .schemas import CoverageOut, OversightOut, SponsorPortalOut

bp = ApiBlueprint("dashboards_api", __name__, tag="dashboards")


@bp.operation("/oversight", summary="Giám sát các xã / Oversight of every commune below",
              perm="incidents.read", query=OversightQuery, response=OversightOut)
def oversight(query: OversightQuery):
    below = get_scoped(AdminUnit, query.unit_id, "incidents.read") if query.unit_id else None
    scope = current_scope()
    # The figures depend on nothing but the communes shown, so callers who see the same
    # communes share one answer; nobody is served one computed over units they cannot see.
    visible = "all" if scope.system else scope.units_with("cameras.read") & scope.units_with("incidents.read")
    body = aggregate_cache().get(("oversight", visible, below.id if below else None),
                                 lambda: json.dumps(_oversight(below), ensure_ascii=False).encode())
    return Response(body, mimetype="application/json")


def _oversight(below) -> dict:
    data = services.oversight(below)
    communes = [SimpleNamespace(**r, by_category={data["categories"][k].code: v for k, v in
                                                  data["by_commune_cat"].get(r["commune"].id, {}).items()})
                for r in data["communes"]]
    return dump(OversightOut, {**data, "generated_at": utc_now(), "cameras": data["points"], "communes": communes})


@bp.operation("/communes/<int:unit_id>/coverage", summary="Độ phủ camera của xã / A commune's coverage",
              perm="cameras.read", response=CoverageOut)
def coverage(unit_id: int):
    commune = get_scoped(AdminUnit, unit_id, "cameras.read")
    if not commune.is_commune:
        raise ValidationFailed("unit_id: not a commune", field="unit_id")
    data = services.coverage(commune)
    rows = {key: [SimpleNamespace(**r) for r in data[key]] for key in ("villages", "gaps", "down", "backlog")}
    return {**data, **rows, "commune_id": commune.id}


@bp.operation("/sponsor/portal", summary="Cổng nhà tài trợ / The signed-in sponsor's portal data",
              perm="sponsor.own", response=SponsorPortalOut)
def sponsor_portal():
    return services.sponsor_data()
