"""Live video routes: the fragmented-MP4 stream (API), the live player page and the monitoring wall."""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify, render_template, request
from flask_login import login_required

from ..apispec import ApiBlueprint
from ..streams import media, registry
from ..streams.models import Camera
from ..streams.urls import UnsafeURL
from ..tenants import access
from ..tenants.models import AdminUnit
from . import live, wall as wall_model
from .schemas import LiveVideoQuery

api_bp = ApiBlueprint("video_api", __name__, tag="streams")
bp = Blueprint("video", __name__)
log = logging.getLogger("camnet.video.views")


@api_bp.operation("/cameras/<int:camera_id>/live/video",
                  summary="Video trực tiếp (MP4 phân mảnh, dùng chung một kết nối tới camera) / "
                          "Live video (fragmented MP4, one shared upstream connection)",
                  perm="media.view", query=LiveVideoQuery, binary="video/mp4")
def live_video(camera_id: int, query: LiveVideoQuery):
    try:
        return live.open_view(camera_id, query.reason, query.profile, query.max_seconds)
    except live.NoLiveVideo as exc:
        return jsonify({"error": exc.code, "message": exc.message}), 409
    except UnsafeURL as exc:
        log.warning("live video of camera %s refused: %s", camera_id, exc)  # the address: log only
        return jsonify({"error": "camera_unavailable",
                        "message": "Camera không phản hồi / The camera is not available"}), 409


@bp.route("/cameras/<int:camera_id>/live")
@login_required
def live_page(camera_id: int):
    access.require("media.view")
    cam = access.get_scoped(Camera, camera_id, "media.view")
    consent = registry.active_consent(cam)
    return render_template("video/live.html", cam=cam, unit=access.get_scoped(AdminUnit, cam.commune_id),
                           latest=media.newest_snapshot_id(cam.id),
                           needs_reason=bool(consent and consent.shares == "on_request"),
                           has_rtsp=bool(cam.rtsp_main or cam.rtsp_sub),
                           h265=live.hub().is_h265(cam.id), h265_message=live.H265_MESSAGE)


@bp.route("/wall")
@login_required
def wall():
    access.require("media.view")
    unit_id = request.args.get("unit_id", type=int)
    unit_id = unit_id if unit_id is not None and 0 < unit_id < 2**31 else None
    opts = wall_model.WallOptions.from_args(request.args)
    tiles = wall_model.tiles(unit_id, opts.problems_first)
    return render_template("video/wall.html", tiles=tiles, unit_id=unit_id, opts=opts,
                           communes=access.communes_for("media.view"))
