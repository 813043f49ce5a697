"""Bulk import and export of cameras as CSV (UTF-8, diacritics kept): all rows checked, then all written.

Columns are ``COLUMNS`` (export writes them all; import needs ``code`` and ``name``). A file with
any bad row is rejected whole with a list of {line, field, reason}. Rows are upserted by code,
so importing the same file twice, or an export, changes nothing.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from pydantic import ValidationError
from sqlalchemy import select

from .. import csvsafe
from ..clock import utc_now
from ..errors import ValidationFailed
from ..extensions import db
from ..tenants import audit
from ..tenants.models import Village
from .. import crypto
from . import urls
from .models import Camera, CameraConsent
from .registry import EDITABLE, URL_FIELDS, active_consent, commune_for, may_see_sources
from .schemas import CameraIn, ConsentIn

COLUMNS = ["code", "name", "village", "road", "latitude", "longitude", "direction", "kind", "ownership",
           "owner_name", "owner_contact", "recorder", "channel", "rtsp_main", "rtsp_sub", "snapshot_url",
           "mjpeg_url", "username", "install_date", "phase", "status", "capture_interval",
           "consent_shares", "consent_granted_by", "consent_since", "consent_document_ref"]
OPTIONAL_IMPORT = ["password"]  # accepted on import, never exported
CONSENT_COLUMNS = {"consent_shares": "shares", "consent_granted_by": "granted_by",
                   "consent_since": "since", "consent_document_ref": "document_ref"}
MAX_ROWS = 20_000
DEFAULTS = {"kind": "fixed", "ownership": "commune", "status": "planned", "capture_interval": 60}


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    codes: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def export_csv(unit_id: int) -> str:
    commune = commune_for(unit_id, "cameras.read")
    villages = {v.id: v.name for v in db.session.execute(
        select(Village).where(Village.commune_id == commune.id)).scalars()}
    out = io.StringIO()
    writer = csvsafe.writer(out, lineterminator="\n")  # formula-looking text is quoted
    writer.writerow(COLUMNS)
    cams = db.session.execute(select(Camera).where(Camera.commune_id == commune.id)
                              .order_by(Camera.code)).scalars()
    for cam in cams:
        consent = active_consent(cam)
        row = {name: getattr(cam, name, None) for name in COLUMNS}
        if not may_see_sources(cam.commune_id):
            row.update({name: None for name in (*URL_FIELDS, "username")})
        row["village"] = villages.get(cam.village_id)
        for col, attr in CONSENT_COLUMNS.items():
            row[col] = getattr(consent, attr) if consent else None
        writer.writerow([_cell(row[name]) for name in COLUMNS])
    return out.getvalue()


def decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed("file: not UTF-8 text (save the CSV as UTF-8)", field="file",
                               errors=[{"line": 0, "field": "file", "reason": f"not UTF-8: {exc.reason}"}]) from None


def _unreadable(line: int, exc: csv.Error) -> dict:
    reason = str(exc)
    if "field larger than field limit" in reason:
        reason = (f"ô dữ liệu dài quá {csv.field_size_limit() // 1024} KiB (thiếu dấu \" đóng?) / a field is longer "
                  f"than {csv.field_size_limit() // 1024} KiB (an unclosed quote?)")
    return {"line": line, "field": "file", "reason": f"dòng {line} không đọc được / line {line} unreadable: {reason}"}


def _parse(text: str, commune_id: int, config) :
    """Every row checked; returns (line, camera values, consent values, password) and the errors."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        return [], [_unreadable(reader.reader.line_num or 1, exc)], False
    errors: list[dict] = []
    unknown = [h for h in header if h not in COLUMNS and h not in OPTIONAL_IMPORT]
    for h in unknown:
        errors.append({"line": 1, "field": h, "reason": "unknown column"})
    for need in ("code", "name"):
        if need not in header:
            errors.append({"line": 1, "field": need, "reason": "required column missing"})
    if errors:
        return [], errors, False
    reader.fieldnames = header
    present = [("village_id" if h == "village" else h) for h in header
               if h in EDITABLE or h == "village"]
    has_consent = "consent_shares" in header
    villages = {v.name: v.id for v in db.session.execute(
        select(Village).where(Village.commune_id == commune_id)).scalars()}
    rows, seen = [], {}
    records = iter(reader)
    while True:
        try:
            rec = next(records)
        except StopIteration:
            break
        except csv.Error as exc:
            # e.g. a field beyond the csv module's limit (128 KiB): the file cannot be read on
            return rows, errors + [_unreadable(reader.reader.line_num, exc)], has_consent
        line = reader.line_num
        if len(rows) + len(errors) > MAX_ROWS:
            errors.append({"line": line, "field": "file", "reason": f"more than {MAX_ROWS} rows"})
            break
        rec = {k: csvsafe.unneutralise((v or "").strip()) for k, v in rec.items() if k is not None}
        if not any(rec.values()):
            continue
        row_errors = []
        code = rec.get("code", "")
        if code in seen:
            row_errors.append({"line": line, "field": "code",
                               "reason": f"duplicate code {code!r} (also on line {seen[code]})"})
        else:
            seen[code] = line
        data = {k: v for k, v in rec.items() if k in EDITABLE or k in ("code", "password") if v != ""}
        data["commune_id"] = commune_id
        if rec.get("village"):
            if rec["village"] in villages:
                data["village_id"] = villages[rec["village"]]
            else:
                row_errors.append({"line": line, "field": "village",
                                   "reason": f"no village {rec['village']!r} in this commune"})
        consent = {attr: rec[col] for col, attr in CONSENT_COLUMNS.items() if rec.get(col)}
        if consent:
            try:
                data["consent"] = ConsentIn.model_validate(consent).model_dump()
            except ValidationError as exc:
                for err in exc.errors():
                    col = "consent_" + str(err["loc"][0]) if err.get("loc") else "consent_shares"
                    row_errors.append({"line": line, "field": col, "reason": err["msg"]})
        try:
            cam = CameraIn.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                name = str(err["loc"][0]) if err.get("loc") else "consent_shares"
                if name == "village_id":
                    name = "village"
                if name == "consent" or (not err.get("loc") and "consent" in err["msg"]):
                    name = "consent_shares"
                if not any(e["field"] == name for e in row_errors):
                    row_errors.append({"line": line, "field": name, "reason": err["msg"]})
            errors.extend(row_errors)
            continue
        values = cam.model_dump(include=set(EDITABLE), exclude_none=True)
        for name in URL_FIELDS:
            if values.get(name):
                try:
                    urls._check(values[name], name, config)
                except urls.UnsafeURL as exc:
                    row_errors.append({"line": line, "field": name, "reason": str(exc)})
        if row_errors:
            errors.extend(row_errors)
            continue
        # Only the columns the file has are written: a narrow file does not wipe the others.
        stated = {k: values.get(k) for k in present}
        rows.append((line, cam.code, stated, cam.consent.model_dump() if cam.consent else None,
                     cam.password))
    return rows, errors, has_consent


def import_csv(unit_id: int, text: str) -> ImportResult:
    """Validate every row, then upsert them all in one transaction; raise 422 with all errors."""
    commune = commune_for(unit_id, "cameras.manage")
    config = current_app.config
    rows, errors, has_consent = _parse(text, commune.id, config)
    if errors:
        first = errors[0]
        raise ValidationFailed(f"file: {len(errors)} error(s), first on line {first['line']} ({first['field']}: "
                               f"{first['reason']}); nothing was imported", field="file", errors=errors)
    existing = {c.code: c for c in db.session.execute(
        select(Camera).where(Camera.commune_id == commune.id)).scalars()}
    result = ImportResult()
    for _line, code, values, consent, password in rows:
        cam = existing.get(code)
        if cam is None:
            cam = Camera(commune_id=commune.id, code=code,
                         **{**DEFAULTS, **{k: v for k, v in values.items() if v is not None}})
            cam.password_enc = crypto.encrypt(password)
            db.session.add(cam)
            db.session.flush()
            if consent:
                db.session.add(CameraConsent(camera_id=cam.id, commune_id=commune.id, **consent))
            result.created += 1
            continue
        changed = False
        for key, value in values.items():
            if value is None and key in DEFAULTS:
                value = DEFAULTS[key]
            if getattr(cam, key) != value:
                setattr(cam, key, value)
                changed = True
        if password is not None and crypto.decrypt(cam.password_enc) != password:
            cam.password_enc = crypto.encrypt(password)
            changed = True
        current = active_consent(cam)
        now_consent = ({k: getattr(current, k) for k in ("shares", "granted_by", "since", "document_ref")}
                       if current else None)
        if has_consent and consent != now_consent:
            if current is not None:
                current.revoked_at = utc_now()
            if consent:
                db.session.add(CameraConsent(camera_id=cam.id, commune_id=commune.id, **consent))
            changed = True
        if changed:
            result.updated += 1
        else:
            result.unchanged += 1
    audit.record("camera.import", unit_id=commune.id, object_type="unit", object_id=commune.id,
                 detail=result.as_dict())
    db.session.commit()
    return result
