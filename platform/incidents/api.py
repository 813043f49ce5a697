"""Incidents JSON API: categories, incidents, evidence, exports and verification."""
from __future__ import annotations

from flask import Response, request
from flask_login import current_user

from ..apispec import ApiBlueprint
from ..errors import ValidationFailed
from . import evidence, services
from .schemas import (ArchiveCheckOut, CategoryIn, CategoryOut, CategoryUpdate, EvidenceIn, EvidenceOut, ExportOut,
                      IncidentIn, IncidentOut, IncidentQuery, IncidentSummaryOut, IncidentUpdate, ReasonIn, ReasonQuery)

bp = ApiBlueprint("incidents_api", __name__, tag="incidents")


@bp.operation("/incident-categories", summary="Loại vụ việc / Incident categories", perm="incidents.read", response=list[CategoryOut])
def list_categories():
    return services.list_categories()


@bp.operation("/incident-categories", "POST", summary="Thêm loại vụ việc / Add a category (platform admin)",
              perm="units.manage", body=CategoryIn,
              example={"code": "fraud", "label_vi": "Lừa đảo", "label_en": "Fraud"}, response=CategoryOut, status=201)
def create_category(body: CategoryIn):
    return services.create_category(body), 201


@bp.operation("/incident-categories/<int:category_id>", "PATCH",
              summary="Sửa loại vụ việc / Edit a category (platform admin)", perm="units.manage",
              body=CategoryUpdate, example={"label_en": "Renamed"}, response=CategoryOut)
def update_category(category_id: int, body: CategoryUpdate):
    return services.update_category(category_id, body)


@bp.operation("/incidents", summary="Tìm vụ việc / Search incidents", perm="incidents.read", query=IncidentQuery, response=list[IncidentSummaryOut])
def list_incidents(query: IncidentQuery):
    return services.search_incidents(query)


@bp.operation("/incidents", "POST", summary="Ghi nhận vụ việc / Log an incident", perm="incidents.manage",
              body=IncidentIn,
              example={"commune_id": "{unit_id}", "category": "theft", "title": "Mất trộm xe máy",
                       "occurred_at": "2026-01-05T21:30:00"}, response=IncidentOut, status=201)
def create_incident(body: IncidentIn):
    incident = services.create_incident(body, current_user.id)
    return incident, 201


@bp.operation("/incidents/<int:incident_id>", summary="Một vụ việc / One incident", perm="incidents.read", response=IncidentOut)
def get_incident(incident_id: int):
    return services.get_incident(incident_id)


@bp.operation("/incidents/<int:incident_id>", "PATCH", summary="Cập nhật vụ việc / Update an incident",
              perm="incidents.manage", body=IncidentUpdate, example={"status": "investigating"}, response=IncidentOut)
def update_incident(incident_id: int, body: IncidentUpdate):
    return services.update_incident(incident_id, body)


@bp.operation("/incidents/<int:incident_id>/evidence", "POST",
              summary="Gắn chứng cứ (ảnh/clip) / Attach evidence", perm="incidents.manage", body=EvidenceIn,
              example={"kind": "snapshot", "item_id": 1}, response=EvidenceOut, status=201)
def add_evidence(incident_id: int, body: EvidenceIn):
    return services.add_evidence(incident_id, body), 201


@bp.operation("/incidents/<int:incident_id>/evidence/<int:evidence_id>/media",
              summary="Xem chứng cứ, có ghi lý do / View evidence (audited with the reason)",
              perm="media.view", query=ReasonQuery, binary="application/octet-stream")
def evidence_media(incident_id: int, evidence_id: int, query: ReasonQuery):
    data, mime, name = services.evidence_media(incident_id, evidence_id, query.reason)
    return Response(data, mimetype=mime, headers={"Content-Disposition": f'inline; filename="{name}"',
                                                  "Cache-Control": "no-store"})


@bp.operation("/incidents/<int:incident_id>/exports", "POST",
              summary="Xuất gói chứng cứ (cần lý do) / Export the evidence (reason required)",
              perm="media.view", body=ReasonIn, example={"reason": "Chuyển hồ sơ cho Công an huyện"}, response=ExportOut, status=202)
def start_export(incident_id: int, body: ReasonIn):
    export = evidence.start_export(incident_id, body.reason)
    return export, 202


@bp.operation("/incidents/<int:incident_id>/exports/<int:export_id>",
              summary="Tiến độ xuất chứng cứ / Export progress", perm="media.view", response=ExportOut)
def export_status(incident_id: int, export_id: int):
    return evidence.get_export(incident_id, export_id)


@bp.operation("/incidents/<int:incident_id>/exports/<int:export_id>/download",
              summary="Tải gói chứng cứ / Download the evidence archive", perm="media.view",
              binary="application/zip")
def export_download(incident_id: int, export_id: int):
    data, name = evidence.download_export(incident_id, export_id)
    return Response(data, mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@bp.operation("/evidence/verify", "POST",
              summary="Kiểm tra gói chứng cứ theo manifest / Verify an archive against its manifest",
              perm="incidents.read", response=ArchiveCheckOut)
def verify_archive():
    upload = request.files.get("file")
    data = upload.read() if upload else (request.data if request.mimetype == "application/zip" else b"")
    if not data:
        raise ValidationFailed("file: upload the archive as multipart field 'file' or an application/zip body",
                               field="file")
    return evidence.verify_archive(data)
