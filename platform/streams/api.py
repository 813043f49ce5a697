"""Streams API: cameras, consent, import/export, snapshots, clips, faults and uptime (the live view: ``capture.api``)."""
from __future__ import annotations

import functools
import logging
from types import SimpleNamespace

from flask import Response, request

from ..apispec import ApiBlueprint, Reply
from ..errors import ValidationFailed
from ..tenants.access import get_scoped
from . import faults, importer, media, registry
from .models import Camera, Clip, Snapshot
from .models import FaultTicket
from .schemas import (SOURCES, CameraIn, CameraListQuery, CameraOut, CameraUpdate, ClipIn, ClipOut, ConsentIn,
                      ConsentOut, FaultCloseIn, MediaEvidenceIn, FaultQuery, FaultTicketOut, HistoryQuery, ImportIn,
                      ImportOut, ImportQuery, ReasonQuery, ReferenceResetIn, ReferenceResetOut,
                      SnapshotOut, SnapshotPage, UptimeOut, UptimeQuery, WallItemOut, WallQuery)

bp = ApiBlueprint("streams_api", __name__, tag="streams")
log = logging.getLogger("camnet.streams.api")

def cameras(value, status: int = 200) -> Reply:
    """Camera(s) as CameraOut, with their addresses where the caller installs or repairs cameras
    (asked once per commune)."""
    return Reply(value, status, {SOURCES: functools.cache(registry.may_see_sources)})


CAMERA_EXAMPLE = {"commune_id": "{unit_id}", "code": "CAM-NEW", "name": "Ngã tư thử",
                  "snapshot_url": "http://10.1.2.3/snapshot.jpg"}


# ---- registry --------------------------------------------------------------------------------

@bp.operation("/cameras", summary="Danh sách camera / Cameras in scope", perm="cameras.read", query=CameraListQuery,
              response=list[CameraOut])
def list_cameras(query: CameraListQuery):
    return cameras(registry.list_camera_rows(query.unit_id, query.status, query.q, query.limit, query.offset))


@bp.operation("/cameras", "POST", summary="Thêm camera / Register a camera", perm="cameras.manage",
              body=CameraIn, example=CAMERA_EXAMPLE, response=CameraOut, status=201)
def create_camera(body: CameraIn):
    return cameras(registry.create_camera(body), 201)


@bp.operation("/cameras/<int:camera_id>", summary="Một camera / One camera", perm="cameras.read",
              response=CameraOut)
def get_camera(camera_id: int):
    return cameras(get_scoped(Camera, camera_id, "cameras.read"))


@bp.operation("/cameras/<int:camera_id>", "PATCH", summary="Sửa camera / Change a camera",
              perm="cameras.manage", body=CameraUpdate, example={"name": "Đổi tên"}, response=CameraOut)
def update_camera(camera_id: int, body: CameraUpdate):
    return cameras(registry.update_camera(camera_id, body))


@bp.operation("/cameras/<int:camera_id>/decommission", "POST", summary="Ngừng sử dụng camera / Decommission",
              perm="cameras.manage", example={}, response=CameraOut)
def decommission_camera(camera_id: int):
    return cameras(registry.decommission_camera(camera_id))


@bp.operation("/cameras/<int:camera_id>/consents", "POST",
              summary="Ghi nhận đồng ý chia sẻ / Record the owner's consent", perm="cameras.manage",
              body=ConsentIn, example={"shares": "snapshots", "granted_by": "Hộ ông A", "since": "2026-01-01"},
              response=ConsentOut, status=201)
def add_consent(camera_id: int, body: ConsentIn):
    return registry.add_consent(camera_id, body), 201


@bp.operation("/cameras/<int:camera_id>/consents/<int:consent_id>/revoke", "POST",
              summary="Thu hồi đồng ý: dừng ghi hình ngay / Revoke consent: capture stops at once",
              perm="cameras.manage", example={}, response=ConsentOut)
def revoke_consent(camera_id: int, consent_id: int):
    return registry.revoke_consent(camera_id, consent_id)


@bp.operation("/cameras/import", "POST", summary="Nhập camera từ CSV / Import cameras from CSV (all or nothing)",
              perm="cameras.manage", query=ImportQuery,
              example={"unit_id": "{unit_id}", "csv": "code,name\nCAM-X,Camera thử"}, response=ImportOut)
def import_cameras(query: ImportQuery):
    """Body: text/csv, multipart (field ``file``), or JSON {unit_id, csv}; ``?unit_id=`` names the commune."""
    unit_id = query.unit_id
    if request.mimetype == "application/json":
        data = ImportIn.model_validate(request.get_json(silent=True) or {})
        unit_id, text = data.unit_id, data.csv
    elif request.files.get("file") is not None:
        text = importer.decode(request.files["file"].read())
    else:
        text = importer.decode(request.get_data())
    if unit_id is None:
        raise ValidationFailed("unit_id: say which commune the cameras belong to", field="unit_id")
    return importer.import_csv(unit_id, text)


@bp.operation("/units/<int:unit_id>/cameras.csv", summary="Xuất camera ra CSV / Export cameras as CSV",
              perm="cameras.read", binary="text/csv")
def export_cameras(unit_id: int):
    body = importer.export_csv(unit_id)
    return Response(body, content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="cameras-{unit_id}.csv"'})


# ---- viewing ---------------------------------------------------------------------------------

@bp.operation("/cameras/latest", summary="Ảnh mới nhất mỗi camera (tường camera) / Latest snapshot per camera",
              perm="media.view", query=WallQuery, response=list[WallItemOut])
def latest(query: WallQuery):
    return [SimpleNamespace(camera=c, snapshot=s) for c, s in media.latest_snapshots(query.unit_id)]


@bp.operation("/cameras/<int:camera_id>/snapshots", summary="Lịch sử ảnh theo thời gian / Snapshot history",
              perm="media.view", query=HistoryQuery, response=SnapshotPage)
def snapshot_history(camera_id: int, query: HistoryQuery):
    camera, rows = media.history(camera_id, query.before, query.after, query.limit)
    nxt = rows[-1].taken_at if len(rows) == query.limit else None
    return {"camera_id": camera.id, "items": rows, "next_before": nxt}


@bp.operation("/snapshots/<int:snapshot_id>", summary="Thông tin ảnh / Snapshot metadata", perm="media.view",
              response=SnapshotOut)
def get_snapshot(snapshot_id: int):
    return get_scoped(Snapshot, snapshot_id, "media.view")


@bp.operation("/snapshots/<int:snapshot_id>/download", summary="Xem/tải ảnh (ghi nhật ký) / View a snapshot (audited)",
              perm="media.view", query=ReasonQuery, binary="image/jpeg")
def download_snapshot(snapshot_id: int, query: ReasonQuery):
    return media.view_snapshot(snapshot_id, query.reason)


@bp.operation("/snapshots/<int:snapshot_id>/evidence", "POST", summary="Đánh dấu ảnh là chứng cứ / Mark as evidence",
              perm="incidents.manage", body=MediaEvidenceIn, example={"evidence": True}, response=SnapshotOut)
def snapshot_evidence(snapshot_id: int, body: MediaEvidenceIn):
    return media.set_snapshot_evidence(snapshot_id, body.evidence, body.reason)


@bp.operation("/cameras/<int:camera_id>/clips", "POST", summary="Ghi đoạn video / Record a clip",
              perm="media.view", body=ClipIn, example={"seconds": 10}, response=ClipOut, status=201)
def request_clip(camera_id: int, body: ClipIn):
    return media.request_clip(camera_id, body.seconds, body.reason), 201


@bp.operation("/clips/<int:clip_id>", summary="Một đoạn video / One clip", perm="media.view", response=ClipOut)
def get_clip(clip_id: int):
    return get_scoped(Clip, clip_id, "media.view")


@bp.operation("/clips/<int:clip_id>/download", summary="Tải đoạn video (ghi nhật ký) / Download a clip (audited)",
              perm="media.view", query=ReasonQuery, binary="video/mp4")
def download_clip(clip_id: int, query: ReasonQuery):
    return media.view_clip(clip_id, query.reason)


@bp.operation("/clips/<int:clip_id>/evidence", "POST", summary="Đánh dấu video là chứng cứ / Mark a clip as evidence",
              perm="incidents.manage", body=MediaEvidenceIn, example={"evidence": True}, response=ClipOut)
def clip_evidence(clip_id: int, body: MediaEvidenceIn):
    return media.set_clip_evidence(clip_id, body.evidence, body.reason)


# ---- faults and uptime -----------------------------------------------------------------------

@bp.operation("/faults", summary="Phiếu sự cố camera / Fault tickets", perm="faults.read", query=FaultQuery,
              response=list[FaultTicketOut])
def list_faults(query: FaultQuery):
    return faults.list_tickets(query.status, query.unit_id, query.limit)


@bp.operation("/faults/<int:ticket_id>", summary="Một phiếu sự cố / One fault ticket", perm="faults.read",
              response=FaultTicketOut)
def get_fault(ticket_id: int):
    return get_scoped(FaultTicket, ticket_id, "faults.read")


@bp.operation("/faults/<int:ticket_id>/evidence", summary="Ảnh chứng cứ sự cố (ghi nhật ký) / Fault evidence (audited)",
              perm="faults.read", query=ReasonQuery, binary="image/jpeg")
def fault_evidence(ticket_id: int, query: ReasonQuery):
    return faults.ticket_evidence(ticket_id, query.reason)


@bp.operation("/faults/<int:ticket_id>/close", "POST", summary="Đóng phiếu sự cố / Close a fault ticket",
              perm="faults.manage", body=FaultCloseIn, example={"note": "Đã thay nguồn"}, response=FaultTicketOut)
def close_fault(ticket_id: int, body: FaultCloseIn):
    return faults.close_ticket(ticket_id, body.note)


@bp.operation("/cameras/<int:camera_id>/reference/reset", "POST",
              summary="Đặt lại khung nhìn chuẩn sau khi chỉnh hướng camera / Reset the reference view "
                      "after re-aiming a camera", perm=faults.REFERENCE_RESET_PERMS, body=ReferenceResetIn,
              example={"reason": "Đã chỉnh lại hướng camera theo yêu cầu của xã"}, response=ReferenceResetOut)
def reset_reference(camera_id: int, body: ReferenceResetIn):
    camera, closed = faults.reset_reference(camera_id, body.reason)
    return cameras({"camera": camera, "reference_reset_at": camera.reference_reset_at, "closed_tickets": closed})


@bp.operation("/cameras/<int:camera_id>/uptime", summary="Tỷ lệ hoạt động theo ngày / Uptime per day",
              perm="cameras.read", query=UptimeQuery, response=UptimeOut)
def camera_uptime(camera_id: int, query: UptimeQuery):
    return faults.uptime(camera_id, query.days)
