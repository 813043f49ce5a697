"""Evidence export: one zip with the media, a manifest of SHA-256/size/capture time and the custody
log, signed by the platform (``manifest.sig``), built in the background with progress; and the check
of a package against its manifest, the platform's signature and what the platform recorded at export."""
from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile

from flask import current_app
from sqlalchemy import and_, or_, select

from ..clock import to_vn, utc_now
from ..errors import NotFoundError, ValidationFailed
from ..extensions import db
from ..tenants import audit
from ..tenants.access import get_scoped, require
from ..tenants.models import AuditEvent
from ..tenants.scope import current_scope, system_scope
from . import signing
from .models import EvidenceExport, Incident
from .schemas import IncidentSummaryOut
from .services import get_incident

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
CUSTODY = "custody.json"
FORMAT = "camnet-evidence/1"
KEY_URL = "/.well-known/camnet-evidence-key"
TLOG = "transparency.json"  # the package's entry in the commune's evidence log: checkpoint and proof

# The transparency feature (above incidents) registers here (incidents never imports it):
# SEALS: (export, manifest bytes, signature) -> {member name: bytes} written into the package, after
# the manifest is signed and before the archive is closed; LOG_CHECKS: (export record or None,
# export id, manifest bytes, signature, the package's transparency.json or None) -> (state, problems).
SEALS: list = []
LOG_CHECKS: list = []


def start_export(incident_id: int, reason: str | None) -> EvidenceExport:
    """Record (and audit) an export request; the archive is built by a background thread."""
    incident = get_incident(incident_id, "incidents.read")
    require("media.view", incident.commune_id)  # outside its reach: 404
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
    return [{"at": to_vn(r.at).isoformat(), "actor": r.actor_name, "action": r.action,
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
                                  "captured_at": to_vn(taken).isoformat() if taken else None,
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
                    "created_at": utc_now().isoformat(),
                    "reason": export.reason, "requested_by_id": export.requested_by_id,
                    "incident": IncidentSummaryOut.model_validate(incident).model_dump(mode="json"), "files": files,
                    "signing_key_id": signing.key_id(), "signing_key_url": KEY_URL,
                }
                manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
                signature = signing.sign(manifest_bytes)
                zf.writestr(MANIFEST, manifest_bytes)
                zf.writestr(SIGNATURE, json.dumps({"alg": "Ed25519", "key_id": signing.key_id(),
                                                   "signed": MANIFEST, "signature": signature}, indent=1))
                export.manifest_sha256, export.signature = _sha(manifest_bytes), signature
                export.signing_key_id = signing.key_id()
                for seal in SEALS:
                    for member, blob in seal(export, manifest_bytes, signature).items():
                        zf.writestr(member, blob)
            data = buf.getvalue()
            key = f"{incident.commune_id}/exports/{incident.id}/export-{export.id}.zip"
            store.put(key, data, "application/zip")
            export.object_key, export.size, export.sha256 = key, len(data), _sha(data)
            export.recorded_files = [{k: f.get(k) for k in ("name", "kind", "id", "sha256", "size")}
                                     for f in files]
            export.status, export.finished_at = "ready", utc_now()
            db.session.commit()
        except Exception as exc:  # noqa: BLE001 - any failure is shown on the progress page
            db.session.rollback()
            export = db.session.get(EvidenceExport, export_id)
            export.status, export.error = "failed", str(exc)[:500]
            export.finished_at = utc_now()
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


# ---- verification ------------------------------------------------------------------------------

MATCH, MISMATCH = "khớp hồ sơ", "không khớp hồ sơ"
CHUNK = 1 << 20


def _member_digest(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[str, int]:
    """SHA-256 and size of one member, read in chunks (a package may hold long clips)."""
    h, size = hashlib.sha256(), 0
    with zf.open(info) as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _read_signature(zf: zipfile.ZipFile, names: set[str], manifest_bytes: bytes) -> tuple[str, str | None]:
    """("valid" | "invalid" | "missing", the problem to show)."""
    if SIGNATURE not in names:
        return "missing", (f"{SIGNATURE}: thiếu chữ ký của nền tảng / the platform's signature is missing")
    try:
        sig = json.loads(zf.read(SIGNATURE))
        value = sig["signature"] if isinstance(sig, dict) else None
    except (ValueError, KeyError, TypeError):
        value = None
    if isinstance(value, str) and signing.verify(manifest_bytes, value):
        return "valid", None
    return "invalid", (f"{SIGNATURE}: chữ ký không hợp lệ: manifest đã bị sửa hoặc không do khóa của nền tảng "
                       f"này ký / signature invalid: the manifest was changed or not signed by this platform's key")


def _recorded_export(export_id) -> EvidenceExport | None:
    # The record is looked up whatever the caller's scope: whoever holds a package may learn whether
    # it matches; nothing of the record itself (hashes, reason, people) is returned.
    if not isinstance(export_id, int) or isinstance(export_id, bool) or not 0 < export_id < 2**63:
        return None
    with system_scope():
        export = db.session.get(EvidenceExport, export_id)
        if export is not None:
            db.session.expunge(export)
    return export if export is not None and export.status == "ready" else None


def _check_log(zf: zipfile.ZipFile, by_name: dict, export, export_id, manifest_bytes: bytes) -> tuple[str, list]:
    """("match" | "mismatch" | "unlogged" | "unknown", problems) from the registered log checks."""
    entry, signature = None, None
    try:
        entry = zf.read(by_name[TLOG]) if TLOG in by_name else None
        sig = json.loads(zf.read(by_name[SIGNATURE])) if SIGNATURE in by_name else None
        signature = sig.get("signature") if isinstance(sig, dict) else None
    except (ValueError, zipfile.BadZipFile, OSError):
        pass  # a damaged signature file is reported by the signature check; the log check goes on
    state, problems = "unlogged", []
    for check in LOG_CHECKS:
        state, found = check(export, export_id, manifest_bytes, signature, entry)
        problems.extend(found)
    return state, problems


def verify_archive(data: bytes) -> dict:
    """Check a package four ways: every file against its manifest (present, same size, same SHA-256,
    nothing extra); the manifest's Ed25519 signature by the platform; and every file and the manifest
    against what the platform recorded when it built the export; and the manifest's hash and signature
    against the export's entry in the commune's transparency log (the inclusion proof and signed
    checkpoint the package carries, and the platform's stored log). A package that does not match the
    record or its log entry is "không khớp hồ sơ" even when it agrees with itself.

    Returns ``{"ok", "verdict", "signature", "record", "log", "files": [...], "problems": [...], ...}``."""
    out = {"ok": False, "verdict": MISMATCH, "signature": "missing", "record": "unknown", "log": "unknown",
           "format": None,
           "export_id": None, "incident_id": None, "key_id": signing.key_id(), "files": [], "problems": []}
    problems: list[str] = out["problems"]
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        problems.append("không phải tệp zip / not a zip archive")
        return out
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        by_name: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if info.filename in by_name:
                problems.append(f"{info.filename}: có hai lần trong gói / appears twice in the package")
            by_name[info.filename] = info
        if MANIFEST not in by_name:
            problems.append("manifest.json: thiếu / manifest.json is missing")
            return out
        try:
            manifest_bytes = zf.read(by_name[MANIFEST])
            manifest = json.loads(manifest_bytes)
            listed = [e for e in manifest["files"] if isinstance(e, dict)]
        except (ValueError, KeyError, TypeError, zipfile.BadZipFile):
            problems.append("manifest.json: không phải manifest của camnet / not a camnet manifest")
            return out
        out.update(format=manifest.get("format"), export_id=manifest.get("export_id"),
                   incident_id=(manifest.get("incident") or {}).get("id")
                   if isinstance(manifest.get("incident"), dict) else None)
        try:
            digests = {n: _member_digest(zf, i) for n, i in by_name.items() if n not in (MANIFEST, SIGNATURE, TLOG)}
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            problems.append(f"gói hỏng, không đọc được / the archive is damaged: {exc}")
            return out
        files: dict[str, dict] = {}

        def note(name: str, problem: str) -> None:
            entry = files.setdefault(name, {"name": name, "ok": True, "problem": None})
            entry["ok"] = False
            entry["problem"] = problem if entry["problem"] is None else f"{entry['problem']}; {problem}"
            problems.append(f"{name}: {problem}")

        # 1. the package against its own manifest
        listed_names = set()
        for entry in listed:
            name = str(entry.get("name"))
            listed_names.add(name)
            files.setdefault(name, {"name": name, "ok": True, "problem": None})
            if name not in digests:
                note(name, "thiếu trong gói / missing")
                continue
            sha, size = digests[name]
            files[name].update(sha256=sha, size=size)
            if size != entry.get("size"):
                note(name, "dung lượng khác bảng kê / size differs from the manifest")
            if sha != entry.get("sha256"):
                note(name, "mã SHA-256 khác bảng kê / sha256 differs from the manifest")
        for name in sorted(set(digests) - listed_names):
            sha, size = digests[name]
            files[name] = {"name": name, "ok": True, "problem": None, "sha256": sha, "size": size}
            note(name, "không có trong manifest / not in the manifest")

        # 2. the platform's signature over the manifest
        out["signature"], sig_problem = _read_signature(zf, set(by_name), manifest_bytes)
        if sig_problem:
            problems.append(sig_problem)

        # 3. the package against the platform's record of this export
        export = _recorded_export(out["export_id"])
        if export is None:
            problems.append(f"lần xuất #{out['export_id']}: nền tảng không có hồ sơ / unknown export: the "
                            f"platform has no record of it")
        elif _sha(data) == export.sha256:
            out["record"] = "match"  # byte for byte the archive the platform built
        elif not export.recorded_files:
            out["record"] = "mismatch"
            problems.append("gói khác gói đã xuất (SHA-256 cả gói); lần xuất này có trước khi ghi hồ sơ từng tệp "
                            "/ the package differs from the archive built at export (its SHA-256); this export "
                            "predates per-file records")
        else:
            before = len(problems)
            if _sha(manifest_bytes) != export.manifest_sha256:
                problems.append("manifest.json: khác hồ sơ lúc xuất / differs from the record made at export")
            if out["incident_id"] != export.incident_id:
                problems.append("manifest.json: vụ việc khác hồ sơ / names another incident than the record")
            recorded = {r["name"]: r for r in export.recorded_files}
            for name, rec in recorded.items():
                files.setdefault(name, {"name": name, "ok": True, "problem": None})
                if name not in digests:
                    if name in listed_names:  # already reported as missing against the manifest
                        continue
                    note(name, "thiếu so với hồ sơ / missing (it is in the record)")
                elif digests[name] != (rec.get("sha256"), rec.get("size")):
                    what = "SHA-256" if digests[name][0] != rec.get("sha256") else "dung lượng / size"
                    note(name, f"khác hồ sơ lúc xuất ({what}) / differs from the record made at export")
            for name in sorted(set(digests) - set(recorded)):
                note(name, "không có trong hồ sơ / not in the record")
            out["record"] = "match" if len(problems) == before else "mismatch"
        # 4. the package against its entry in the commune's evidence log (transparency.json: checkpoint, proof)
        out["log"], log_problems = _check_log(zf, by_name, export, out["export_id"], manifest_bytes)
        problems.extend(log_problems)
        if export is not None and out["signature"] == "missing" and export.signature is None \
                and out["record"] == "match":
            problems.pop(problems.index(next(p for p in problems if p.startswith(SIGNATURE))))
            out["signature"] = "unsigned"  # exported before signing: the record alone vouches for it
    out["files"] = sorted(files.values(), key=lambda f: f["name"])
    out["ok"] = (not problems and out["record"] == "match" and out["signature"] in ("valid", "unsigned")
                 and out["log"] in ("match", "unlogged"))
    out["verdict"] = MATCH if out["ok"] else MISMATCH
    return out


def export_keys():
    """The column of the stored archives' keys (retention never takes them for orphans)."""
    return EvidenceExport.object_key
