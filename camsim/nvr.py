"""Recorder mode of the RTSP simulator: an NVR's playback of a requested time range.

Loaded by ``rtsp_server.py`` (system python, GStreamer through gi; no numpy). Channel ``c`` is
camera ``c`` of the simulator, and every channel "has recorded" every moment: the picture for
wall-clock time ``t`` is a grey field with a moving bar and ``t`` burned in by ``timestamp``
(``camsim.timestamp.decode`` reads it back), so a client can check it got exactly the range it
asked for. Three URL families, as the common recorders spell them::

    Hikvision  /Streaming/tracks/<c>01?starttime=20261203T101000Z&endtime=20261203T102000Z
    Dahua      /cam/playback?channel=<c>&subtype=0&starttime=2026_12_03_17_10_00&endtime=2026_12_03_17_20_00
    ONVIF      /onvif/replay/<c>  with PLAY  Range: clock=20261203T101000Z-20261203T102000Z
                                              Require: onvif-replay

Hikvision's times are UTC (``Z``); Dahua's are the recorder's local time, Vietnam time (UTC+7)
as the communes' recorders keep it (``DAHUA_UTC_OFFSET``). The ONVIF range comes in the PLAY request: the server's
``pre-play-request`` signal reads it and takes it out of the request (the media is not seekable
in GStreamer's sense; the range is ours to honour). A PLAY without ``Require: onvif-replay`` on
the replay mount answers 400; the requirement itself is accepted by ``check-requirements``.

Each client gets its own media (not shared): a feeder thread pushes the frames of its range, with
presentation times from 0, then end-of-stream. ``speed`` paces it: 0 (default) sends as fast as
the encoder goes (what a recorder's "download" does; the RTP timestamps still advance by the
frame time, so the file a client writes has the real duration), N sends at N times real time.
Every request is logged on stderr as ``PLAYBACK family=... channel=... start=... end=...``.
"""
from __future__ import annotations

import calendar
import re
import sys
import threading
import time
from urllib.parse import parse_qs

import timestamp  # camsim/timestamp.py, beside this file (rtsp_server.py puts it on sys.path)

HIK = re.compile(r"^/Streaming/tracks/(\d+)01/?$", re.I)
DAHUA = "/cam/playback"
ONVIF = re.compile(r"^/onvif/replay/(\d+)/?$")
MAX_SECONDS = 6 * 3600


def parse_hik_time(value: str) -> float:
    """20261203T101000Z (also without the Z) -> Unix seconds (UTC)."""
    return calendar.timegm(time.strptime(value.rstrip("Zz"), "%Y%m%dT%H%M%S"))


DAHUA_UTC_OFFSET = 7 * 3600  # the recorders of the communes keep Vietnam time (UTC+7, no DST)


def parse_dahua_time(value: str) -> float:
    """2026_12_03_17_10_00 (the recorder's local time, Vietnam) -> Unix seconds."""
    return calendar.timegm(time.strptime(value, "%Y_%m_%d_%H_%M_%S")) - DAHUA_UTC_OFFSET


def parse_clock_range(value: str):
    """'clock=20261203T101000Z-20261203T102000Z' (fractions allowed) -> (start, end) or None."""
    m = re.match(r"^\s*clock\s*=\s*(\d{8}T\d{6}(?:\.\d+)?Z?)\s*-\s*(\d{8}T\d{6}(?:\.\d+)?Z?)?\s*$", value or "")
    if not m:
        return None

    def one(v):
        whole, _, frac = v.rstrip("Zz").partition(".")
        return parse_hik_time(whole) + (float("0." + frac) if frac else 0.0)

    return one(m.group(1)), (one(m.group(2)) if m.group(2) else None)


def request_of(path: str, query: str | None):
    """(family, channel, start, end) from a playback URL; start/end None for ONVIF (they come in
    PLAY). Raises ValueError for a playback URL it cannot read."""
    q = {k: v[0] for k, v in parse_qs(query or "").items()}
    m = HIK.match(path)
    if m:
        return "hikvision", int(m.group(1)), parse_hik_time(q["starttime"]), parse_hik_time(q["endtime"])
    if path.rstrip("/") == DAHUA:
        return ("dahua", int(q["channel"]), parse_dahua_time(q["starttime"]),
                parse_dahua_time(q["endtime"]))
    m = ONVIF.match(path)
    if m:
        return "onvif", int(m.group(1)), None, None
    raise ValueError("not a playback URL: %s" % path)


class Playback:
    """One client's playback: the range, and the thread that feeds its appsrc."""

    def __init__(self, family, channel, start, end, width, height, fps, speed, Gst):
        self.family, self.channel, self.start, self.end = family, channel, start, end
        self.width, self.height, self.fps, self.speed = width, height, fps, speed
        self.Gst = Gst
        self.appsrc = None
        self.stopped = threading.Event()
        self.range_known = threading.Event()
        if start is not None:
            self.range_known.set()
        self.thread = None
        self.placeholder_sent = False
        self.base = self._base_frame()

    def set_range(self, start, end):
        self.start, self.end = start, end
        self.range_known.set()

    def _base_frame(self) -> bytes:
        w, h = self.width, self.height
        return bytes([96]) * (w * h) + bytes([128]) * (w * h // 2)

    def frame(self, i: int, t: float) -> bytes:
        data = bytearray(self.base)
        w, h = self.width, self.height
        x = (i * 8) % max(1, w - 16)
        bar = b"\xe0" * 16
        for y in range(h // 4, h):  # a moving bright bar below the time
            data[y * w + x:y * w + x + 16] = bar
        timestamp.encode_plane(data, w, h, t)
        return bytes(data)

    def on_need_data(self):
        """ONVIF: a placeholder for DESCRIBE's preroll until the range is known, then the range."""
        if self.range_known.is_set():
            self.start_feeding()
        elif not self.placeholder_sent:
            self.placeholder_sent = True
            buf = self.Gst.Buffer.new_wrapped(self.base)
            buf.pts = buf.dts = 0
            buf.duration = self.Gst.SECOND // self.fps
            self.appsrc.emit("push-buffer", buf)

    def start_feeding(self):
        if self.thread is None:
            self.thread = threading.Thread(target=self._feed, name="playback-%d" % self.channel, daemon=True)
            self.thread.start()

    def _feed(self):
        Gst = self.Gst
        if not self.range_known.wait(30):
            return
        start, end = self.start, self.end
        if end is None or end <= start:
            end = start + 60
        end = min(end, start + MAX_SECONDS)
        n = max(1, int(round((end - start) * self.fps)))
        step = Gst.SECOND // self.fps
        sys.stderr.write("PLAYBACK family=%s channel=%d start=%s end=%s frames=%d\n" % (
            self.family, self.channel, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(start)),
            time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(end)), n))
        sys.stderr.flush()
        began = time.monotonic()
        for i in range(n):
            if self.stopped.is_set():
                return
            if self.speed:
                ahead = i / self.fps / self.speed - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)
            buf = Gst.Buffer.new_wrapped(self.frame(i, start + i / self.fps))
            buf.pts = i * step
            buf.dts = i * step
            buf.duration = step
            if self.appsrc.emit("push-buffer", buf) != Gst.FlowReturn.OK:
                return
        self.appsrc.emit("end-of-stream")


def install(server, mounts, n, width, height, fps, qp, speed, Gst, GstRtspServer, debug=lambda *a: None):
    """Mount the playback paths of channels 1..n on ``server`` and hook the ONVIF range."""
    caps = "video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1" % (width, height, fps)
    launch = ('appsrc name=feed is-live=false format=time block=true max-bytes=2000000 caps="%s" '
              "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=%d pass=quant quantizer=%d "
              "threads=1 ! rtph264pay name=pay0 pt=96 config-interval=-1" % (caps, fps, qp))
    playbacks = {}  # appsrc name -> Playback
    by_media = {}
    counter = [0]

    class PlaybackFactory(GstRtspServer.RTSPMediaFactory):
        def do_create_element(self, url):
            try:
                family, channel, start, end = request_of(url.abspath, url.query)
            except (ValueError, KeyError) as exc:
                debug("playback refused: %s", exc)
                return None
            if not 1 <= channel <= n:
                return None
            counter[0] += 1
            name = "feed%d" % counter[0]
            binned = Gst.parse_bin_from_description(launch.replace("name=feed", "name=" + name), False)
            playbacks[name] = Playback(family, channel, start, end, width, height, fps, speed, Gst)
            return binned

    def on_media_configure(factory, media):
        element = media.get_element()
        it = element.iterate_recurse()
        while True:
            ok, child = it.next()
            if ok != Gst.IteratorResult.OK:
                break
            pb = playbacks.pop(child.get_name(), None)
            if pb is not None:
                pb.appsrc = child
                by_media[media] = pb
                media.connect("unprepared", lambda m, pb=pb: (by_media.pop(m, None) or pb).stopped.set())
                if pb.family == "onvif":
                    # The range comes with PLAY. DESCRIBE prerolls on one placeholder frame; the
                    # media is then reset (suspend mode RESET), and PLAY starts it afresh, when
                    # the feeder knows the range: the placeholder never reaches the client.
                    child.connect("need-data", lambda src, size, p=pb: p.on_need_data())
                else:
                    pb.start_feeding()
                if not speed:
                    # The stream's sinks (made at SETUP) pace by the clock; a download goes as
                    # fast as the encoder can.
                    pipeline = element.get_parent() or element
                    pipeline.connect("deep-element-added", _unsync)
                    pipeline.use_clock(None)
                break

    def _unsync(bin_, sub, child):
        if child.find_property("sync") is not None and child.find_property("async") is not None:
            child.set_property("sync", False)
            debug("unsync %s", child.get_name())

    for path in ("/Streaming/tracks", DAHUA, "/onvif/replay"):
        factory = PlaybackFactory()
        factory.set_shared(False)
        factory.set_eos_shutdown(False)
        if path == "/onvif/replay":
            factory.set_suspend_mode(GstRtspServer.RTSPSuspendMode.RESET)
        factory.connect("media-configure", on_media_configure)
        if path == "/Streaming/tracks":
            for c in range(1, n + 1):
                mounts.add_factory("/Streaming/tracks/%d01" % c, factory)
        elif path == DAHUA:
            mounts.add_factory(DAHUA, factory)
        else:
            for c in range(1, n + 1):
                mounts.add_factory("/onvif/replay/%d" % c, factory)

    GstRtsp = _rtsp_module()

    def on_check_requirements(client, ctx, reqs):
        unsupported = [r for r in reqs if r != "onvif-replay"]
        return ", ".join(unsupported)  # "" = all supported (None would read as "unsupported")

    def on_pre_play(client, ctx):
        pb = by_media.get(ctx.media)
        if pb is None or pb.family != "onvif":
            return GstRtsp.RTSPStatusCode.OK
        req = ctx.request
        res, require = req.get_header(GstRtsp.RTSPHeaderField.REQUIRE, 0)
        if res != GstRtsp.RTSPResult.OK or "onvif-replay" not in (require or ""):
            return GstRtsp.RTSPStatusCode.BAD_REQUEST
        res, value = req.get_header(GstRtsp.RTSPHeaderField.RANGE, 0)
        rng = parse_clock_range(value) if res == GstRtsp.RTSPResult.OK else None
        if rng is None:
            return GstRtsp.RTSPStatusCode.INVALID_RANGE
        pb.set_range(*rng)
        while req.remove_header(GstRtsp.RTSPHeaderField.RANGE, -1) == GstRtsp.RTSPResult.OK:
            break
        return GstRtsp.RTSPStatusCode.OK

    def on_client(server_, client):
        client.connect("check-requirements", on_check_requirements)
        client.connect("pre-play-request", on_pre_play)

    server.connect("client-connected", on_client)


def _rtsp_module():
    import gi

    gi.require_version("GstRtsp", "1.0")
    from gi.repository import GstRtsp

    return GstRtsp
