"""Recording clips: the worker that owns a camera picks its pending clips and records them with ffmpeg.

RTSP sources are stream-copied into MP4 (no re-encoding, ``+faststart`` so browsers can
play while downloading); video only, because camera audio is usually G.711, which MP4 does
not carry well. MJPEG-only cameras are re-encoded to H.264 (``reencoded`` is set).
"""
from __future__ import annotations

import base64
import hashlib
import logging
import os
import subprocess
import tempfile
from datetime import datetime, timezone

from sqlalchemy import select, update

from ..extensions import db
from ..tenants.scoping import system_scope
from .models import Clip

log = logging.getLogger("camnet.clips")
FFMPEG = os.environ.get("CAMNET_FFMPEG", "ffmpeg")


def ffmpeg_command(cam, seconds: int, out: str) -> tuple[list[str], bool]:
    """The ffmpeg command for a camera's best source, and whether it re-encodes."""
    from .grab import with_credentials

    base = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    if cam.rtsp_url:
        url = with_credentials(cam.rtsp_url, cam.username, cam.password)
        return base + ["-rtsp_transport", "tcp", "-timeout", "10000000", "-i", url, "-t", str(seconds),
                       "-map", "0:v:0", "-c", "copy", "-an", "-movflags", "+faststart",
                       "-f", "mp4", out], False
    if cam.mjpeg_url:
        headers = []
        if cam.username:
            token = base64.b64encode(f"{cam.username}:{cam.password or ''}".encode()).decode()
            headers = ["-headers", f"Authorization: Basic {token}\r\n"]
        return base + ["-rw_timeout", "10000000", *headers, "-i", cam.mjpeg_url, "-t", str(seconds),
                       "-an", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                       "-movflags", "+faststart", "-f", "mp4", out], True
    raise ValueError("no stream source (RTSP or MJPEG) to record from")


def clip_key(clip, started: datetime) -> str:
    return f"{clip.commune_id}/{clip.camera_id}/clips/{started:%Y/%m/%d/%H%M%S}-{clip.id}.mp4"


def poll_clips(worker, pool) -> None:
    """Claim pending clips of cameras this worker owns (a conditional UPDATE: one winner)."""
    if pool.free_count() == 0:
        return
    owned = [cid for cid in worker.cameras if worker.membership.owns(cid)]
    if not owned:
        return
    with system_scope():
        pending = db.session.execute(select(Clip.id, Clip.camera_id).where(
            Clip.status == "pending", Clip.camera_id.in_(owned)).order_by(Clip.id)
            .limit(pool.free_count())).all()
        claimed = []
        for clip_id, camera_id in pending:
            won = db.session.execute(update(Clip).where(Clip.id == clip_id, Clip.status == "pending")
                                     .values(status="recording")).rowcount
            db.session.commit()
            if won:
                claimed.append((clip_id, camera_id))
        db.session.remove()
    for clip_id, camera_id in claimed:
        pool.spawn(record_clip, worker.app, worker.store, clip_id, worker.cameras[camera_id],
                   worker.cfg.clip_max_seconds)


def record_clip(app, store, clip_id: int, cam, max_seconds: int = 300) -> None:
    """Record, hash, store and mark the clip ready (or failed with the reason)."""
    with app.app_context(), system_scope():
        clip = db.session.get(Clip, clip_id)
        seconds = max(1, min(int(clip.duration_s or 30), max_seconds))
        started = datetime.now(timezone.utc)
        fd, out = tempfile.mkstemp(prefix=f"camnet-clip-{clip_id}-", suffix=".mp4")
        os.close(fd)
        db.session.commit()  # no transaction open while ffmpeg runs
        try:
            cmd, reencoded = ffmpeg_command(cam, seconds, out)
            # Cameras (and the simulator) sometimes stall a session: one more try on a new one.
            for attempt in (1, 2):
                try:
                    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                          timeout=seconds + 25)
                except subprocess.TimeoutExpired:
                    if attempt == 2:
                        raise RuntimeError("ffmpeg did not finish in time") from None
                    log.info("clip %s: ffmpeg stalled, trying once more", clip_id)
                    continue
                if proc.returncode == 0 and os.path.getsize(out) > 0:
                    break
                if attempt == 2:
                    message = proc.stderr.decode(errors="replace").strip().splitlines()
                    raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {(message or [''])[-1][:300]}")
            with open(out, "rb") as fh:
                data = fh.read()
            key = clip_key(clip, started)
            store.put(key, data, "video/mp4")
            clip = db.session.get(Clip, clip_id)
            clip.started_at = started
            clip.object_key, clip.size = key, len(data)
            clip.sha256 = hashlib.sha256(data).hexdigest()
            clip.reencoded, clip.status, clip.error = reencoded, "ready", None
            if clip.evidence:  # marked as evidence while it was recording
                try:
                    clip.legal_hold = store.set_legal_hold(key, True)
                except Exception:  # noqa: BLE001 - the database hold still holds it
                    log.warning("legal hold on %s failed", key)
            db.session.commit()
            log.info("clip %s ready: %s bytes%s", clip_id, len(data), " (re-encoded)" if reencoded else "")
        except Exception as exc:  # noqa: BLE001 - the reason goes to the row
            db.session.rollback()
            clip = db.session.get(Clip, clip_id)
            clip.status, clip.error = "failed", str(exc)[:500]
            db.session.commit()
            log.warning("clip %s failed: %s", clip_id, exc)
        finally:
            if os.path.exists(out):
                os.unlink(out)
            db.session.remove()
