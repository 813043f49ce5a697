"""Incidents for the isolation matrix: in communes a, b, c, d a camera, a snapshot, a clip, an incident
with evidence and an export; names in b, c, d carry the FOREIGN marker."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import select

from camnet.extensions import db
from camnet.incidents.models import EvidenceExport, Incident, IncidentCamera, IncidentCategory, IncidentEvidence
from camnet.streams.models import Camera, Clip, Snapshot

from .world import FOREIGN

PARAMS = {
    "incident_id": "incident",
    "evidence_id": "incident_evidence",
    "export_id": "evidence_export",
    "category_id": "incident_category",  # install-wide: no commune owns one, so nothing foreign
}

JPEG = b"\xff\xd8\xff\xe0" + b"camnet-test-frame" * 20 + b"\xff\xd9"
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"camnet-test-clip" * 40


def _put(key: str, data: bytes) -> None:
    current_app.extensions["camnet.storage"].put(key, data)


def build(w) -> None:
    """Runs under system_scope inside build_world."""
    theft = db.session.execute(select(IncidentCategory).where(IncidentCategory.code == "theft")).scalar_one()
    now = datetime.now(timezone.utc)
    for key in ("a", "b", "c", "d"):
        commune = w.units[key]
        mark = "" if key == "a" else f" {FOREIGN}"
        cam = Camera(commune_id=commune.id, code=f"VV-{key.upper()}", name=f"Camera vụ việc {key}{mark}",
                     village_id=w.villages[key].id, road=f"Đường {key}{mark}", latitude=16.8 + 0.01 * ord(key),
                     longitude=107.1, status="active")
        db.session.add(cam)
        db.session.flush()
        snap_key = f"{commune.id}/{cam.id}/test/snap.jpg"
        clip_key = f"{commune.id}/{cam.id}/test/clip.mp4"
        _put(snap_key, JPEG)
        _put(clip_key, MP4)
        snap = Snapshot(camera_id=cam.id, commune_id=commune.id, taken_at=now - timedelta(hours=2), slot=1,
                        object_key=snap_key, size=len(JPEG), sha256=hashlib.sha256(JPEG).hexdigest(),
                        width=1280, height=720, worker="test")
        clip = Clip(camera_id=cam.id, commune_id=commune.id, started_at=now - timedelta(hours=1), duration_s=10,
                    status="ready", object_key=clip_key, size=len(MP4), sha256=hashlib.sha256(MP4).hexdigest())
        db.session.add_all([snap, clip])
        db.session.flush()
        incident = Incident(commune_id=commune.id, category_id=theft.id, title=f"Mất trộm xe máy {key}{mark}",
                            description=f"Mô tả vụ việc {key}{mark}", occurred_at=now - timedelta(days=1),
                            village_id=w.villages[key].id, road=cam.road, status="open",
                            clarified_by_camera=True, people_identified=1, property_recovered_vnd=15_000_000)
        db.session.add(incident)
        db.session.flush()
        db.session.add(IncidentCamera(incident_id=incident.id, camera_id=cam.id, commune_id=commune.id))
        ev = IncidentEvidence(incident_id=incident.id, commune_id=commune.id, kind="snapshot", snapshot_id=snap.id)
        snap.evidence = True
        export = EvidenceExport(incident_id=incident.id, commune_id=commune.id, reason=f"Lý do {key}{mark}",
                                status="pending", files_total=1)
        db.session.add_all([ev, export])
        db.session.flush()
        w.add("incident_camera", key, cam)
        w.add("incident_snapshot", key, snap)
        w.add("incident_clip", key, clip)
        w.add("incident", key, incident)
        w.add("incident_evidence", key, ev)
        w.add("evidence_export", key, export)


def foreign_names(w, unit_ids) -> list[str]:
    return [o.title for key, objs in w.extra.get("incident", {}).items() if w.units[key].id in unit_ids
            for o in objs] + [o.name for key, objs in w.extra.get("incident_camera", {}).items()
                              if w.units[key].id in unit_ids for o in objs]
