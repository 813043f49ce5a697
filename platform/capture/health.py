"""Health of a camera judged from each capture: unreachable, dark, covered, blur, frozen, moved.

The rules look at a small grayscale copy of the frame (about 1/4 scale). Thresholds are typed
settings read in one place (``HealthSettings.from_config``). A change of state opens a fault
ticket with the evidence snapshot and the rule; recovery closes it.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

import cv2
import numpy as np
from sqlalchemy import select

from ..settings import numbers_from_config
from ..streams.models import FaultTicket

RECOVERED_NOTE = "tự phục hồi / recovered"
# A day (so far) under ``uptime_min`` good checks opens this ticket (``uptime.add_checks``); a
# good frame does not close it: a camera that keeps dropping out needs a visit even between drops.
LOW_UPTIME = "low_uptime"


@dataclass(frozen=True)
class HealthSettings:
    """Thresholds of the health rules (env or app config ``HEALTH_<NAME>``)."""

    dark_mean_max: float = 25.0      # black: mean brightness below this ...
    dark_std_max: float = 12.0       # ... and almost no contrast
    covered_std_max: float = 8.0     # lens covered / blank screen: uniform picture
    blur_laplacian_min: float = 60.0  # out of focus: variance of the Laplacian below this
    freeze_frames: int = 3           # frozen: this many captures in a row unchanged ...
    freeze_diff_max: float = 0.5     # ... mean absolute difference (0-255) of 64x36 copies
    moved_corr_min: float = 0.7      # moved: correlation with the reference view below this ...
    moved_stable_min: float = 0.9    # ... in two captures in a row that show the same new view
    uptime_min: float = 0.5          # low uptime: a day's good checks below this share ...
    uptime_min_checks: int = 60      # ... once the day has at least this many checks

    @classmethod
    def from_config(cls, config=None) -> "HealthSettings":
        return numbers_from_config(cls, "HEALTH", config)


@dataclass
class CameraHealthState:
    """What the owning worker remembers about one camera between captures."""

    recent: deque = field(default_factory=lambda: deque(maxlen=8))  # 64x36 float copies
    recent_sha: deque = field(default_factory=lambda: deque(maxlen=8))
    reference: object = None  # 32x18 float copy of the reference view
    other_view: object = None  # the last frame that did not look like the reference
    reference_loaded: bool = False


def _tiny(small, size):
    return cv2.resize(small, size, interpolation=cv2.INTER_AREA).astype(np.float32)


def reference_of(small):
    """The fingerprint the "moved" rule compares against (32x18, blurred by the resize)."""
    return _tiny(small, (32, 18))


def correlation(a, b) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 1e-6 else 1.0


def judge(small, sha256: str, state: CameraHealthState, cfg: HealthSettings) -> tuple[str, dict]:
    """The rule that fires for this frame ("ok" if none) and the measurements behind it.

    Order matters: a black frame is also uniform, blurred and unchanged, so the most
    specific explanation wins: dark, covered, blur, frozen, moved.
    """
    mean = float(small.mean())
    std = float(small.std())
    lap = float(cv2.Laplacian(small, cv2.CV_32F).var())
    detail = {"mean": round(mean, 2), "std": round(std, 2), "laplacian": round(lap, 2)}
    tiny = _tiny(small, (64, 36))
    previous = list(state.recent)
    previous_sha = list(state.recent_sha)
    state.recent.append(tiny)
    state.recent_sha.append(sha256)

    other_view, state.other_view = state.other_view, None
    if mean < cfg.dark_mean_max and std < cfg.dark_std_max:
        return "dark", detail
    if std < cfg.covered_std_max and lap < cfg.blur_laplacian_min:
        return "covered", detail
    if lap < cfg.blur_laplacian_min:
        return "blur", detail
    need = max(1, cfg.freeze_frames - 1)
    pending = []  # rules that need more frames to decide (after a worker restart, say)
    if len(previous) < need:
        pending.append("frozen")
    else:
        diffs = [0.0 if s == sha256 else float(np.abs(tiny - p).mean())
                 for p, s in zip(previous[-need:], previous_sha[-need:], strict=True)]
        detail["frame_diff"] = round(max(diffs), 3)
        if max(diffs) <= cfg.freeze_diff_max:
            return "frozen", detail
    if state.reference is not None:
        view = reference_of(small)
        corr = correlation(view, state.reference)
        detail["reference_corr"] = round(corr, 3)
        if corr < cfg.moved_corr_min:
            # A knocked camera shows a *steady* new view; passing traffic, light or a busy
            # scene does not look the same twice. So it takes two captures that agree.
            state.other_view = view
            if other_view is None:
                pending.append("moved")
            else:
                steady = correlation(view, other_view)
                detail["new_view_corr"] = round(steady, 3)
                if steady >= cfg.moved_stable_min:
                    return "moved", detail
    if pending:
        detail["pending"] = pending
    return "ok", detail


class HealthChecker:
    """What the worker remembers about each camera it captures (recent frames, the reference view)."""

    def __init__(self, cfg: HealthSettings, references):
        self.cfg = cfg
        self.references = references  # a ``reference.ReferenceKeeper``
        self.states: dict[int, CameraHealthState] = {}
        self.reset_marks: dict | None = None  # camera id -> reference_reset_at seen at the last refresh

    def state_of(self, cam) -> CameraHealthState:
        """The camera's memory; its stored reference view is loaded the first time."""
        state = self.states.setdefault(cam.id, CameraHealthState())
        self.references.load(cam, state)
        return state

    def judge(self, cam, state: CameraHealthState, small, sha256: str) -> tuple[str, dict, bytes | None]:
        """The rule for this frame, its measurements, and the PNG of a new reference view (the
        first healthy frame of a camera without one), else None."""
        rule, detail = judge(small, sha256, state, self.cfg)
        new_reference = None
        if rule == "ok" and state.reference is None:
            new_reference = self.references.keep(cam, state, small)
        return rule, detail, new_reference

    def adopt(self, previous: dict, cameras: dict, resets: dict, owns) -> int:
        """Take a fresh camera list; return how many reference resets it shows. A reset by staff
        since the last list (``streams.faults.reset_reference``) makes the owner adopt its next
        healthy view; the first list only notes the marks (that reset already cleared the stored
        reference a worker loads). A changed stored key is loaded again."""
        seen = 0
        for cam_id, cam in cameras.items():
            old = previous.get(cam_id)
            if self.reset_marks is not None and resets.get(cam_id) != self.reset_marks.get(cam_id):
                seen += 1
                if cam_id in self.states and owns(cam_id):
                    # never reload the stored key: it may name a view stored just before the reset
                    self.states[cam_id] = CameraHealthState(reference_loaded=True)
                else:  # not ours now: whoever captures next loads what the owner adopted
                    self.states.pop(cam_id, None)
            elif old is not None and old.reference_key != cam.reference_key:
                self.states.pop(cam_id, None)
        self.reset_marks = resets
        return seen


def status_for(rule: str) -> str:
    return "active" if rule == "ok" else ("offline" if rule == "unreachable" else "faulty")


def apply_transition(session, camera, rule: str, detail: dict | None, now: datetime,
                     snapshot_id=None, evidence_key=None) -> None:
    """Record a capture's verdict on the camera; open or close fault tickets on a change.

    An "ok" that could not yet rule out the camera's current fault (a frozen or moved camera
    needs several frames, which a restarted worker does not have) keeps that fault and its ticket.
    """
    previous = camera.health or "unknown"
    if rule == "ok" and previous in (detail or {}).get("pending", ()):
        rule = previous
    if camera.status in ("active", "offline", "faulty"):
        camera.status = status_for(rule)
    camera.health = rule
    if rule == "ok":
        camera.last_ok_at = now
    if rule == previous:
        return
    if previous not in ("unknown", "ok"):
        note = RECOVERED_NOTE if rule == "ok" else f"chuyển sang {rule} / changed to {rule}"
        open_tickets = session.execute(select(FaultTicket).where(
            FaultTicket.camera_id == camera.id, FaultTicket.status == "open",
            FaultTicket.rule != LOW_UPTIME)).scalars()
        for ticket in open_tickets:
            ticket.status = "closed"
            ticket.closed_at = now
            ticket.closed_by_id = None
            ticket.close_note = note
    if rule != "ok":
        session.add(FaultTicket(camera_id=camera.id, commune_id=camera.commune_id, rule=rule,
                                status="open", opened_at=now, evidence_snapshot_id=snapshot_id,
                                evidence_key=evidence_key, detail=detail or {}))
