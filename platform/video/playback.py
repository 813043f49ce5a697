"""Playback on a timeline: a camera's day (recorded time, gaps, snapshot thumbnails, incidents) and
the segment bytes the player appends, each fetch authorised and audited.

The day is a VN calendar day. Segments leave through the app (proxied from the object store, so the
page's strict ``connect-src 'self'`` holds and no store URL ever reaches the browser), after the
same checks as every camera video: ``media.view`` on the camera's commune (404 outside it), the
consent of a shared camera ("live"; "on_request" needs a reason) and an audit row written first.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from flask import Response, current_app
from sqlalchemy import select

from ..clock import to_vn, vn_day_start
from ..extensions import db
from ..incidents.models import Incident, IncidentCamera
from ..storage import StorageError
from ..streams.media import StorageUnavailable, consent_gate
from ..streams.models import Camera, Snapshot
from ..tenants import audit
from ..tenants.access import get_scoped, may
from .segments import RecordingSegment, RecordingSetting

GAP_TOLERANCE = timedelta(seconds=2)  # less than this between segments is no gap
THUMBNAILS = 24  # at most one snapshot per hour on the day bar


def aware(value: datetime) -> datetime:
    """SQLite gives naive UTC back."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _camera_for_video(camera_id: int, reason: str | None) -> Camera:
    camera = get_scoped(Camera, camera_id, "media.view")
    consent_gate(camera, "live", reason)
    return camera


def day_of(camera_id: int, day: date, reason: str | None) -> dict:
    """Segments, recorded spans, gaps, thumbnails and incidents of one camera on one VN day."""
    camera = _camera_for_video(camera_id, reason)
    start = vn_day_start(day)
    end = start + timedelta(days=1)
    segs = list(db.session.execute(
        select(RecordingSegment).where(RecordingSegment.camera_id == camera.id,
                                       RecordingSegment.started_at < end,
                                       RecordingSegment.started_at >= start - timedelta(minutes=10),
                                       RecordingSegment.ended_at > start)
        .order_by(RecordingSegment.started_at, RecordingSegment.id)).scalars())
    spans: list[list[datetime]] = []
    for seg in segs:
        s, e = aware(seg.started_at), aware(seg.ended_at)
        if spans and s - spans[-1][1] <= GAP_TOLERANCE:
            spans[-1][1] = max(spans[-1][1], e)
        else:
            spans.append([s, e])
    gaps, cursor = [], start
    for s, e in spans:
        if s - cursor > GAP_TOLERANCE:
            gaps.append((cursor, min(s, end)))
        cursor = max(cursor, e)
    if cursor < end:
        gaps.append((cursor, end))
    thumbs = []
    for hour in range(THUMBNAILS):
        h0 = start + timedelta(hours=hour)
        snap = db.session.execute(select(Snapshot.id, Snapshot.taken_at).where(
            Snapshot.camera_id == camera.id, Snapshot.taken_at >= h0, Snapshot.taken_at < h0 + timedelta(hours=1))
            .order_by(Snapshot.taken_at).limit(1)).first()
        if snap:
            thumbs.append({"id": snap.id, "taken_at": snap.taken_at})
    incidents = []
    if may("incidents.read", camera.commune_id):
        incidents = [{"id": i.id, "title": i.title, "occurred_at": i.occurred_at} for i in db.session.execute(
            select(Incident).join(IncidentCamera, IncidentCamera.incident_id == Incident.id).where(
                IncidentCamera.camera_id == camera.id, Incident.occurred_at >= start, Incident.occurred_at < end)
            .order_by(Incident.occurred_at)).scalars()]
    setting = db.session.get(RecordingSetting, camera.id)
    return {"camera": camera, "day": day, "start": start, "end": end, "mode": setting.mode if setting else "off",
            "segments": segs, "spans": [(s, e) for s, e in spans], "gaps": gaps, "thumbnails": thumbs,
            "incidents": incidents}


def segment_bytes(segment_id: int, reason: str | None) -> Response:
    """One segment's bytes for the player, after the checks and an audit row."""
    seg = get_scoped(RecordingSegment, segment_id, "media.view")
    camera = db.session.get(Camera, seg.camera_id)
    consent_gate(camera, "live", reason, held=seg.legal_hold)
    audit.media_access(unit_id=seg.commune_id, object_type="recording_segment", object_id=seg.id,
                       action="media.playback", reason=reason,
                       detail={"camera_id": seg.camera_id, "started_at": to_vn(seg.started_at).isoformat()})
    try:
        data = current_app.extensions["camnet.storage"].get(seg.object_key)
    except StorageError as exc:
        raise StorageUnavailable() from exc
    resp = Response(data, content_type="video/mp4")
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["X-Segment-Start"] = seg.started_at.isoformat()
    resp.headers["X-Segment-Sha256"] = seg.sha256
    return resp
