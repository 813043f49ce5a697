"""Streams API: cameras, consent, import/export, snapshots, clips, live view, faults and uptime."""
from __future__ import annotations

import logging

from flask import Response, jsonify, request

from ..apispec import ApiBlueprint
from ..errors import ValidationFailed
from ..tenants.services import get_scoped
from . import faults, importer, live, media, registry
from .models import Camera, Clip, Snapshot
from .schemas import (CameraIn, CameraListQuery, CameraUpdate, ClipIn, ConsentIn, EvidenceIn, FaultCloseIn,
                      FaultQuery, HistoryQuery, ImportIn, ImportQuery, LiveQuery, ReasonQuery, ReferenceResetIn,
                      UptimeQuery, WallQuery)

bp = ApiBlueprint("streams_api", __name__, tag="streams")
log = logging.getLogger("camnet.streams.api")

CAMERA_EXAMPLE = {"commune_id": "{unit_id}", "code": "CAM-NEW", "name": "Ngã tư thử",
                  "snapshot_url": "http://10.1.2.3/snapshot.jpg"}


# ---- registry --------------------------------------------------------------------------------

@bp.operation("/cameras", summary="Danh sách camera / Cameras in scope", perm="cameras.read", query=CameraListQuery)
def list_cameras(query: CameraListQuery):
    return jsonify(registry.list_cameras_json(query.unit_id, query.status, query.q, query.limit, query.offset))


@bp.operation("/cameras", "POST", summary="Thêm camera / Register a camera", perm="cameras.manage",
              body=CameraIn, example=CAMERA_EXAMPLE)
def create_camera(body: CameraIn):
    return jsonify(registry.camera_json(registry.create_camera(body))), 201


@bp.operation("/cameras/<int:camera_id>", summary="Một camera / One camera", perm="cameras.read")
def get_camera(camera_id: int):
    return jsonify(registry.camera_json(get_scoped(Camera, camera_id, "cameras.read")))


@bp.operation("/cameras/<int:camera_id>", "PATCH", summary="Sửa camera / Change a camera",
              perm="cameras.manage", body=CameraUpdate, example={"name": "Đổi tên"})
def update_camera(camera_id: int, body: CameraUpdate):
    return jsonify(registry.camera_json(registry.update_camera(camera_id, body)))


@bp.operation("/cameras/<int:camera_id>/decommission", "POST", summary="Ngừng sử dụng camera / Decommission",
              perm="cameras.manage", example={})
def decommission_camera(camera_id: int):
    return jsonify(registry.camera_json(registry.decommission_camera(camera_id)))


@bp.operation("/cameras/<int:camera_id>/consents", "POST",
              summary="Ghi nhận đồng ý chia sẻ / Record the owner's consent", perm="cameras.manage",
              body=ConsentIn, example={"shares": "snapshots", "granted_by": "Hộ ông A", "since": "2026-01-01"})
def add_consent(camera_id: int, body: ConsentIn):
    return jsonify(registry.consent_json(registry.add_consent(camera_id, body))), 201


@bp.operation("/cameras/<int:camera_id>/consents/<int:consent_id>/revoke", "POST",
              summary="Thu hồi đồng ý: dừng ghi hình ngay / Revoke consent: capture stops at once",
              perm="cameras.manage", example={})
def revoke_consent(camera_id: int, consent_id: int):
    return jsonify(registry.consent_json(registry.revoke_consent(camera_id, consent_id)))


@bp.operation("/cameras/import", "POST", summary="Nhập camera từ CSV / Import cameras from CSV (all or nothing)",
              perm="cameras.manage", query=ImportQuery,
              example={"unit_id": "{unit_id}", "csv": "code,name\nCAM-X,Camera thử"})
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
    return jsonify(importer.import_csv(unit_id, text).as_dict())


@bp.operation("/units/<int:unit_id>/cameras.csv", summary="Xuất camera ra CSV / Export cameras as CSV",
              perm="cameras.read", binary="text/csv")
def export_cameras(unit_id: int):
    body = importer.export_csv(unit_id)
    return Response(body, content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="cameras-{unit_id}.csv"'})


# ---- viewing ---------------------------------------------------------------------------------

@bp.operation("/cameras/latest", summary="Ảnh mới nhất mỗi camera (tường camera) / Latest snapshot per camera",
              perm="media.view", query=WallQuery)
def latest(query: WallQuery):
    return jsonify([{"camera_id": c.id, "commune_id": c.commune_id, "code": c.code, "name": c.name,
                     "status": c.status, "health": c.health,
                     "snapshot": media.snapshot_json(s) if s else None}
                    for c, s in media.latest_snapshots(query.unit_id)])


@bp.operation("/cameras/<int:camera_id>/snapshots", summary="Lịch sử ảnh theo thời gian / Snapshot history",
              perm="media.view", query=HistoryQuery)
def snapshot_history(camera_id: int, query: HistoryQuery):
    camera, rows = media.history(camera_id, query.before, query.after, query.limit)
    nxt = rows[-1].taken_at.isoformat() if len(rows) == query.limit else None
    return jsonify({"camera_id": camera.id, "items": [media.snapshot_json(s) for s in rows], "next_before": nxt})


@bp.operation("/snapshots/<int:snapshot_id>", summary="Thông tin ảnh / Snapshot metadata", perm="media.view")
def get_snapshot(snapshot_id: int):
    return jsonify(media.snapshot_json(get_scoped(Snapshot, snapshot_id, "media.view")))


@bp.operation("/snapshots/<int:snapshot_id>/download", summary="Xem/tải ảnh (ghi nhật ký) / View a snapshot (audited)",
              perm="media.view", query=ReasonQuery, binary="image/jpeg")
def download_snapshot(snapshot_id: int, query: ReasonQuery):
    return media.view_snapshot(snapshot_id, query.reason)


@bp.operation("/snapshots/<int:snapshot_id>/evidence", "POST", summary="Đánh dấu ảnh là chứng cứ / Mark as evidence",
              perm="incidents.manage", body=EvidenceIn, example={"evidence": True})
def snapshot_evidence(snapshot_id: int, body: EvidenceIn):
    return jsonify(media.snapshot_json(media.set_snapshot_evidence(snapshot_id, body.evidence, body.reason)))


@bp.operation("/cameras/<int:camera_id>/live", summary="Xem trực tiếp qua nền tảng (MJPEG) / Live view via the platform",
              perm="media.view", query=LiveQuery, binary="multipart/x-mixed-replace")
def live_view(camera_id: int, query: LiveQuery):
    try:
        return live.live_view(camera_id, query.reason, query.max_seconds, query.frames, query.fps)
    except live.urls.UnsafeURL as exc:
        # The reason names the camera's address: it goes to the log, never to the browser.
        log.warning("live view of camera %s refused: %s", camera_id, exc)
        return jsonify({"error": "camera_unavailable",
                        "message": "Camera không phản hồi / The camera is not available"}), 409


@bp.operation("/cameras/<int:camera_id>/clips", "POST", summary="Ghi đoạn video / Record a clip",
              perm="media.view", body=ClipIn, example={"seconds": 10})
def request_clip(camera_id: int, body: ClipIn):
    return jsonify(media.clip_json(media.request_clip(camera_id, body.seconds, body.reason))), 201


@bp.operation("/clips/<int:clip_id>", summary="Một đoạn video / One clip", perm="media.view")
def get_clip(clip_id: int):
    return jsonify(media.clip_json(get_scoped(Clip, clip_id, "media.view")))


@bp.operation("/clips/<int:clip_id>/download", summary="Tải đoạn video (ghi nhật ký) / Download a clip (audited)",
              perm="media.view", query=ReasonQuery, binary="video/mp4")
def download_clip(clip_id: int, query: ReasonQuery):
    return media.view_clip(clip_id, query.reason)


@bp.operation("/clips/<int:clip_id>/evidence", "POST", summary="Đánh dấu video là chứng cứ / Mark a clip as evidence",
              perm="incidents.manage", body=EvidenceIn, example={"evidence": True})
def clip_evidence(clip_id: int, body: EvidenceIn):
    return jsonify(media.clip_json(media.set_clip_evidence(clip_id, body.evidence, body.reason)))


# ---- faults and uptime -----------------------------------------------------------------------

@bp.operation("/faults", summary="Phiếu sự cố camera / Fault tickets", perm="faults.read", query=FaultQuery)
def list_faults(query: FaultQuery):
    return jsonify([faults.ticket_json(t) for t in faults.list_tickets(query.status, query.unit_id, query.limit)])


@bp.operation("/faults/<int:ticket_id>", summary="Một phiếu sự cố / One fault ticket", perm="faults.read")
def get_fault(ticket_id: int):
    from .models import FaultTicket

    return jsonify(faults.ticket_json(get_scoped(FaultTicket, ticket_id, "faults.read")))


@bp.operation("/faults/<int:ticket_id>/evidence", summary="Ảnh chứng cứ sự cố (ghi nhật ký) / Fault evidence (audited)",
              perm="faults.read", query=ReasonQuery, binary="image/jpeg")
def fault_evidence(ticket_id: int, query: ReasonQuery):
    return faults.ticket_evidence(ticket_id, query.reason)


@bp.operation("/faults/<int:ticket_id>/close", "POST", summary="Đóng phiếu sự cố / Close a fault ticket",
              perm="faults.manage", body=FaultCloseIn, example={"note": "Đã thay nguồn"})
def close_fault(ticket_id: int, body: FaultCloseIn):
    return jsonify(faults.ticket_json(faults.close_ticket(ticket_id, body.note)))


@bp.operation("/cameras/<int:camera_id>/reference/reset", "POST",
              summary="Đặt lại khung nhìn chuẩn sau khi chỉnh hướng camera / Reset the reference view "
                      "after re-aiming a camera", perm=faults.REFERENCE_RESET_PERMS, body=ReferenceResetIn,
              example={"reason": "Đã chỉnh lại hướng camera theo yêu cầu của xã"})
def reset_reference(camera_id: int, body: ReferenceResetIn):
    camera, closed = faults.reset_reference(camera_id, body.reason)
    return jsonify({"camera": registry.camera_json(camera),
                    "reference_reset_at": camera.reference_reset_at.isoformat(),
                    "closed_tickets": [faults.ticket_json(t) for t in closed]})


@bp.operation("/cameras/<int:camera_id>/uptime", summary="Tỷ lệ hoạt động theo ngày / Uptime per day",
              perm="cameras.read", query=UptimeQuery)
def camera_uptime(camera_id: int, query: UptimeQuery):
    return jsonify(faults.uptime(camera_id, query.days))
