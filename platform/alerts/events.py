"""Where events are caught: mapper events on other features' models write the outbox row on the
same connection, inside the flush, so the alert commits or rolls back with what caused it.

Registered once by ``init_app``; no other feature knows alerts exist. Events without a row
(a lost capture worker, an overdue pledge, a quota) come from the periodic checker (``checks``).
"""
from __future__ import annotations

from datetime import timezone

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, object_session

from ..clock import utc_now
from ..incidents.models import EvidenceExport, Incident
from ..streams.models import Camera, CameraConsent, FaultTicket
from .models import AlertEvent

OUTBOX_FLAG = "camnet_alerts_outbox"
# Called after a commit that wrote outbox rows (the in-process deliverer of embedded mode listens).
AFTER_COMMIT: list = []


def _iso(value):
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat()


def write(connection, target, kind: str, unit_id: int, subject_type: str, subject_id, payload: dict) -> None:
    """Insert one outbox row on the flush's own connection (same transaction as the change)."""
    at = utc_now()
    connection.execute(AlertEvent.__table__.insert().values(
        kind=kind, unit_id=unit_id, subject_type=subject_type, subject_id=str(subject_id),
        payload={**payload, "at": at.isoformat()}, occurred_at=at))
    session = object_session(target)
    if session is not None:
        session.info[OUTBOX_FLAG] = True


def _changed(target, name: str):
    """(old, new) of an attribute changed in this flush, else None."""
    hist = inspect(target).attrs[name].history
    if not hist.has_changes():
        return None
    old = hist.deleted[0] if hist.deleted else None
    new = hist.added[0] if hist.added else None
    return old, new


def _camera_facts(camera) -> dict:
    return {"camera_id": camera.id, "camera_code": camera.code, "camera_name": camera.name,
            "interval": camera.capture_interval or 60}


def on_camera_update(mapper, connection, camera) -> None:
    change = _changed(camera, "status")
    if change is None:
        return
    old, new = change
    if new == "offline" and old in ("active", "faulty"):
        write(connection, camera, "camera.offline", camera.commune_id, "camera", camera.id, _camera_facts(camera))
    elif old == "offline" and new in ("active", "faulty"):
        write(connection, camera, "camera.online", camera.commune_id, "camera", camera.id, _camera_facts(camera))


def on_ticket_insert(mapper, connection, ticket) -> None:
    # "unreachable" is the camera going offline, told once by camera.offline (a power cut: one alert)
    if ticket.status != "open" or ticket.rule == "unreachable":
        return
    camera = ticket.camera if "camera" in ticket.__dict__ else None
    facts = {"ticket_id": ticket.id, "rule": ticket.rule, "camera_id": ticket.camera_id,
             "opened_at": _iso(ticket.opened_at)}
    if camera is None:
        row = connection.execute(Camera.__table__.select().where(Camera.__table__.c.id == ticket.camera_id)).first()
        if row is not None:
            facts.update(camera_code=row.code, camera_name=row.name)
    else:
        facts.update(camera_code=camera.code, camera_name=camera.name)
    write(connection, ticket, "fault.opened", ticket.commune_id, "fault_ticket", ticket.id, facts)


def on_incident_insert(mapper, connection, incident) -> None:
    write(connection, incident, "incident.created", incident.commune_id, "incident", incident.id,
          {"incident_id": incident.id, "title": incident.title, "status": incident.status})


def on_incident_update(mapper, connection, incident) -> None:
    change = _changed(incident, "status")
    if change is not None and change[1] == "referred":
        write(connection, incident, "incident.referred", incident.commune_id, "incident", incident.id,
              {"incident_id": incident.id, "title": incident.title, "status": incident.status})


def on_export_update(mapper, connection, export) -> None:
    change = _changed(export, "status")
    if change is not None and change[1] == "ready":
        write(connection, export, "export.ready", export.commune_id, "evidence_export", export.id,
              {"export_id": export.id, "incident_id": export.incident_id,
               "owner_user_ids": [export.requested_by_id] if export.requested_by_id else []})


def on_consent_update(mapper, connection, consent) -> None:
    change = _changed(consent, "revoked_at")
    if change is not None and change[0] is None and change[1] is not None:
        row = connection.execute(Camera.__table__.select().where(Camera.__table__.c.id == consent.camera_id)).first()
        write(connection, consent, "consent.revoked", consent.commune_id, "camera_consent", consent.id,
              {"consent_id": consent.id, "camera_id": consent.camera_id,
               "camera_code": row.code if row else "", "camera_name": row.name if row else ""})


def _after_commit(session) -> None:
    if session.info.pop(OUTBOX_FLAG, False):
        for hook in AFTER_COMMIT:
            hook()


def _after_rollback(session) -> None:
    session.info.pop(OUTBOX_FLAG, None)


def install() -> None:
    """Register the listeners (idempotent: one set per process, whatever the number of apps)."""
    if getattr(install, "_done", False):
        return
    install._done = True
    event.listen(Camera, "after_update", on_camera_update)
    event.listen(FaultTicket, "after_insert", on_ticket_insert)
    event.listen(Incident, "after_insert", on_incident_insert)
    event.listen(Incident, "after_update", on_incident_update)
    event.listen(EvidenceExport, "after_update", on_export_update)
    event.listen(CameraConsent, "after_update", on_consent_update)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_soft_rollback", lambda session, previous: _after_rollback(session))
