"""Incident services: categories, logging and updating incidents, evidence and its retention hold."""
from __future__ import annotations

import functools
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select

from ..clock import from_vn, to_vn, utc_now, vn_day_start
from ..errors import ConflictError, ForbiddenError, NotFoundError, ValidationFailed
from ..extensions import db
from ..storage import StorageError
from ..streams.models import Camera, Clip, Snapshot
from ..tenants import audit
from ..tenants.access import get_scoped, holds_role, require_platform_admin
from ..tenants.idsets import any_of, dialect_name, ids_value, member_of
from ..tenants.models import AdminUnit, CommuneSettings, Village
from ..tenants.scope import current_scope, system_scope
from .models import (CLOSED_STATUSES, DEFAULT_CATEGORIES, Incident, IncidentCamera, IncidentCategory,
                     IncidentEvidence)


# ---- categories --------------------------------------------------------------------------

def list_categories(active_only: bool = False) -> list[IncidentCategory]:
    stmt = select(IncidentCategory).order_by(IncidentCategory.sort_order, IncidentCategory.id)
    if active_only:
        stmt = stmt.where(IncidentCategory.active.is_(True))
    return list(db.session.execute(stmt).scalars())


def ensure_default_categories() -> int:
    """Seed the issue's categories where missing (the migration does the same on a new install)."""
    have = set(db.session.execute(select(IncidentCategory.code)).scalars())
    added = 0
    for order, (code, vi, en, colour) in enumerate(DEFAULT_CATEGORIES):
        if code not in have:
            db.session.add(IncidentCategory(code=code, label_vi=vi, label_en=en, color=colour,
                                            sort_order=order * 10))
            added += 1
    db.session.commit()
    return added


def create_category(data) -> IncidentCategory:
    require_platform_admin()
    if db.session.execute(select(IncidentCategory.id).where(IncidentCategory.code == data.code)).first():
        raise ConflictError(f"code: category {data.code!r} exists", field="code")
    cat = IncidentCategory(code=data.code, label_vi=data.label_vi, label_en=data.label_en,
                           color=data.color, sort_order=data.sort_order)
    db.session.add(cat)
    db.session.flush()
    audit.record("incident_category.create", object_type="incident_category", object_id=cat.id,
                 detail={"code": cat.code})
    db.session.commit()
    return cat


def update_category(category_id: int, data) -> IncidentCategory:
    require_platform_admin()
    cat = db.session.get(IncidentCategory, category_id)
    if cat is None:
        raise NotFoundError()
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    for key, value in changes.items():
        setattr(cat, key, value)
    audit.record("incident_category.update", object_type="incident_category", object_id=cat.id,
                 detail=changes)
    db.session.commit()
    return cat


def category_by_code(code: str) -> IncidentCategory:
    cat = db.session.execute(select(IncidentCategory).where(IncidentCategory.code == code)).scalar_one_or_none()
    if cat is None or not cat.active:
        raise ValidationFailed(f"category: unknown category {code!r}", field="category")
    return cat


# ---- incidents ---------------------------------------------------------------------------

def _commune_for_manage(commune_id: int) -> AdminUnit:
    commune = get_scoped(AdminUnit, commune_id, "incidents.manage")
    if not commune.is_commune:
        raise ValidationFailed("commune_id: incidents belong to a commune", field="commune_id")
    return commune


def _check_village(commune_id: int, village_id: int | None) -> None:
    if village_id is None:
        return
    ok = db.session.execute(select(Village.id).where(Village.id == village_id,
                                                     Village.commune_id == commune_id)).first()
    if not ok:
        raise ValidationFailed("village_id: not a village of this commune", field="village_id")


def _check_cameras(commune_id: int, camera_ids: list[int]) -> list[int]:
    ids = sorted(set(camera_ids))
    if not ids:
        return []
    found = set(db.session.execute(select(Camera.id).where(Camera.id.in_(ids),
                                                           Camera.commune_id == commune_id)).scalars())
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationFailed(f"camera_ids: not cameras of this commune: {missing}", field="camera_ids")
    return ids


def _apply_status(incident: Incident, status: str) -> None:
    if status == incident.status:
        return
    incident.status = status
    incident.closed_at = utc_now() if status in CLOSED_STATUSES else None


def create_incident(data, actor_id: int | None = None) -> Incident:
    """Log an incident (vụ việc) at a commune where the caller manages incidents."""
    commune = _commune_for_manage(data.commune_id)
    category = category_by_code(data.category)
    _check_village(commune.id, data.village_id)
    camera_ids = _check_cameras(commune.id, data.camera_ids)
    occurred = from_vn(data.occurred_at)
    if occurred > utc_now() + timedelta(minutes=5):
        raise ValidationFailed("occurred_at: cannot be in the future", field="occurred_at")
    incident = Incident(
        commune_id=commune.id, category_id=category.id, title=data.title, description=data.description,
        occurred_at=occurred, village_id=data.village_id, road=data.road, latitude=data.latitude,
        longitude=data.longitude, status="open", clarified_by_camera=data.clarified_by_camera,
        people_identified=data.people_identified, property_recovered_vnd=data.property_recovered_vnd,
        reported_by_id=actor_id if actor_id is not None else current_scope().user_id,
    )
    _apply_status(incident, data.status)
    db.session.add(incident)
    db.session.flush()
    for cid in camera_ids:
        db.session.add(IncidentCamera(incident_id=incident.id, camera_id=cid, commune_id=commune.id))
    audit.record("incident.create", unit_id=commune.id, object_type="incident", object_id=incident.id,
                 detail={"category": category.code, "status": incident.status, "cameras": camera_ids})
    db.session.commit()
    return incident


def get_incident(incident_id: int, perm: str = "incidents.read") -> Incident:
    return get_scoped(Incident, incident_id, perm)


def update_incident(incident_id: int, data) -> Incident:
    incident = get_incident(incident_id, "incidents.manage")
    changes = data.model_dump(exclude_unset=True)
    if "category" in changes and changes["category"] is not None:
        incident.category_id = category_by_code(changes["category"]).id
    if "village_id" in changes:
        _check_village(incident.commune_id, changes["village_id"])
        incident.village_id = changes["village_id"]
    if changes.get("camera_ids") is not None:
        wanted = _check_cameras(incident.commune_id, changes["camera_ids"])
        # cameras that carry evidence stay involved
        keep = {e.snapshot.camera_id if e.kind == "snapshot" else e.clip.camera_id for e in incident.evidence}
        wanted = sorted(set(wanted) | keep)
        current = {c.camera_id: c for c in incident.cameras}
        for cid, link in current.items():
            if cid not in wanted:
                incident.cameras.remove(link)
        for cid in wanted:
            if cid not in current:
                incident.cameras.append(IncidentCamera(camera_id=cid, commune_id=incident.commune_id))
    if changes.get("occurred_at") is not None:
        incident.occurred_at = from_vn(changes["occurred_at"])
    for key in ("title", "description", "road", "latitude", "longitude", "clarified_by_camera",
                "people_identified", "property_recovered_vnd"):
        if key in changes and (changes[key] is not None or key in ("road", "latitude", "longitude")):
            setattr(incident, key, changes[key])
    if changes.get("status"):
        _apply_status(incident, changes["status"])
    incident.updated_at = utc_now()
    audit.record("incident.update", unit_id=incident.commune_id, object_type="incident",
                 object_id=incident.id, detail={k: str(v) for k, v in changes.items() if k != "description"})
    db.session.commit()
    return incident


def search_incidents(query, perm: str = "incidents.read") -> list[Incident]:
    """Incidents across every commune where the caller holds ``perm``, newest first."""
    scope = current_scope()
    stmt = select(Incident).order_by(Incident.occurred_at.desc(), Incident.id.desc())
    if not scope.system:
        stmt = stmt.where(member_of(Incident.commune_id, scope.units_with(perm)))
    if query.commune_id is not None:
        stmt = stmt.where(Incident.commune_id == query.commune_id)
    if query.date_from is not None:
        stmt = stmt.where(Incident.occurred_at >= vn_day_start(query.date_from))
    if query.date_to is not None:
        stmt = stmt.where(Incident.occurred_at < vn_day_start(query.date_to + timedelta(days=1)))
    if query.category:
        stmt = stmt.join(IncidentCategory, Incident.category_id == IncidentCategory.id).where(
            IncidentCategory.code == query.category)
    if query.status:
        stmt = stmt.where(Incident.status == query.status)
    if query.place:
        like = f"%{query.place}%"
        stmt = stmt.outerjoin(Village, Incident.village_id == Village.id).where(
            or_(Incident.road.ilike(like), Village.name.ilike(like), Incident.title.ilike(like)))
    if query.camera_id is not None:
        stmt = stmt.where(Incident.id.in_(select(IncidentCamera.incident_id).where(
            IncidentCamera.camera_id == query.camera_id)))
    return list(db.session.execute(stmt.limit(query.limit)).unique().scalars())


# ---- evidence ----------------------------------------------------------------------------

def _hold_in_store(key: str | None, on: bool) -> None:
    if not key:
        return
    try:
        current_app.extensions["camnet.storage"].set_legal_hold(key, on)
    except Exception:  # noqa: BLE001 - the database flag is the hold retention reads; the store's is extra
        pass


def add_evidence(incident_id: int, data) -> IncidentEvidence:
    """Attach a snapshot or a ready clip of this commune; it is then held from retention."""
    incident = get_incident(incident_id, "incidents.manage")
    model = Snapshot if data.kind == "snapshot" else Clip
    item = db.session.execute(select(model).where(model.id == data.item_id,
                                                  model.commune_id == incident.commune_id)).scalar_one_or_none()
    if item is None:
        raise ValidationFailed(f"item_id: no {data.kind} {data.item_id} in this commune", field="item_id")
    if data.kind == "clip" and (item.status != "ready" or not item.object_key):
        raise ValidationFailed("item_id: the clip is not ready yet", field="item_id")
    column = IncidentEvidence.snapshot_id if data.kind == "snapshot" else IncidentEvidence.clip_id
    if db.session.execute(select(IncidentEvidence.id).where(IncidentEvidence.incident_id == incident.id,
                                                            column == item.id)).first():
        raise ConflictError("item_id: already attached", field="item_id")
    ev = IncidentEvidence(incident_id=incident.id, commune_id=incident.commune_id, kind=data.kind,
                          note=data.note, added_by_id=current_scope().user_id,
                          snapshot_id=item.id if data.kind == "snapshot" else None,
                          clip_id=item.id if data.kind == "clip" else None)
    item.evidence = True
    if data.kind == "clip":
        item.legal_hold = True
    if item.camera_id not in {c.camera_id for c in incident.cameras}:
        incident.cameras.append(IncidentCamera(camera_id=item.camera_id, commune_id=incident.commune_id))
    db.session.add(ev)
    db.session.flush()
    audit.record("incident.evidence.add", unit_id=incident.commune_id, object_type="incident",
                 object_id=incident.id, detail={"kind": data.kind, "item_id": item.id, "evidence_id": ev.id})
    db.session.commit()
    _hold_in_store(item.object_key, True)
    return ev


RELEASE_ROLES = ("police",)  # who may lift a closed case's hold: the police, never an operator


def release_item_hold(kind: str, item, reason: str | None) -> bool:
    """Lift the evidence hold of a snapshot or clip that incidents list (``POST .../evidence
    {"evidence": false}``): refused while any of them is open; afterwards only police may, with a
    reason, audited. Returns False when no incident lists the item (the caller clears its flag)."""
    column = IncidentEvidence.snapshot_id if kind == "snapshot" else IncidentEvidence.clip_id
    with system_scope():  # every case that holds it counts, whoever is asking
        cases = db.session.execute(
            select(Incident).join(IncidentEvidence, IncidentEvidence.incident_id == Incident.id)
            .where(column == item.id).order_by(Incident.id)).unique().scalars().all()
    if not cases:
        return False
    open_cases = [c for c in cases if not c.is_closed]
    if open_cases:
        refs = "; ".join(c.reference for c in open_cases)
        raise ConflictError(f"evidence: đang là chứng cứ của vụ việc chưa đóng: {refs}. Chỉ bỏ giữ được khi "
                            f"vụ việc đã đóng / held as evidence by open incident(s): {refs}. It can be released "
                            f"only after they are closed", field="evidence")
    if not holds_role(RELEASE_ROLES, item.commune_id):
        raise ForbiddenError("evidence: chỉ công an mới được bỏ giữ chứng cứ của vụ việc đã đóng / only the "
                             "police may release the evidence of a closed incident", field="evidence")
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise ValidationFailed("reason: cần nêu lý do bỏ giữ chứng cứ (ít nhất 5 ký tự) / say why the evidence "
                               "is released (5+ characters)", field="reason")
    if not item.evidence and not getattr(item, "legal_hold", False):
        return True  # already released: nothing to lift, nothing to audit
    store = current_app.extensions["camnet.storage"]
    on_store = False
    if item.object_key:
        try:
            on_store = bool(store.set_legal_hold(item.object_key, False))
        except StorageError as exc:
            raise ConflictError(f"evidence: kho lưu trữ từ chối bỏ giữ / the object store refused to lift the "
                                f"legal hold ({exc})", field="evidence") from None
    item.evidence = False
    if kind == "clip":
        item.legal_hold = False
    audit.record(f"{kind}.evidence.release", unit_id=item.commune_id, object_type=kind, object_id=item.id,
                 reason=reason, detail={"incidents": [c.id for c in cases], "store_hold_lifted": on_store})
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        if on_store:  # the database still holds it: so does the store again
            _hold_in_store(item.object_key, True)
        raise
    return True


def evidence_media(incident_id: int, evidence_id: int, reason: str | None) -> tuple[bytes, str, str]:
    """The bytes of one evidence item, after the view is audited with its reason."""
    incident = get_incident(incident_id, "incidents.read")
    ev = get_scoped(IncidentEvidence, evidence_id, "media.view")
    if ev.incident_id != incident.id:
        raise NotFoundError()
    if not reason or len(reason.strip()) < 5:
        raise ValidationFailed("reason: say why you view this evidence (5+ characters)", field="reason")
    item = ev.snapshot if ev.kind == "snapshot" else ev.clip
    audit.media_access(unit_id=ev.commune_id, object_type=ev.kind, object_id=item.id,
                       action="media.view", reason=reason.strip(),
                       detail={"incident_id": incident.id, "evidence_id": ev.id})
    data = current_app.extensions["camnet.storage"].get(item.object_key)
    if ev.kind == "snapshot":
        return data, "image/jpeg", f"snapshot-{item.id}.jpg"
    return data, "video/mp4", f"clip-{item.id}.mp4"


def evidence_item_ids(kind: str):
    """The ids of the snapshots or clips (``kind``) an incident's evidence list names: retention
    keeps them even after their hold is released (the link row's foreign key would refuse the
    delete on PostgreSQL, and its incident would point at nothing)."""
    ref = IncidentEvidence.snapshot_id if kind == "snapshot" else IncidentEvidence.clip_id
    return select(ref).where(ref.is_not(None))


def release_expired_holds(now: datetime | None = None) -> int:
    """Clear the evidence flag of items whose incidents all closed more than the commune's
    ``evidence_hold_days`` ago; retention may then delete them. Run by the CLI / scheduler."""
    now = now or utc_now()
    released = 0
    with system_scope():
        holds = {s.commune_id: s.evidence_hold_days for s in db.session.execute(select(CommuneSettings)).scalars()}
        rows = db.session.execute(
            select(IncidentEvidence.kind, IncidentEvidence.snapshot_id, IncidentEvidence.clip_id,
                   IncidentEvidence.commune_id, Incident.status, Incident.closed_at)
            .join(Incident, IncidentEvidence.incident_id == Incident.id)).all()
        still: dict[tuple, bool] = {}
        for kind, snap_id, clip_id, commune_id, status, closed_at in rows:
            key = (kind, snap_id or clip_id)
            days = holds.get(commune_id, 365)
            closed = to_vn(closed_at) if closed_at else None
            held = status not in CLOSED_STATUSES or closed is None or closed + timedelta(days=days) > now
            still[key] = still.get(key, False) or held
        for (kind, item_id), held in still.items():
            if held:
                continue
            model = Snapshot if kind == "snapshot" else Clip
            item = db.session.get(model, item_id)
            if item is not None and item.evidence:
                item.evidence = False
                if kind == "clip":
                    item.legal_hold = False
                _hold_in_store(item.object_key, False)
                released += 1
        db.session.commit()
    return released


@functools.cache
def _incidents_for_cameras_statement(dialect: str):
    """Built once: the camera ids travel as one parameter (``any_of``), whatever their number."""
    involved = select(IncidentCamera.incident_id).where(any_of(IncidentCamera.camera_id, "camera_ids", dialect)).distinct()
    return (select(IncidentCategory.code, IncidentCategory.label_vi, IncidentCategory.label_en,
                   func.count(Incident.id),
                   func.sum(func.cast(Incident.clarified_by_camera, db.Integer)))
            .join(Incident, Incident.category_id == IncidentCategory.id)
            .where(Incident.id.in_(involved))
            .group_by(IncidentCategory.code, IncidentCategory.label_vi, IncidentCategory.label_en,
                      IncidentCategory.sort_order)
            .order_by(IncidentCategory.sort_order))


def incidents_for_cameras(camera_ids) -> list[dict]:
    """Per category: how many incidents these cameras were involved in and how many they helped
    clarify. Counts and categories only (for sponsors): no titles, places, people or footage.
    Runs in the caller's scope, so cameras outside it count nothing."""
    ids = frozenset(int(i) for i in camera_ids or [])
    if not ids:
        return []
    dialect = dialect_name()
    rows = db.session.execute(_incidents_for_cameras_statement(dialect),
                              {"camera_ids": ids_value(ids, dialect)}).all()
    return [{"category": code, "label_vi": vi, "label_en": en, "count": int(n),
             "clarified_by_camera": int(c or 0)} for code, vi, en, n, c in rows]

