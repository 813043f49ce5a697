"""Recording clips: the worker that owns a camera picks its pending clips and records them with ffmpeg.

RTSP sources are stream-copied into MP4 (no re-encoding, ``+faststart`` so browsers can
play while downloading); video only, because camera audio is usually G.711, which MP4 does
not carry well. MJPEG-only cameras are re-encoded to H.264 (``reencoded`` is set). ffmpeg reads
only checked, pinned connections (``connector``): RTSP through a relay, HTTP with no redirects.
"""
from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import tempfile
from datetime import datetime

from gevent.pool import Pool
from sqlalchemy import select, update

from ..clock import utc_now
from ..extensions import db
from ..streams.models import Clip
from ..tenants.scope import system_scope
from .connector import LABELS, CameraError, Plan, RtspRelay, ffmpeg_error_code, ffmpeg_http_input, plan, scrub

log = logging.getLogger("camnet.clips")
FFMPEG = os.environ.get("CAMNET_FFMPEG", "ffmpeg")


def ffmpeg_command(cam, seconds: int, out: str, config=None) -> tuple[list[str], bool, RtspRelay | Plan]:
    """The ffmpeg command for a camera's best source, whether it re-encodes, and what it reads
    through: the RTSP relay (the caller closes it) or the HTTP plan. Every input is a checked,
    pinned connection."""
    base = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    if cam.rtsp_url:
        relay = RtspRelay(plan(cam.rtsp_url, config), timeout=10.0)
        url = relay.url(cam.username, cam.password)
        return base + ["-rtsp_transport", "tcp", "-timeout", "10000000", "-i", url, "-t", str(seconds),
                       "-map", "0:v:0", "-c", "copy", "-an", "-movflags", "+faststart",
                       "-f", "mp4", out], False, relay
    if cam.mjpeg_url:
        target = plan(cam.mjpeg_url, config)
        source = ffmpeg_http_input(target, cam.username, cam.password)
        return base + ["-rw_timeout", "10000000", *source, "-t", str(seconds),
                       "-an", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                       "-movflags", "+faststart", "-f", "mp4", out], True, target
    raise CameraError("no_source")


def clip_key(clip, started: datetime) -> str:
    return f"{clip.commune_id}/{clip.camera_id}/clips/{started:%Y/%m/%d/%H%M%S}-{clip.id}.mp4"


class ClipRecorder:
    """The worker's clip loop: every ``clip_poll`` seconds, claim and record pending clips."""

    def __init__(self, worker):
        self.worker = worker
        self.pool = Pool(worker.cfg.clip_concurrency)

    def run(self) -> None:
        worker = self.worker
        with worker.app.app_context():
            while not worker.stopping.wait(worker.cfg.clip_poll):
                try:
                    poll_clips(worker, self.pool)
                except Exception:  # noqa: BLE001
                    log.exception("clip poll failed")


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
    """Record, hash, store and mark the clip ready, or failed with a fixed label (``connector.LABELS``):
    ffmpeg's own words go to the server log only."""
    with app.app_context(), system_scope():
        clip = db.session.get(Clip, clip_id)
        seconds = max(1, min(int(clip.duration_s or 30), max_seconds))
        started = utc_now()
        fd, out = tempfile.mkstemp(prefix=f"camnet-clip-{clip_id}-", suffix=".mp4")
        os.close(fd)
        db.session.commit()  # no transaction open while ffmpeg runs
        relay = None
        try:
            cmd, reencoded, via = ffmpeg_command(cam, seconds, out, app.config)
            relay = via if isinstance(via, RtspRelay) else None
            # Cameras (and the simulator) sometimes stall a session: one more try on a new one.
            for attempt in (1, 2):
                try:
                    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                          timeout=seconds + 25)
                except subprocess.TimeoutExpired:
                    if attempt == 2:
                        raise CameraError("timeout") from None
                    log.info("clip %s: ffmpeg stalled, trying once more", clip_id)
                    continue
                if proc.returncode == 0 and os.path.getsize(out) > 0:
                    break
                stderr = proc.stderr.decode(errors="replace").strip()
                log.warning("clip %s: ffmpeg exit %s: %s", clip_id, proc.returncode, scrub(stderr[-500:]))
                code = ffmpeg_error_code(stderr, relay, None if relay else via, cam)
                if attempt == 2 or code in ("redirect", "not_allowed", "transport"):
                    raise CameraError(code)
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
        except Exception as exc:  # noqa: BLE001 - a fixed label goes to the row
            db.session.rollback()
            clip = db.session.get(Clip, clip_id)
            clip.status = "failed"
            clip.error = exc.label if isinstance(exc, CameraError) else LABELS["failed"]
            db.session.commit()
            log.warning("clip %s failed: %s", clip_id, getattr(exc, "reason", None) or exc)
        finally:
            if relay is not None:
                relay.close()
            if os.path.exists(out):
                os.unlink(out)
            db.session.remove()
