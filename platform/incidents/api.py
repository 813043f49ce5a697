"""Incidents JSON API: categories, incidents, evidence, exports, verification and dashboard data."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from flask import Response, jsonify, request
from flask_login import current_user

from ..aggregates import aggregate_cache
from ..apispec import ApiBlueprint
from ..errors import ValidationFailed
from ..tenants.models import AdminUnit
from ..tenants.scoping import current_scope
from ..tenants.services import get_scoped
from . import dashboards, evidence, services
from .schemas import (CategoryIn, CategoryUpdate, EvidenceIn, IncidentIn, IncidentQuery, IncidentUpdate,
                      OversightQuery, ReasonIn, ReasonQuery)

bp = ApiBlueprint("incidents_api", __name__, tag="incidents")


def category_json(c) -> dict:
    return {"id": c.id, "code": c.code, "label_vi": c.label_vi, "label_en": c.label_en, "color": c.color,
            "sort_order": c.sort_order, "active": c.active}


@bp.operation("/incident-categories", summary="Loại vụ việc / Incident categories", perm="incidents.read")
def list_categories():
    return jsonify([category_json(c) for c in services.list_categories()])


@bp.operation("/incident-categories", "POST", summary="Thêm loại vụ việc / Add a category (platform admin)",
              perm="units.manage", body=CategoryIn,
              example={"code": "fraud", "label_vi": "Lừa đảo", "label_en": "Fraud"})
def create_category(body: CategoryIn):
    return jsonify(category_json(services.create_category(body))), 201


@bp.operation("/incident-categories/<int:category_id>", "PATCH",
              summary="Sửa loại vụ việc / Edit a category (platform admin)", perm="units.manage",
              body=CategoryUpdate, example={"label_en": "Renamed"})
def update_category(category_id: int, body: CategoryUpdate):
    return jsonify(category_json(services.update_category(category_id, body)))


@bp.operation("/incidents", summary="Tìm vụ việc / Search incidents", perm="incidents.read", query=IncidentQuery)
def list_incidents(query: IncidentQuery):
    return jsonify([services.incident_json(i, with_evidence=False) for i in services.search_incidents(query)])


@bp.operation("/incidents", "POST", summary="Ghi nhận vụ việc / Log an incident", perm="incidents.manage",
              body=IncidentIn,
              example={"commune_id": "{unit_id}", "category": "theft", "title": "Mất trộm xe máy",
                       "occurred_at": "2026-01-05T21:30:00"})
def create_incident(body: IncidentIn):
    incident = services.create_incident(body, current_user.id)
    return jsonify(services.incident_json(incident)), 201


@bp.operation("/incidents/<int:incident_id>", summary="Một vụ việc / One incident", perm="incidents.read")
def get_incident(incident_id: int):
    return jsonify(services.incident_json(services.get_incident(incident_id)))


@bp.operation("/incidents/<int:incident_id>", "PATCH", summary="Cập nhật vụ việc / Update an incident",
              perm="incidents.manage", body=IncidentUpdate, example={"status": "investigating"})
def update_incident(incident_id: int, body: IncidentUpdate):
    return jsonify(services.incident_json(services.update_incident(incident_id, body)))


@bp.operation("/incidents/<int:incident_id>/evidence", "POST",
              summary="Gắn chứng cứ (ảnh/clip) / Attach evidence", perm="incidents.manage", body=EvidenceIn,
              example={"kind": "snapshot", "item_id": 1})
def add_evidence(incident_id: int, body: EvidenceIn):
    ev = services.add_evidence(incident_id, body)
    return jsonify(services.evidence_json(ev)), 201


@bp.operation("/incidents/<int:incident_id>/evidence/<int:evidence_id>/media",
              summary="Xem chứng cứ, có ghi lý do / View evidence (audited with the reason)",
              perm="media.view", query=ReasonQuery, binary="application/octet-stream")
def evidence_media(incident_id: int, evidence_id: int, query: ReasonQuery):
    data, mime, name = services.evidence_media(incident_id, evidence_id, query.reason)
    return Response(data, mimetype=mime, headers={"Content-Disposition": f'inline; filename="{name}"',
                                                  "Cache-Control": "no-store"})


@bp.operation("/incidents/<int:incident_id>/exports", "POST",
              summary="Xuất gói chứng cứ (cần lý do) / Export the evidence (reason required)",
              perm="media.view", body=ReasonIn, example={"reason": "Chuyển hồ sơ cho Công an huyện"})
def start_export(incident_id: int, body: ReasonIn):
    export = evidence.start_export(incident_id, body.reason)
    return jsonify(evidence.export_json(export)), 202


@bp.operation("/incidents/<int:incident_id>/exports/<int:export_id>",
              summary="Tiến độ xuất chứng cứ / Export progress", perm="media.view")
def export_status(incident_id: int, export_id: int):
    return jsonify(evidence.export_json(evidence.get_export(incident_id, export_id)))


@bp.operation("/incidents/<int:incident_id>/exports/<int:export_id>/download",
              summary="Tải gói chứng cứ / Download the evidence archive", perm="media.view",
              binary="application/zip")
def export_download(incident_id: int, export_id: int):
    data, name = evidence.download_export(incident_id, export_id)
    return Response(data, mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@bp.operation("/evidence/verify", "POST",
              summary="Kiểm tra gói chứng cứ theo manifest / Verify an archive against its manifest",
              perm="incidents.read")
def verify_archive():
    upload = request.files.get("file")
    data = upload.read() if upload else (request.data if request.mimetype == "application/zip" else b"")
    if not data:
        raise ValidationFailed("file: upload the archive as multipart field 'file' or an application/zip body",
                               field="file")
    return jsonify(evidence.verify_archive(data))


@bp.operation("/oversight", summary="Giám sát các xã / Oversight of every commune below",
              perm="incidents.read", query=OversightQuery)
def oversight(query: OversightQuery):
    below = get_scoped(AdminUnit, query.unit_id, "incidents.read") if query.unit_id else None
    scope = current_scope()
    # The figures depend on nothing but the communes shown, so callers who see the same
    # communes share one answer; nobody is served one computed over units they cannot see.
    visible = "all" if scope.system else scope.units_with("cameras.read") & scope.units_with("incidents.read")
    body = aggregate_cache().get(("oversight", visible, below.id if below else None),
                                 lambda: json.dumps(_oversight_json(below), ensure_ascii=False).encode())
    return Response(body, mimetype="application/json")


def _oversight_json(below) -> dict:
    data = dashboards.oversight(below)
    return {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "months": data["months"],
        "communes": [{"id": r["commune"].id, "name": r["commune"].name, "installed": r["installed"],
                      "active": r["active"], "down": r["down"], "online_share": r["online_share"],
                      "open_faults": r["open_faults"], "incidents": r["incidents"], "clarified": r["clarified"],
                      "by_month": r["by_month"],
                      "by_category": {data["categories"][k].code: v
                                      for k, v in data["by_commune_cat"].get(r["commune"].id, {}).items()}}
                     for r in data["communes"]],
        "cameras": data["points"],
        "clusters": data["clusters"],
        "total_incidents": data["total_incidents"], "total_clarified": data["total_clarified"],
    }


@bp.operation("/communes/<int:unit_id>/coverage", summary="Độ phủ camera của xã / A commune's coverage",
              perm="cameras.read")
def coverage(unit_id: int):
    commune = get_scoped(AdminUnit, unit_id, "cameras.read")
    if not commune.is_commune:
        raise ValidationFailed("unit_id: not a commune", field="unit_id")
    data = dashboards.coverage(commune)
    return jsonify({
        "commune_id": commune.id, "installed": data["installed"], "working": data["working"],
        "per_1000_households": data["per_1000"],
        "gaps": [r["village"].name for r in data["gaps"]],
        "villages": [{"id": r["village"].id, "name": r["village"].name, "households": r["village"].households,
                      "cameras": r["cameras"], "working": r["working"], "per_1000": r["per_1000"], "gap": r["gap"]}
                     for r in data["villages"]],
        "roads": data["roads"],
        "down": [{"camera_id": d["camera"].id, "code": d["camera"].code, "status": d["camera"].status,
                  "since": d["since"].isoformat() if d["since"] else None, "hours": d["hours"]} for d in data["down"]],
        "repair_backlog": [{"ticket_id": b["ticket"].id, "camera_id": b["ticket"].camera_id,
                            "rule": b["ticket"].rule, "age_days": b["age_days"]} for b in data["backlog"]],
    })


@bp.operation("/sponsor/portal", summary="Cổng nhà tài trợ / The signed-in sponsor's portal data",
              perm="sponsor.own")
def sponsor_portal():
    from .dashboard_views import sponsor_data

    data = sponsor_data()
    return jsonify({k: v for k, v in data.items() if k != "charts"})
