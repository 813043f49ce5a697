"""Evidence export: one zip with the media, a manifest of SHA-256/size/capture time and the custody
log, built in the background with progress; and verification of an archive against its manifest."""
from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import and_, or_, select

from ..errors import NotFoundError, ValidationFailed
from ..extensions import db
from ..tenants import audit
from ..tenants.models import AuditEvent
from ..tenants.scoping import current_scope, system_scope
from ..tenants.services import get_scoped
from .models import EvidenceExport, Incident
from .services import get_incident, incident_json, local

MANIFEST = "manifest.json"
CUSTODY = "custody.json"
FORMAT = "camnet-evidence/1"


def start_export(incident_id: int, reason: str | None) -> EvidenceExport:
    """Record (and audit) an export request; the archive is built by a background thread."""
    incident = get_incident(incident_id, "incidents.read")
    if not current_scope().can("media.view", incident.commune_id):
        raise NotFoundError()
    if not reason or len(reason.strip()) < 5:
        raise ValidationFailed("reason: say why the evidence is exported (5+ characters)", field="reason")
    export = EvidenceExport(incident_id=incident.id, commune_id=incident.commune_id,
                            requested_by_id=current_scope().user_id, reason=reason.strip(),
                            files_total=len(incident.evidence))
    db.session.add(export)
    db.session.flush()
    audit.record("evidence.export", unit_id=incident.commune_id, object_type="incident",
                 object_id=incident.id, reason=export.reason,
                 detail={"export_id": export.id, "files": export.files_total})
    db.session.commit()
    app = current_app._get_current_object()
    if app.config.get("INCIDENT_EXPORT_INLINE"):
        build_export(export.id)
    else:
        # A thread, or a greenlet once gevent has patched threading: the request returns at once.
        threading.Thread(target=_build_in_app, args=(app, export.id), daemon=True,
                         name=f"evidence-export-{export.id}").start()
    return export


def _build_in_app(app, export_id: int) -> None:
    with app.app_context():
        try:
            build_export(export_id)
        finally:
            db.session.remove()


def get_export(incident_id: int, export_id: int) -> EvidenceExport:
    incident = get_incident(incident_id, "incidents.read")
    export = get_scoped(EvidenceExport, export_id, "media.view")
    if export.incident_id != incident.id:
        raise NotFoundError()
    return export


def export_json(e: EvidenceExport) -> dict:
    return {"id": e.id, "incident_id": e.incident_id, "status": e.status, "progress": e.progress,
            "files_total": e.files_total, "files_done": e.files_done, "size": e.size, "sha256": e.sha256,
            "error": e.error, "reason": e.reason,
            "created_at": local(e.created_at).isoformat() if e.created_at else None}


def custody_log(incident: Incident, export_ids: list[int] | None = None) -> list[dict]:
    """Who created, changed, viewed and exported this incident's evidence, oldest first."""
    snaps = [str(e.snapshot_id) for e in incident.evidence if e.kind == "snapshot"]
    clips = [str(e.clip_id) for e in incident.evidence if e.kind == "clip"]
    conds = [and_(AuditEvent.object_type == "incident", AuditEvent.object_id == str(incident.id))]
    if snaps:
        conds.append(and_(AuditEvent.object_type == "snapshot", AuditEvent.object_id.in_(snaps)))
    if clips:
        conds.append(and_(AuditEvent.object_type == "clip", AuditEvent.object_id.in_(clips)))
    if export_ids:
        conds.append(and_(AuditEvent.object_type == "evidence_export",
                          AuditEvent.object_id.in_([str(i) for i in export_ids])))
    rows = db.session.execute(select(AuditEvent).where(AuditEvent.unit_id == incident.commune_id, or_(*conds))
                              .order_by(AuditEvent.at, AuditEvent.id)).scalars()
    return [{"at": local(r.at).isoformat(), "actor": r.actor_name, "action": r.action,
             "object": f"{r.object_type}:{r.object_id}", "reason": r.reason, "outcome": r.outcome,
             "ip": r.ip} for r in rows]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_export(export_id: int) -> None:
    """Read each evidence object, write the zip, store it; progress is committed per file."""
    store = current_app.extensions["camnet.storage"]
    with system_scope():
        export = db.session.get(EvidenceExport, export_id)
        if export is None or export.status in ("ready", "failed"):
            return
        export.status = "building"
        db.session.commit()
        try:
            incident = db.session.get(Incident, export.incident_id)
            buf = io.BytesIO()
            files = []
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
                for ev in incident.evidence:
                    item = ev.snapshot if ev.kind == "snapshot" else ev.clip
                    data = store.get(item.object_key)
                    taken = ev.snapshot.taken_at if ev.kind == "snapshot" else ev.clip.started_at
                    name = f"media/{ev.kind}-{item.id}.{'jpg' if ev.kind == 'snapshot' else 'mp4'}"
                    zf.writestr(name, data)
                    files.append({"name": name, "kind": ev.kind, "id": item.id, "camera_id": item.camera_id,
                                  "sha256": _sha(data), "size": len(data),
                                  "captured_at": local(taken).isoformat() if taken else None,
                                  "recorded_sha256": item.sha256})
                    export.files_done += 1
                    db.session.commit()
                export_ids = list(db.session.execute(select(EvidenceExport.id).where(
                    EvidenceExport.incident_id == incident.id)).scalars())
                custody = json.dumps(custody_log(incident, export_ids), ensure_ascii=False, indent=1).encode()
                zf.writestr(CUSTODY, custody)
                files.append({"name": CUSTODY, "kind": "custody_log", "sha256": _sha(custody),
                              "size": len(custody), "captured_at": None})
                manifest = {
                    "format": FORMAT, "export_id": export.id,
                    "created_at": datetime.now(timezone.utc).isoformat(),
                    "reason": export.reason, "requested_by_id": export.requested_by_id,
                    "incident": incident_json(incident, with_evidence=False), "files": files,
                }
                zf.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
            data = buf.getvalue()
            key = f"{incident.commune_id}/exports/{incident.id}/export-{export.id}.zip"
            store.put(key, data, "application/zip")
            export.object_key, export.size, export.sha256 = key, len(data), _sha(data)
            export.status, export.finished_at = "ready", datetime.now(timezone.utc)
            db.session.commit()
        except Exception as exc:  # noqa: BLE001 - any failure is shown on the progress page
            db.session.rollback()
            export = db.session.get(EvidenceExport, export_id)
            export.status, export.error = "failed", str(exc)[:500]
            export.finished_at = datetime.now(timezone.utc)
            db.session.commit()


def download_export(incident_id: int, export_id: int) -> tuple[bytes, str]:
    export = get_export(incident_id, export_id)
    if export.status != "ready":
        raise ValidationFailed("export: the archive is not ready yet", field="export")
    audit.media_access(unit_id=export.commune_id, object_type="evidence_export", object_id=export.id,
                       action="evidence.download", reason=export.reason,
                       detail={"incident_id": export.incident_id, "sha256": export.sha256})
    data = current_app.extensions["camnet.storage"].get(export.object_key)
    return data, f"camnet-incident-{export.incident_id}-export-{export.id}.zip"


def verify_archive(data: bytes) -> dict:
    """Check every file of an archive against its manifest: present, same size, same SHA-256,
    and nothing extra. Returns ``{"ok": bool, "files": [...], "problems": [...]}``."""
    problems: list[str] = []
    results = []
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return {"ok": False, "files": [], "problems": ["not a zip archive"]}
    with zf:
        names = set(zf.namelist())
        if MANIFEST not in names:
            return {"ok": False, "files": [], "problems": ["manifest.json is missing"]}
        try:
            manifest = json.loads(zf.read(MANIFEST))
            listed = manifest["files"]
        except (ValueError, KeyError, TypeError):
            return {"ok": False, "files": [], "problems": ["manifest.json is not a camnet manifest"]}
        for entry in listed:
            name = entry.get("name")
            if name not in names:
                results.append({"name": name, "ok": False, "problem": "missing"})
                problems.append(f"{name}: missing")
                continue
            blob = zf.read(name)
            bad = []
            if len(blob) != entry.get("size"):
                bad.append("size differs")
            if _sha(blob) != entry.get("sha256"):
                bad.append("sha256 differs")
            results.append({"name": name, "ok": not bad, "problem": ", ".join(bad) or None,
                            "sha256": _sha(blob), "size": len(blob)})
            problems += [f"{name}: {b}" for b in bad]
        extra = sorted(names - {MANIFEST} - {e.get("name") for e in listed})
        problems += [f"{n}: not in the manifest" for n in extra]
    return {"ok": not problems, "format": manifest.get("format"), "export_id": manifest.get("export_id"),
            "incident_id": (manifest.get("incident") or {}).get("id"), "files": results, "problems": problems}
