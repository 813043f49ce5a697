#!/usr/bin/python3
"""Simulated RTSP cameras: a GStreamer RTSP server with N mount points.

Run with the *system* python (it needs Debian's python3-gi and the GStreamer
RTSP server typelib; it imports nothing from camnet nor any pip package)::

    /usr/bin/python3 camsim/rtsp_server.py --port 8554 --cams 4

Serves rtsp://127.0.0.1:PORT/cam1 .. /camN, each an H.264 stream of a moving
``videotestsrc`` pattern (a different pattern per camera), 640x360 at 10 fps by
default (``--hd`` for 1280x720 at 15 fps). Factories are shared: every client
of a mount sees the same encoder, so N clients cost no more CPU than one.

A control channel (plain HTTP, same process) listens on PORT+1 unless
``--control-port`` is given::

    GET /cam/<n>/mode/<normal|dark|freeze|blur|offline>   -> 200 "ok"
    GET /cam/<n>/mode                                     -> current mode
    GET /status                                           -> JSON {"1": "normal", ...}
    GET /health                                           -> 200 "ok"

What each mode does to the picture of that mount:

  normal   the camera's pattern (smpte, zone-plate rings, circular, cycling
           by camera number), scrolling sideways; successive frames differ,
           also for clients that connect, grab one frame and leave.
  dark     videotestsrc pattern=black: decoded frames are all ~0.
  freeze   the last picture is sent again and again: the encoder (constant QP,
           a forced IDR at the switch) then yields bit-identical decoded frames.
  blur     pattern=zone-plate kx=1 ky=1 kt=3: soft grey diagonal stripes
           drifting over time, no edges (Laplacian variance ~10-20 after
           H.264, against thousands in normal), successive frames differ.
  offline  the mount point is removed (new clients get 404 on DESCRIBE) and
           the running shared media is torn down, so connected clients lose
           the stream.

Recorder mode (``camsim/nvr.py``): the same server also answers an NVR's playback of any time
range of channel c (= camera c), with the wall-clock time of each frame burned in
(``camsim/timestamp.py``): ``/Streaming/tracks/<c>01?starttime=..&endtime=..`` (Hikvision),
``/cam/playback?channel=<c>&starttime=..&endtime=..`` (Dahua) and ``/onvif/replay/<c>`` with
``Range: clock=..`` in PLAY (ONVIF replay). ``--replay-speed`` paces it (0: as fast as it encodes).

Use ``--port 0`` / ``--control-port 0`` for ephemeral ports. When serving,
prints one line on stdout::

    READY port=8554 control=8555 cams=4 size=640x360 fps=10

Exits with status 3 (after printing ``MISSING: ...`` on stderr) when the
GStreamer python bindings or plugins are not installed. CAMNET_RTSP_SIM_DEBUG=1
logs media life-cycle events on stderr.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also under PYTHONSAFEPATH=1
import timestamp  # noqa: E402 - camsim/timestamp.py, beside this script
import nvr  # noqa: E402 - camsim/nvr.py: recorder mode (playback of a time range)

MODES = ("normal", "dark", "freeze", "blur", "offline")

# The picture of camera n in normal mode: NORMAL_PATTERNS[(n - 1) % 3]. All have plenty
# of edges (Laplacian variance in the thousands), a mean near 128, change every frame,
# and are cheap to draw (pinwheel and spokes cost ~10x more; bar, gamut and smpte75
# have almost no edges; checkers repeat every few frames when scrolled).
NORMAL_PATTERNS = (
    ("smpte", {}),  # its noise patch changes every frame
    ("zone-plate", {"kx2": 40, "ky2": 40, "kt": 2}),  # pulsing rings
    ("circular", {}),
)
BLUR_PATTERN = ("zone-plate", {"kx": 1, "ky": 1, "kt": 3})  # soft drifting stripes
DARK_PATTERN = ("black", {})
_ZONE_PLATE_PROPS = ("kx", "ky", "kt", "kxt", "kyt", "kxy", "kx2", "ky2", "kt2",
                     "xoffset", "yoffset")
SCROLL_SPEED = 4  # pixels per frame
DEBUG = bool(os.environ.get("CAMNET_RTSP_SIM_DEBUG"))


def debug(fmt, *args):
    if DEBUG:
        sys.stderr.write("[rtsp-sim %.3f %s] %s\n" % (
            time.monotonic(), threading.current_thread().name, fmt % args))
        sys.stderr.flush()


def _import_gst():
    try:
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstRtspServer", "1.0")
        from gi.repository import GLib, Gst, GstRtspServer
    except (ImportError, ValueError) as exc:
        sys.stderr.write(
            "MISSING: GStreamer RTSP server python bindings (%s). Install the Debian "
            "packages python3-gi gir1.2-gst-rtsp-server-1.0 gir1.2-gstreamer-1.0 "
            "gstreamer1.0-plugins-base gstreamer1.0-plugins-good "
            "gstreamer1.0-plugins-ugly (scripts/services/install-system.sh).\n" % exc)
        sys.exit(3)
    Gst.init(None)
    missing = [e for e in ("videotestsrc", "appsink", "appsrc", "x264enc", "rtph264pay")
               if Gst.ElementFactory.find(e) is None]
    if missing:
        sys.stderr.write(
            "MISSING: GStreamer elements %s (install gstreamer1.0-plugins-base, "
            "gstreamer1.0-plugins-good, gstreamer1.0-plugins-ugly).\n" % ", ".join(missing))
        sys.exit(3)
    return GLib, Gst, GstRtspServer


GLib, Gst, GstRtspServer = _import_gst()


class Camera:
    """One simulated camera.

    The picture comes from a *source pipeline* of its own (videotestsrc ! appsink), which
    starts with the first client and then runs until exit, like a real sensor. Each RTSP
    media (one per mount, shared by all its clients) is ``appsrc ! x264enc !
    rtph264pay`` fed with those frames. So the picture never depends on who is
    connected: PLAY requests (which seek the media to npt=0) do not rewind it, and
    clients that open, grab a frame and close see successive frames.
    """

    def __init__(self, sim, n, width, height, fps, qp):
        self.sim = sim
        self.n = n
        self.path = "/cam%d" % n
        self.mode = "normal"
        self.pattern = NORMAL_PATTERNS[(n - 1) % len(NORMAL_PATTERNS)]
        self.medias = []
        self.appsrcs = []
        self.feeds = {}
        self.frozen = None
        self.samples = 0
        self.width, self.height = width, height
        self.plays = 0  # PLAY requests ever (the live restream tests count upstream connections)
        self.clients = set()  # RTSP clients that played this mount and are still connected
        self.started = False
        self.mounted = False
        self.lock = threading.Lock()
        caps = "video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1" % (width, height, fps)

        self.source = Gst.parse_launch(
            "videotestsrc name=src is-live=true "
            "! {caps} ! appsink name=sink emit-signals=true max-buffers=1 drop=true "
            "sync=false".format(caps=caps))
        self.src = self.source.get_by_name("src")
        self._apply_mode()
        self.source.get_by_name("sink").connect("new-sample", self._on_new_sample)

        launch = (
            '( appsrc name=feed is-live=true do-timestamp=true format=time caps="{caps}" '
            "max-buffers=1 leaky-type=downstream "
            "! x264enc name=enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} "
            "pass=quant quantizer={qp} threads=1 "
            "! rtph264pay name=pay0 pt=96 config-interval=-1 )"
        ).format(caps=caps, fps=fps, qp=qp)
        self.factory = GstRtspServer.RTSPMediaFactory()
        self.factory.set_launch(launch)
        self.factory.set_shared(True)
        self.factory.connect("media-configure", self._on_media_configure)

    def start(self):
        """Start the source on the first client (cameras never watched cost no CPU)."""
        with self.lock:
            if self.started:
                return
            self.started = True
        debug("%s source -> PLAYING", self.path)
        if self.source.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            raise RuntimeError("cannot start the source pipeline of %s" % self.path)

    def stop(self):
        self.source.set_state(Gst.State.NULL)

    # Runs in the source pipeline's streaming thread.
    def _on_new_sample(self, sink):
        sample = sink.emit("pull-sample")
        if sample is None:
            return Gst.FlowReturn.OK
        buf = sample.get_buffer()
        if self.sim.timestamp and self.mode == "normal":
            buf = self._stamped(buf)
        with self.lock:
            if self.mode == "freeze":
                if self.frozen is None:
                    self.frozen = buf
                buf = self.frozen
            else:
                self.frozen = buf  # the picture a freeze will keep showing
            appsrcs = list(self.appsrcs)
        self.samples += 1
        if DEBUG and self.samples % 10 == 1:
            debug("%s sample %d -> %d feeds (mode %s)", self.path, self.samples, len(appsrcs),
                  self.mode)
        for appsrc in appsrcs:
            out = buf.copy()  # shares the memory; appsrc stamps its own PTS
            out.pts = out.dts = out.duration = Gst.CLOCK_TIME_NONE
            appsrc.emit("push-buffer", out)
        return Gst.FlowReturn.OK

    def _stamped(self, buf):
        """The frame with the wall-clock time burned into its luma (``camsim.timestamp``)."""
        ok, info = buf.map(Gst.MapFlags.READ)
        if not ok:
            return buf
        try:
            data = bytearray(info.data)
        finally:
            buf.unmap(info)
        timestamp.encode_plane(data, self.width, self.height, time.time())
        return Gst.Buffer.new_wrapped(bytes(data))

    # All methods below run in the GLib main loop thread.
    def mount(self):
        if not self.mounted:
            self.sim.mounts.add_factory(self.path, self.factory)
            self.mounted = True

    def unmount(self):
        if self.mounted:
            self.sim.mounts.remove_factory(self.path)
            self.mounted = False
        medias, self.medias = self.medias, []
        for media in medias:
            # Kick the connected clients: drop their sessions, then the pipeline.
            self.sim.drop_sessions_of(media)
            media.unprepare()

    def _on_media_configure(self, factory, media):
        debug("%s media-configure %x", self.path, hash(media))
        self.start()
        self.medias.append(media)
        media.connect("unprepared", self._on_media_unprepared)
        feed = media.get_element().get_by_name("feed")
        if feed is not None:
            with self.lock:
                self.appsrcs.append(feed)
            self.feeds[media] = feed

    def _on_media_unprepared(self, media):
        debug("%s media unprepared %x", self.path, hash(media))
        if media in self.medias:
            self.medias.remove(media)
        feed = self.feeds.pop(media, None)
        with self.lock:
            if feed in self.appsrcs:
                self.appsrcs.remove(feed)
        # The source keeps running: pausing it when idle made ~10% of the next
        # connections hang (tested), and a running camera is what we simulate anyway.

    def _set_pattern(self, pattern, speed):
        name, props = pattern
        for prop in _ZONE_PLATE_PROPS:
            self.src.set_property(prop, props.get(prop, 0))
        Gst.util_set_object_arg(self.src, "pattern", name)
        self.src.set_property("horizontal-speed", speed)

    def _apply_mode(self):
        if self.mode == "dark":
            self._set_pattern(DARK_PATTERN, 0)
        elif self.mode == "blur":
            self._set_pattern(BLUR_PATTERN, 0)
        elif self.mode in ("normal", "offline"):
            self._set_pattern(self.pattern, SCROLL_SPEED)
        # freeze: the source keeps running; _on_new_sample re-sends the last frame.

    def set_mode(self, mode):
        with self.lock:
            previous, self.mode = self.mode, mode
        if mode == "offline":
            self.unmount()
        elif previous == "offline":
            self.mount()
        self._apply_mode()
        if previous != mode:
            # A fresh IDR shows the change at once, and for freeze it stops the P-frame
            # refinement of the last moving picture: what follows is bit-identical.
            self.force_key_frame()

    def force_key_frame(self):
        """Ask the encoders for an IDR so the change is visible at once."""
        for media in self.medias:
            enc = media.get_element().get_by_name("enc")
            if enc is None:
                continue
            structure = Gst.Structure.new_from_string(
                "GstForceKeyUnit, all-headers=(boolean)true")
            event = Gst.Event.new_custom(Gst.EventType.CUSTOM_UPSTREAM, structure)
            enc.get_static_pad("src").send_event(event)


class Simulator:
    def __init__(self, port, n, width, height, fps, bind, qp=26, stamp=False):
        self.timestamp = stamp
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address(bind)
        self.server.set_service(str(port))
        self.mounts = self.server.get_mount_points()
        self.cameras = {i: Camera(self, i, width, height, fps, qp) for i in range(1, n + 1)}
        for cam in self.cameras.values():
            cam.mount()
        self.server.connect("client-connected", self._on_client_connected)
        self.source_id = self.server.attach(None)
        if not self.source_id:
            raise OSError("cannot listen on %s:%s for RTSP" % (bind, port))
        self.port = self.server.get_bound_port()

    def _on_client_connected(self, server, client):
        # A client joining a shared, already-playing media waits for the next key
        # frame (up to 1 s): ask for one as soon as it plays.
        client.connect("play-request", self._on_play_request)
        client.connect("closed", self._on_client_closed)

    def _on_client_closed(self, client):
        for cam in self.cameras.values():
            cam.clients.discard(client)

    def _on_play_request(self, client, ctx):
        try:
            path = ctx.uri.abspath
        except AttributeError:
            return
        for cam in self.cameras.values():
            if path == cam.path or path.startswith(cam.path + "/"):
                if client not in cam.clients:
                    cam.plays += 1
                    cam.clients.add(client)
                # Let the PLAY response go out first.
                GLib.timeout_add(50, lambda c=cam: (c.force_key_frame(), False)[1])
                break

    def drop_sessions_of(self, media):
        """Disconnect every client that has a session on ``media``."""
        ref = GstRtspServer.RTSPFilterResult.REF
        keep = GstRtspServer.RTSPFilterResult.KEEP
        remove = GstRtspServer.RTSPFilterResult.REMOVE

        def media_filter(session, smedia, *_):
            return ref if smedia.get_media() == media else keep

        def session_filter(client, session, *_):
            return ref if session.filter(media_filter, None) else keep

        def client_filter(server, client, *_):
            return remove if client.session_filter(session_filter, None) else keep

        self.server.client_filter(client_filter, None)

    def call_in_loop(self, func, timeout=5.0):
        """Run func() in the GLib main loop and wait for it; re-raise its error."""
        done = threading.Event()
        box = {}

        def run():
            try:
                box["result"] = func()
            except Exception as exc:  # noqa: BLE001 - handed back to the caller
                box["error"] = exc
            done.set()
            return False

        GLib.idle_add(run)
        if not done.wait(timeout):
            raise TimeoutError("main loop did not run the request in time")
        if "error" in box:
            raise box["error"]
        return box.get("result")


def make_control_handler(sim):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _reply(self, code, body, ctype="text/plain; charset=utf-8"):
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            parts = [p for p in self.path.split("?", 1)[0].split("/") if p]
            if parts in (["health"], []):
                return self._reply(200, "ok\n")
            if parts == ["status"]:
                return self._reply(200, json.dumps(
                    {str(n): c.mode for n, c in sim.cameras.items()}) + "\n",
                    "application/json")
            if len(parts) == 3 and parts[0] == "cam" and parts[2] == "clients":
                cam = sim.cameras.get(int(parts[1].removeprefix("cam"))) if parts[1].removeprefix(
                    "cam").isdigit() else None
                if cam is None:
                    return self._reply(404, "no such camera: %s\n" % parts[1])
                return self._reply(200, json.dumps({"connected": len(cam.clients), "plays": cam.plays})
                                   + "\n", "application/json")
            if len(parts) in (3, 4) and parts[0] == "cam" and parts[2] == "mode":
                try:
                    cam = sim.cameras[int(parts[1].removeprefix("cam"))]
                except (KeyError, ValueError):
                    return self._reply(404, "no such camera: %s\n" % parts[1])
                if len(parts) == 3:
                    return self._reply(200, cam.mode + "\n")
                mode = parts[3]
                if mode not in MODES:
                    return self._reply(400, "unknown mode %r; one of %s\n"
                                       % (mode, ", ".join(MODES)))
                try:
                    sim.call_in_loop(lambda: cam.set_mode(mode))
                except Exception as exc:  # noqa: BLE001
                    return self._reply(500, "error: %s\n" % exc)
                return self._reply(200, "ok\n")
            return self._reply(404, "not found\n")

        do_POST = do_GET

    return Handler


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=8554, help="RTSP port (0: any free port)")
    ap.add_argument("-n", "--cams", type=int, default=4, help="number of mounts /cam1../camN")
    ap.add_argument("--control-port", type=int, default=None,
                    help="HTTP control port (default: RTSP port + 1, or any if --port 0)")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--hd", action="store_true", help="1280x720 at 15 fps")
    ap.add_argument("--timestamp", action="store_true",
                    help="burn the wall-clock time into each normal-mode frame (camsim.timestamp)")
    ap.add_argument("--quantizer", type=int, default=26,
                    help="x264 constant QP (constant QP makes frozen frames bit-identical)")
    ap.add_argument("--exit-with-parent", action="store_true",
                    help="exit when stdin reaches EOF (the parent holds a pipe; used by "
                         "camsim.control so that a crashed test leaves no server behind)")
    ap.add_argument("--replay-speed", type=float, default=0,
                    help="recorder playback pace: 0 = as fast as it encodes, N = N x real time")
    ap.add_argument("positional", nargs="*", type=int,
                    help="optional: PORT [N] (same as --port/--cams)")
    args = ap.parse_args(argv)
    if args.positional:
        args.port = args.positional[0]
        if len(args.positional) > 1:
            args.cams = args.positional[1]
    if args.hd:
        args.width, args.height, args.fps = 1280, 720, 15
    if args.cams < 1:
        ap.error("--cams must be >= 1")

    try:
        sim = Simulator(args.port, args.cams, args.width, args.height, args.fps, args.bind,
                        args.quantizer, args.timestamp)
    except OSError as exc:
        sys.stderr.write("ERROR: %s (port in use?)\n" % exc)
        return 2
    # Recorder mode: playback of any time range per channel (camsim/nvr.py).
    nvr.install(sim.server, sim.mounts, args.cams, args.width, args.height, args.fps, args.quantizer,
                args.replay_speed, Gst, GstRtspServer, debug)
    control_port = args.control_port
    if control_port is None:
        control_port = sim.port + 1 if args.port else 0
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    try:
        control = ThreadingHTTPServer((args.bind, control_port), make_control_handler(sim))
    except OSError as exc:
        sys.stderr.write("cannot listen on %s:%s (control): %s\n"
                         % (args.bind, control_port, exc))
        return 2
    threading.Thread(target=control.serve_forever, name="control", daemon=True).start()

    loop = GLib.MainLoop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, lambda *a: (loop.quit(), False)[1])

    if args.exit_with_parent:
        def watch_stdin():
            try:
                while sys.stdin.buffer.read(4096):
                    pass
            except OSError:
                pass
            GLib.idle_add(lambda: (loop.quit(), False)[1])

        threading.Thread(target=watch_stdin, name="parent-watch", daemon=True).start()

    print("READY port=%d control=%d cams=%d size=%dx%d fps=%d"
          % (sim.port, control.server_address[1], args.cams, args.width, args.height,
             args.fps), flush=True)
    try:
        loop.run()
    finally:
        control.shutdown()
        control.server_close()
        sys.stdout.flush()
        sys.stderr.flush()
    # Live GStreamer pipelines can make interpreter shutdown hang; nothing is left to
    # save, so leave at once.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
