"""Recorder pulls: the API (register a recorder, pull a range, poll its progress) and the page.

``register(app)`` is called by ``camnet.video.init_app``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from flask import Blueprint, current_app, render_template
from flask_login import login_required
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field

from ..apispec import ApiBlueprint
from ..clock import from_vn, to_vn, vn_now
from ..schemas import ApiTime, DbId, Out
from ..tenants.access import may, require
from . import recorder

api = ApiBlueprint("video_recorder_api", __name__, tag="video")
bp = Blueprint("video_recorder", __name__)


# ---- schemas -----------------------------------------------------------------------------------

LocalTime = Annotated[datetime, AfterValidator(from_vn)]  # no offset: Vietnam time


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RecorderIn(_In):
    commune_id: DbId
    name: str = Field(min_length=1, max_length=80, description="as the cameras' `recorder` names it")
    family: Literal["hikvision", "dahua", "onvif"]
    url: str = Field(min_length=8, max_length=500,
                     description="rtsp://host:port; for onvif the replay URI, `{channel}` in place of the channel")
    username: str | None = Field(None, max_length=100)
    password: str | None = Field(None, max_length=200, description="stored encrypted, never returned")


class RecorderOut(Out):
    id: int
    commune_id: int
    name: str
    family: str
    created_at: ApiTime


class UnitQuery(_In):
    unit_id: DbId


class PullIn(_In):
    start: LocalTime = Field(description="from (an offset, or Vietnam time)")
    end: LocalTime = Field(description="to (an offset, or Vietnam time)")
    reason: str = Field(min_length=5, max_length=500, description="why (kept in the audit log)")


class PullOut(Out):
    id: int
    camera_id: int
    commune_id: int
    family: str
    channel: int
    start_at: ApiTime
    end_at: ApiTime
    status: str
    seconds_asked: int
    seconds_fetched: float
    clip_id: int | None
    error: str | None
    created_at: ApiTime
    finished_at: ApiTime | None

    @computed_field
    @property
    def progress(self) -> float:
        if self.status == "ready":
            return 1.0
        return round(min(1.0, self.seconds_fetched / self.seconds_asked), 4) if self.seconds_asked else 0.0

    @computed_field
    @property
    def download(self) -> str | None:
        return f"/api/v1/clips/{self.clip_id}/download" if self.clip_id else None


# ---- API ---------------------------------------------------------------------------------------

@api.operation("/video/recorders", summary="Đầu ghi của một xã / A commune's recorders", perm="cameras.read",
               query=UnitQuery, response=list[RecorderOut])
def list_recorders(query: UnitQuery):
    return recorder.list_recorders(query.unit_id)


@api.operation("/video/recorders", "POST", summary="Đăng ký đầu ghi / Register a recorder",
               perm="cameras.manage", body=RecorderIn,
               example={"commune_id": "{unit_id}", "name": "NVR-9", "family": "hikvision",
                        "url": "rtsp://10.1.2.9:554"}, response=RecorderOut, status=201)
def add_recorder(body: RecorderIn):
    return recorder.add_recorder(body), 201


@api.operation("/video/cameras/<int:camera_id>/recorder-pulls", "POST",
               summary="Lấy một khoảng ghi từ đầu ghi của xã / Pull a range of footage from the commune's recorder",
               perm="media.view", body=PullIn,
               example={"start": "2026-12-03T10:00:00+07:00", "end": "2026-12-03T10:01:00+07:00",
                        "reason": "lấy đoạn ghi thử"}, response=PullOut, status=202)
def create_pull(camera_id: int, body: PullIn):
    pull = recorder.request_pull(camera_id, body.start, body.end, body.reason)
    recorder.start(current_app._get_current_object(), pull.id)
    return pull, 202


@api.operation("/video/cameras/<int:camera_id>/recorder-pulls",
               summary="Các lần lấy đoạn ghi của camera / A camera's recorder pulls", perm="media.view",
               response=list[PullOut])
def list_pulls(camera_id: int):
    return recorder.pulls_of(camera_id)[1]


@api.operation("/video/recorder-pulls/<int:pull_id>",
               summary="Tiến độ lấy đoạn ghi / A recorder pull and its progress", perm="media.view",
               response=PullOut)
def get_pull(pull_id: int):
    return recorder.get_pull(pull_id)


# ---- the page ----------------------------------------------------------------------------------

@bp.route("/video/cameras/<int:camera_id>/recorder")
@login_required
def recorder_page(camera_id: int):
    require("media.view")
    camera, pulls = recorder.pulls_of(camera_id)
    now = vn_now().replace(second=0, microsecond=0, tzinfo=None)
    return render_template("video/recorder.html", cam=camera, pulls=pulls, to_vn=to_vn,
                           default_end=now, max_minutes=recorder.max_minutes(),
                           can_attach=may("incidents.manage", camera.commune_id))


def register(app) -> None:
    from ..extensions import csrf

    csrf.exempt(api)  # the API checks CSRF itself for cookie sessions
    app.register_blueprint(api)
    app.register_blueprint(bp)
