"""Playback in Debian's Chromium: the recorder records the RTSP simulator into 2-second segments; the
playback page, opened at the first segment's start, plays across segment boundaries through Media
Source Extensions (``currentTime`` passes the first segment's end) and the picture changes."""
from __future__ import annotations

import threading
from datetime import timezone
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from camnet.capture.cameras import load_cameras
from camnet.extensions import db
from camnet.tenants.scope import system_scope
from camnet.video.recording import Recorder
from camnet.video.segments import RecordingSegment, RecordingSetting
from camsim.control import start_rtsp_sim

from ..capture_rig import add_camera, allow, in_process_worker, wait_for
from ..conftest import _make_app
from ..world import build_world
from .test_browser import ARGS, CHROMIUM, SHOTS

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def recorded(request, tmp_path_factory, live_services):
    sim = start_rtsp_sim(port=0, n=1)  # a missing simulator fails: never skipped
    app, cleanup = _make_app("sqlite", request, tmp_path_factory.mktemp("e2e-playback"), live_services,
                             {**allow(sim.port), "WTF_CSRF_ENABLED": True, "RECORDING_SEGMENT_SECONDS": 2})
    try:
        with app.app_context():
            world = build_world(app)
            cam = add_camera(world.id("a"), "PLAY1", rtsp_main=sim.url(1))
            with system_scope():
                db.session.add(RecordingSetting(camera_id=cam.id, commune_id=cam.commune_id, mode="continuous",
                                                pre_roll_s=0, post_roll_s=0))
                db.session.commit()
            worker = in_process_worker(app)
            with system_scope():
                worker.cameras = load_cameras()
                db.session.commit()
            rec = Recorder(worker)

            def segments():
                with system_scope():
                    rows = list(db.session.execute(select(RecordingSegment).where(
                        RecordingSegment.camera_id == cam.id).order_by(RecordingSegment.started_at)).scalars())
                    db.session.commit()
                return rows

            try:
                wait_for(lambda: (rec.tick(), len(segments()) >= 4)[1], 90, interval=0.3, what="4 segments")
            finally:
                rec.stop_all()
            rows = segments()
        httpd = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        yield {"url": f"http://127.0.0.1:{httpd.server_port}", "camera_id": cam.id, "password": world.password,
               "segments": [(r.started_at.replace(tzinfo=timezone.utc) if r.started_at.tzinfo is None else r.started_at,
                             r.ended_at.replace(tzinfo=timezone.utc) if r.ended_at.tzinfo is None else r.ended_at)
                            for r in rows]}
        httpd.shutdown()
    finally:
        sim.stop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if cleanup:
            cleanup()


PIXELS = """() => { const v = document.getElementById('pb-video');
    const c = document.createElement('canvas'); c.width = 64; c.height = 36;
    const g = c.getContext('2d'); g.drawImage(v, 0, 0, 64, 36);
    return Array.from(g.getImageData(0, 0, 64, 36).data.slice(0, 4096)); }"""


def pixels(page) -> list:
    """Some pixels of the frame the player shows now."""
    return page.evaluate(PIXELS)


def test_playback_crosses_a_segment_boundary_in_chromium(recorded):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    (s0, e0), (s1, _e1) = recorded["segments"][:2]
    at = quote(s0.isoformat())  # "+00:00": a plus in a query string is a space
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(recorded["url"] + "/login")
            page.fill("input[name=username]", "operator_a")
            page.fill("input[name=password]", recorded["password"])
            page.click("button[type=submit]")
            page.wait_for_url(lambda url: "/login" not in url)
            page.goto(f"{recorded['url']}/video/cameras/{recorded['camera_id']}/playback?at={at}")
            assert page.evaluate("MediaSource.isTypeSupported('video/mp4; codecs=\"avc1.640028\"')")
            day_start = page.get_attribute("#player", "data-day-start")
            from datetime import datetime

            base = datetime.fromisoformat(day_start)
            first_end = (e0 - base).total_seconds()
            # the player starts at the first segment and plays on past its end into the next one
            page.wait_for_function("t => document.getElementById('pb-video').currentTime > t + 0.5",
                                   arg=first_end, timeout=30000)
            frames = pixels(page)
            page.wait_for_function("t => document.getElementById('pb-video').currentTime > t + 1.5",
                                   arg=first_end, timeout=30000)
            later = pixels(page)
            assert frames != later  # the picture moves on across the boundary
            assert page.evaluate("document.getElementById('pb-video').buffered.length") >= 1
            # 4x: the rate buttons set playbackRate
            page.click(".pb-rate[data-rate='4']")
            assert page.evaluate("document.getElementById('pb-video').playbackRate") == 4
            page.screenshot(path=str(SHOTS / "video-playback.png"), full_page=True)
            assert not [e for e in errors if "Content Security Policy" in e]
            assert (s1 - e0).total_seconds() < 0.05
        finally:
            browser.close()
