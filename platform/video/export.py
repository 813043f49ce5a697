"""Range export: a start and an end on a camera's recording become one MP4, stored as a clip.

The segments overlapping the range are fetched from the object store and joined by ffmpeg's
concat demuxer with stream copy (no re-encoding): ``-ss`` before the input seeks to the keyframe
at or before the start, and the MP4's edit list starts playback at the asked start; so the file
holds from the keyframe before the start (cameras send one every 1-4 s; the simulator every second)
to the end, and its duration is the range asked (less any gap without recording: gaps are not
filled, the segments on either side meet).

The export is a ``streams.Clip`` row (ready, hashed, under ``{commune}/{camera}/clips/``): it is
downloaded, held and attached to an incident through the clip flow that exists (incidents'
``add_evidence``, whose audit rows make the custody log), and retention treats it as a clip.
"""
from __future__ import annotations

import hashlib
import logging
import math
import os
import subprocess
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app

from ..capture.clips import clip_key
from ..clock import to_vn
from ..errors import ConflictError, ValidationFailed
from ..extensions import db
from ..incidents.schemas import EvidenceIn
from ..incidents.services import add_evidence, get_incident
from ..storage import StorageError
from ..streams.media import StorageUnavailable, consent_gate
from ..streams.models import Camera, Clip
from ..tenants import audit
from ..tenants.access import get_scoped
from ..tenants.scope import current_scope
from .playback import aware
from .segments import segments_between

log = logging.getLogger("camnet.video.export")
FFMPEG = os.environ.get("CAMNET_FFMPEG", "ffmpeg")


def _check_range(start: datetime, end: datetime) -> None:
    limit = int(current_app.config.get("RECORDING_EXPORT_MAX_MINUTES") or 60)
    if end <= start:
        raise ValidationFailed("end: thời điểm kết thúc phải sau thời điểm bắt đầu / end must be after start",
                               field="end")
    if end - start > timedelta(minutes=limit):
        raise ValidationFailed(f"end: tối đa {limit} phút mỗi lần xuất / at most {limit} minutes per export",
                               field="end")


def export_range(camera_id: int, start: datetime, end: datetime, reason: str | None,
                 incident_id: int | None = None, note: str | None = None) -> Clip:
    """Cut [start, end] of a camera's recording into one MP4 clip; attach it to ``incident_id``."""
    camera = get_scoped(Camera, camera_id, "media.view")
    consent_gate(camera, "live", reason)
    if not reason or len(reason.strip()) < 5:
        raise ValidationFailed("reason: nêu lý do xuất đoạn ghi (từ 5 ký tự) / say why the recording is exported "
                               "(5+ characters)", field="reason")
    _check_range(start, end)
    if incident_id is not None:
        incident = get_incident(incident_id, "incidents.manage")
        if incident.commune_id != camera.commune_id:
            raise ValidationFailed("incident_id: vụ việc của xã khác / the incident is in another commune",
                                   field="incident_id")
    segs = segments_between(camera.id, start, end)
    if not segs:
        raise ConflictError("start: không có đoạn ghi nào trong khoảng này / nothing was recorded in this range",
                            field="start")
    first_start = aware(segs[0].started_at)
    real_start = max(start, first_start)
    real_end = min(end, aware(segs[-1].ended_at))
    offset = max(0.0, (real_start - first_start).total_seconds())
    length = sum(max(0.0, (min(real_end, aware(s.ended_at)) - max(real_start, aware(s.started_at))).total_seconds())
                 for s in segs)
    store = current_app.extensions["camnet.storage"]
    seg_ids = [s.id for s in segs]
    db.session.commit()  # nothing open while the store and ffmpeg work
    with tempfile.TemporaryDirectory(prefix="camnet-export-") as tmp:
        listing = []
        for i, seg in enumerate(segs):
            path = Path(tmp, f"{i:05d}.mp4")
            try:
                path.write_bytes(store.get(seg.object_key))
            except StorageError as exc:
                raise StorageUnavailable() from exc
            listing.append(f"file '{path}'")
        Path(tmp, "list.txt").write_text("\n".join(listing) + "\n")
        out = Path(tmp, "export.mp4")
        cmd = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0",
               "-ss", f"{offset:.3f}", "-i", str(Path(tmp, "list.txt")), "-t", f"{length:.3f}",
               "-map", "0:v:0", "-c", "copy", "-movflags", "+faststart", "-f", "mp4", str(out)]
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
        if proc.returncode != 0 or not out.exists() or out.stat().st_size == 0:
            log.warning("export of camera %s failed: %s", camera.id, proc.stderr.decode(errors="replace")[-500:])
            raise ConflictError("start: không ghép được đoạn ghi / the recording could not be joined", field="start")
        data = out.read_bytes()
    clip = Clip(camera_id=camera.id, commune_id=camera.commune_id, requested_by_id=current_scope().user_id,
                started_at=real_start, duration_s=max(1, math.ceil(length)), status="ready", reencoded=False)
    db.session.add(clip)
    db.session.flush()
    key = clip_key(clip, real_start)
    try:
        store.put(key, data, "video/mp4")
    except StorageError as exc:
        db.session.rollback()
        raise StorageUnavailable() from exc
    clip.object_key, clip.size, clip.sha256 = key, len(data), hashlib.sha256(data).hexdigest()
    audit.record("recording.export", unit_id=camera.commune_id, object_type="clip", object_id=clip.id,
                 reason=reason.strip(), detail={"camera_id": camera.id, "start": to_vn(start).isoformat(),
                                                "end": to_vn(end).isoformat(), "segments": seg_ids,
                                                "seconds": round(length, 3), "sha256": clip.sha256,
                                                "incident_id": incident_id})
    db.session.commit()
    if incident_id is not None:
        add_evidence(incident_id, EvidenceIn(kind="clip", item_id=clip.id,
                                             note=note or f"Trích xuất đoạn ghi / recording export "
                                                          f"{to_vn(start):%d/%m/%Y %H:%M:%S}–{to_vn(end):%H:%M:%S}"))
    return clip
