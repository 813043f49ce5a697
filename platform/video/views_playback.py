"""Recording and playback: the API (a camera's recording mode, "record now", a day of recording, the
segment bytes, range exports), the playback page, and the hooks the recorder hangs on.

``register(app)`` is called by ``camnet.video.init_app``.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from flask import Blueprint, render_template, request
from flask_login import login_required
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from ..apispec import ApiBlueprint
from ..clock import from_vn, to_vn, vn_now
from ..errors import pydantic_errors
from ..schemas import ApiTime, DbId, Out
from ..streams.schemas import ClipOut
from ..tenants.access import may, require
from . import export, playback, recording, segments

api = ApiBlueprint("video_playback_api", __name__, tag="video")
bp = Blueprint("video_playback", __name__)


# ---- schemas -----------------------------------------------------------------------------------

def _local(value: datetime) -> datetime:
    """A time without an offset is Vietnam time (what people type); stored and compared as UTC."""
    return from_vn(value)


LocalTime = Annotated[datetime, AfterValidator(_local)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RecordingSettingIn(_In):
    mode: Literal["off", "continuous", "scheduled", "events"]
    hours: list[list[int]] | None = Field(None, max_length=12,
                                          description="scheduled: [[from_hour, to_hour], ...] in Vietnam time")
    pre_roll_s: int = Field(30, ge=0, le=300, description="events: seconds kept before an event")
    post_roll_s: int = Field(60, ge=0, le=1800, description="events: seconds kept after an event")


class RecordingSettingOut(Out):
    camera_id: int
    commune_id: int
    mode: str
    hours: list[list[int]] | None
    pre_roll_s: int
    post_roll_s: int


class TriggerIn(_In):
    seconds: int = Field(60, ge=1, le=1800)
    reason: str | None = Field(None, max_length=500)


class TriggerOut(Out):
    id: int
    camera_id: int
    at: ApiTime
    until: ApiTime


class DayQuery(_In):
    day: date | None = Field(None, description="Vietnam calendar day; today when absent")
    reason: str | None = Field(None, max_length=500, description="why (shared cameras on request)")


class SegmentOut(Out):
    id: int
    started_at: ApiTime
    ended_at: ApiTime
    size: int
    sha256: str


class SpanOut(Out):
    start: ApiTime
    end: ApiTime


class ThumbOut(Out):
    id: int
    taken_at: ApiTime


class IncidentMarkOut(Out):
    id: int
    title: str
    occurred_at: ApiTime


class DayOut(Out):
    camera_id: int
    day: date
    start: ApiTime
    end: ApiTime
    mode: str
    segments: list[SegmentOut]
    spans: list[SpanOut]
    gaps: list[SpanOut]
    thumbnails: list[ThumbOut]
    incidents: list[IncidentMarkOut]


class ReasonQuery(_In):
    reason: str | None = Field(None, max_length=500)


class ExportIn(_In):
    start: LocalTime = Field(description="from (an offset, or Vietnam time)")
    end: LocalTime = Field(description="to (an offset, or Vietnam time)")
    reason: str = Field(min_length=5, max_length=500, description="why (kept in the audit log)")
    incident_id: DbId | None = Field(None, description="attach the export to this incident as evidence")
    note: str | None = Field(None, max_length=300)


def _day_out(d: dict) -> dict:
    return {**d, "camera_id": d["camera"].id,
            "spans": [{"start": s, "end": e} for s, e in d["spans"]],
            "gaps": [{"start": s, "end": e} for s, e in d["gaps"]]}


# ---- API ---------------------------------------------------------------------------------------

@api.operation("/video/cameras/<int:camera_id>/recording", summary="Chế độ ghi của camera / A camera's recording mode",
               perm="cameras.read", response=RecordingSettingOut)
def get_recording(camera_id: int):
    return recording.get_setting(camera_id)


@api.operation("/video/cameras/<int:camera_id>/recording", "PUT", summary="Đặt chế độ ghi / Set the recording mode",
               perm="cameras.manage", body=RecordingSettingIn, example={"mode": "off"},
               response=RecordingSettingOut)
def put_recording(camera_id: int, body: RecordingSettingIn):
    return recording.set_setting(camera_id, body)


@api.operation("/video/cameras/<int:camera_id>/recording/trigger", "POST",
               summary="Ghi ngay (camera ghi theo sự kiện) / Record now (camera recording on events)",
               perm="media.view", body=TriggerIn, example={"seconds": 60, "reason": "kiểm tra"},
               response=TriggerOut, status=201)
def trigger_recording(camera_id: int, body: TriggerIn):
    return recording.press_record(camera_id, body.seconds, body.reason), 201


@api.operation("/video/cameras/<int:camera_id>/recordings",
               summary="Một ngày ghi hình: đoạn ghi, khoảng trống, ảnh, vụ việc / A day of recording",
               perm="media.view", query=DayQuery, response=DayOut)
def recordings_of_day(camera_id: int, query: DayQuery):
    return _day_out(playback.day_of(camera_id, query.day or vn_now().date(), query.reason))


@api.operation("/video/segments/<int:segment_id>/media", summary="Dữ liệu một đoạn ghi (ghi nhật ký) / "
               "A recorded segment's bytes (audited)", perm="media.view", query=ReasonQuery, binary="video/mp4")
def segment_media(segment_id: int, query: ReasonQuery):
    return playback.segment_bytes(segment_id, query.reason)


@api.operation("/video/cameras/<int:camera_id>/exports", "POST",
               summary="Xuất một khoảng ghi thành MP4 / Export a range of recording as one MP4",
               perm="media.view", body=ExportIn,
               example={"start": "2026-12-03T10:00:00+07:00", "end": "2026-12-03T10:01:00+07:00",
                        "reason": "trích xuất thử"}, response=ClipOut, status=201)
def export_recording(camera_id: int, body: ExportIn):
    return export.export_range(camera_id, body.start, body.end, body.reason, body.incident_id, body.note), 201


# ---- the page ----------------------------------------------------------------------------------

@bp.route("/video/cameras/<int:camera_id>/playback")
@login_required
def playback_page(camera_id: int):
    require("media.view")
    try:
        query = DayQuery.model_validate({k: v for k, v in request.args.items() if k in ("day", "reason") and v})
        at = LocalTimeQuery.model_validate({"at": request.args["at"]}).at if request.args.get("at") else None
    except ValidationError as exc:
        raise pydantic_errors(exc) from None
    day = query.day or (to_vn(at).date() if at else vn_now().date())
    d = playback.day_of(camera_id, day, query.reason)
    cam = d["camera"]
    return render_template("video/playback.html", d=d, cam=cam, at=at, reason=query.reason or "",
                           can_export=True, can_attach=may("incidents.manage", cam.commune_id),
                           mode_labels=segments.MODE_LABELS, bar=_bar(d),
                           prev_day=day - timedelta(days=1), next_day=day + timedelta(days=1))


class LocalTimeQuery(_In):
    at: LocalTime


def _bar(d: dict) -> dict:
    """The day bar's geometry in seconds of the day (the SVG's viewBox is 86400 wide)."""
    start = d["start"]

    def sec(t):
        return max(0.0, min(86400.0, (playback.aware(t) - start).total_seconds()))

    return {"spans": [(sec(s), sec(e) - sec(s)) for s, e in d["spans"]],
            "gaps": [(sec(s), sec(e) - sec(s)) for s, e in d["gaps"]],
            "incidents": [(sec(i["occurred_at"]), i) for i in d["incidents"]],
            "thumbs": [(sec(t["taken_at"]), t) for t in d["thumbnails"]]}


# ---- registration ------------------------------------------------------------------------------

def register(app) -> None:
    """Blueprints (the API is csrf-exempt: it checks CSRF itself for cookie sessions), the recorder
    loop of the capture worker, the retention sweep of segments, and the storage figure of the
    chairman's page."""
    from ..capture import worker
    from ..extensions import csrf
    from ..settings import env_int
    from ..streams import retention

    for key, default in (("RECORDING_SEGMENT_SECONDS", 60), ("RECORDING_RETENTION_DAYS", 30),
                         ("RECORDING_INCIDENT_HOLD_MINUTES", 30), ("RECORDING_EXPORT_MAX_MINUTES", 60),
                         ("RECORDING_EVENT_RADIUS_M", 300)):
        app.config.setdefault(key, env_int(key, default))
    app.config.setdefault("RECORDING_POLL_SECONDS", 2.0)
    csrf.exempt(api)
    app.register_blueprint(api)
    app.register_blueprint(bp)
    worker.add_loop(recording.recorder_loop)
    retention.add_sweeper(segments.sweep_recordings)
    retention.add_object_keys(segments.segment_keys)
    app.jinja_env.globals["recording_storage"] = segments.storage_status
