"""Restream: one upstream connection per camera, shared by every viewer of this process.

The first viewer of a camera starts an ``ffmpeg`` process that reads the camera through the
connector's RTSP relay (the checked, pinned address; no redirect followed) and remuxes its H.264,
without transcoding, to fragmented MP4 on a pipe (``-c copy -movflags
frag_every_frame+empty_moov+default_base_moof``: one fragment per frame, so a frame leaves as soon
as it arrives; fragments cut at keyframes only hold a whole GOP back, a second of latency at the
cameras' usual one keyframe a second). A reader thread splits the pipe into top-level boxes: the
init segment (ftyp+moov) and fragments (moof+mdat), and hands each fragment to every viewer's
bounded queue. A viewer joins with the init segment and the fragments since the newest keyframe
(the player seeks to the live edge), so the first picture does not wait for the next keyframe.
A viewer whose queue fills (a slow link) skips to the next keyframe instead of growing a buffer.

The last viewer leaving starts a grace period (``LIVE_IDLE_SECONDS``, 10 s); then the process
stops. An upstream that drops (ffmpeg exits, or sends nothing for ``STALL_SECONDS``) ends every
viewer's response (the page shows "Reconnecting" and asks again) and is reconnected with backoff
while viewers remain. H.265 is recognised in the init segment (``hvcC``): browsers here do not
play it, so the restream stops and viewers are told (the page falls back to snapshots).

The newest keyframe (init segment + its fragment) is kept, and published through the
coordination store at most every ``LIVE_FRAME_SECONDS``, so the capture worker can take a
scheduled snapshot from the running stream instead of opening the camera again (``frames``).
"""
from __future__ import annotations

import logging
import queue
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field

log = logging.getLogger("camnet.video.restream")

FFMPEG = "ffmpeg"
MOVFLAGS = "frag_every_frame+empty_moov+default_base_moof"
STALL_SECONDS = 10.0
QUEUE_FRAGMENTS = 150  # about 15 s at 10 fps: beyond it the viewer skips to the next keyframe
GOP_MAX_BYTES = 8 * 1024 * 1024  # the newest GOP kept for joiners; longer GOPs are not cached
END = object()


# ---- MP4 boxes ----------------------------------------------------------------------------------

def boxes(data: bytes, start: int = 0, end: int | None = None):
    """(type, payload start, box end) of the boxes in ``data[start:end]``."""
    end = len(data) if end is None else end
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        head = 8
        if size == 1 and i + 16 <= end:
            size, head = struct.unpack(">Q", data[i + 8:i + 16])[0], 16
        elif size == 0:
            size = end - i
        if size < head or i + size > end:
            return
        yield kind, i + head, i + size
        i += size


def find(data: bytes, path: list[bytes], start: int = 0, end: int | None = None):
    """The payload span of the first box at ``path`` (container boxes only), or None."""
    for kind, body, stop in boxes(data, start, end):
        if kind == path[0]:
            if len(path) == 1:
                return body, stop
            found = find(data, path[1:], body + (8 if path[0] == b"stsd" else 0), stop)
            if found:
                return found
    return None


def codec_of(init: bytes) -> str | None:
    """The MSE codec string of an init segment's video track ("avc1.64001f"), "hevc" for H.265,
    None when it is neither."""
    stsd = find(init, [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"])
    if stsd is None:
        return None
    body, stop = stsd
    for kind, entry, entry_end in boxes(init, body + 8, stop):
        if kind in (b"hvc1", b"hev1"):
            return "hevc"
        if kind in (b"avc1", b"avc3"):
            avcc = find(init, [b"avcC"], entry + 78, entry_end)
            if avcc is None:
                return "avc1.42e01e"
            p = init[avcc[0]:avcc[0] + 4]
            return "avc1.%02x%02x%02x" % (p[1], p[2], p[3])
    return None


def is_keyframe(fragment: bytes) -> bool:
    """Whether a moof+mdat fragment starts with a sync sample (trun first-sample flags, or the
    sample's own flags, or tfhd's default)."""
    traf = find(fragment, [b"moof", b"traf"])
    if traf is None:
        return False
    default = None
    tfhd = find(fragment, [b"tfhd"], *traf)
    if tfhd is not None:
        flags = int.from_bytes(fragment[tfhd[0] + 1:tfhd[0] + 4], "big")
        off = tfhd[0] + 8
        for bit, size in ((0x1, 8), (0x2, 4), (0x8, 4), (0x10, 4)):
            if flags & bit:
                off += size
        if flags & 0x20:
            default = int.from_bytes(fragment[off:off + 4], "big")
    trun = find(fragment, [b"trun"], *traf)
    if trun is None:
        return False
    flags = int.from_bytes(fragment[trun[0] + 1:trun[0] + 4], "big")
    off = trun[0] + 8  # version+flags, sample count
    if flags & 0x1:
        off += 4
    if flags & 0x4:
        sample = int.from_bytes(fragment[off:off + 4], "big")
    elif flags & 0x400:
        off += (4 if flags & 0x100 else 0) + (4 if flags & 0x200 else 0)
        sample = int.from_bytes(fragment[off:off + 4], "big")
    elif default is not None:
        sample = default
    else:
        return False
    return not (sample & 0x00010000)


# ---- one camera -------------------------------------------------------------------------------

@dataclass(eq=False)
class Viewer:
    queue: queue.Queue = field(default_factory=lambda: queue.Queue(QUEUE_FRAGMENTS))
    skipping: bool = False


class Restream:
    """One camera's upstream (an ffmpeg process behind the connector's relay) and its viewers.

    ``open_source()`` returns ``(url, closer)``: the relayed URL ffmpeg reads and a function that
    closes the relay; it is called again for every reconnection."""

    def __init__(self, hub: "Hub", key, open_source, publish=None):
        self.hub, self.key, self.open_source, self.publish = hub, key, open_source, publish
        self.viewers: set[Viewer] = set()
        self.pending = 1  # viewers waiting for the init segment (the first one is the creator)
        self.lock = threading.Lock()
        self.ready = threading.Event()  # the init segment (or a verdict) is known
        self.init: bytes | None = None
        self.codec: str | None = None
        self.state = "connecting"  # connecting | live | reconnecting | h265 | failed | stopped
        self.gop: list[bytes] = []
        self.gop_bytes = 0
        self.keyframe: tuple[float, bytes] | None = None  # (wall time, init + keyframe fragment)
        self.published = 0.0
        self.idle_since: float | None = None
        self.connections = 0  # upstream connections made (1 while it never dropped)
        self.fragments = 0
        self.proc: subprocess.Popen | None = None
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name=f"restream-{key}", daemon=True)
        self.thread.start()

    # -- viewers ------------------------------------------------------------------------------
    def join(self) -> tuple[Viewer, list[bytes]]:
        """A new viewer and what it starts with: the init segment and the current GOP (taken under
        the lock that also orders each fragment's broadcast: nothing twice, nothing missed)."""
        viewer = Viewer()
        with self.lock:
            self.viewers.add(viewer)
            self.pending = max(0, self.pending - 1)
            self.idle_since = None
            start = [self.init, *self.gop] if self.init else []
        return viewer, start

    def leave_pending(self) -> None:
        with self.lock:
            self.pending = max(0, self.pending - 1)
            if not self.viewers and not self.pending:
                self.idle_since = time.monotonic()

    def leave(self, viewer: Viewer) -> None:
        with self.lock:
            self.viewers.discard(viewer)
            if not self.viewers and not self.pending:
                self.idle_since = time.monotonic()

    @staticmethod
    def _broadcast(viewers, item, key: bool) -> None:
        for viewer in viewers:
            if viewer.skipping:
                if not key:
                    continue
                viewer.skipping = False
            try:
                viewer.queue.put_nowait(item)
            except queue.Full:  # a slow viewer: drop what it has queued, resume at a keyframe
                viewer.skipping = True
                _drain(viewer.queue)

    def _end_viewers(self) -> None:
        with self.lock:
            viewers = list(self.viewers)
        for viewer in viewers:
            _drain(viewer.queue)
            try:
                viewer.queue.put_nowait(END)
            except queue.Full:
                pass

    # -- the upstream -------------------------------------------------------------------------
    def _idle_expired(self) -> bool:
        with self.lock:
            return self.idle_since is not None and time.monotonic() - self.idle_since > self.hub.idle_seconds

    def _run(self) -> None:
        backoff = 1.0
        try:
            while not self.stopping and not self._idle_expired():
                started = time.monotonic()
                self._connect_once()
                if self.stopping or self.state in ("h265",):
                    break
                self._end_viewers()
                if time.monotonic() - started > 30:
                    backoff = 1.0
                self.state = "reconnecting"
                until = time.monotonic() + backoff
                while time.monotonic() < until and not self.stopping and not self._idle_expired():
                    time.sleep(0.2)
                backoff = min(backoff * 2, 10.0)
        finally:
            if self.state != "h265":
                self.state = "stopped"
            self.ready.set()
            self._end_viewers()
            self.hub.forget(self)

    def _connect_once(self) -> None:
        with self.lock:
            self.init = None
            self.ready.clear()
        if self.connections:
            self.state = "reconnecting"
        try:
            url, closer = self.open_source()
        except Exception as exc:  # noqa: BLE001 - refused by the connector: a fixed label, logged
            log.info("restream %s: source refused: %s", self.key, exc)
            self.state = "failed"
            self.ready.set()
            return
        self.connections += 1
        cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-rtsp_transport", "tcp",
               "-timeout", str(int(STALL_SECONDS * 1_000_000)), "-fflags", "nobuffer",
               "-analyzeduration", "0", "-probesize", "32768", "-i", url,
               "-map", "0:v:0", "-c", "copy", "-f", "mp4", "-movflags", MOVFLAGS, "-flush_packets", "1",
               "pipe:1"]
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, close_fds=True)
        except OSError as exc:
            log.warning("restream %s: ffmpeg did not start: %s", self.key, exc)
            closer()
            self.state = "failed"
            self.ready.set()
            return
        watchdog = threading.Thread(target=self._watch, args=(self.proc,), daemon=True)
        self.last_data = time.monotonic()
        watchdog.start()
        try:
            self._read(self.proc.stdout)
        finally:
            self._kill()
            closer()
            with self.lock:
                self.gop, self.gop_bytes = [], 0

    def _watch(self, proc) -> None:
        """Kill a stalled upstream (no bytes for STALL_SECONDS) or one nobody watches any more."""
        while proc.poll() is None:
            time.sleep(0.5)
            if self.stopping or self._idle_expired() or time.monotonic() - self.last_data > STALL_SECONDS:
                _kill(proc)
                return

    def _kill(self) -> None:
        if self.proc is not None:
            _kill(self.proc)

    def _read(self, pipe) -> None:
        buf = bytearray()
        pending = b""  # a moof waiting for its mdat
        head = bytearray()
        while True:
            data = pipe.read1(262144) if hasattr(pipe, "read1") else pipe.read(65536)
            if not data:
                return
            self.last_data = time.monotonic()
            buf += data
            while len(buf) >= 8:
                size, kind = struct.unpack(">I4s", buf[:8])
                if size < 8 or len(buf) < size:
                    break
                box = bytes(buf[:size])
                del buf[:size]
                if kind in (b"ftyp", b"moov"):
                    head += box
                    if kind == b"moov":
                        self._on_init(bytes(head))
                        head = bytearray()
                        if self.state == "h265":
                            return
                elif kind == b"moof":
                    pending = box
                elif kind == b"mdat" and pending:
                    self._on_fragment(pending + box)
                    pending = b""

    def _on_init(self, init: bytes) -> None:
        codec = codec_of(init)
        with self.lock:
            self.init, self.codec = init, codec
        if codec == "hevc":
            self.state = "h265"
            self.hub.mark_h265(self.key)
        else:
            self.state = "live"
        self.ready.set()

    def _on_fragment(self, fragment: bytes) -> None:
        key = is_keyframe(fragment)
        self.fragments += 1
        with self.lock:
            if key:
                self.gop, self.gop_bytes = [fragment], len(fragment)
            elif self.gop and self.gop_bytes + len(fragment) <= GOP_MAX_BYTES:
                self.gop.append(fragment)
                self.gop_bytes += len(fragment)
            else:
                self.gop, self.gop_bytes = [], 0
            viewers = list(self.viewers)
        if key:
            now = time.time()
            self.keyframe = (now, self.init + fragment)
            if self.publish is not None and now - self.published >= self.hub.frame_seconds:
                self.published = now
                try:
                    self.publish(self.key, now, self.keyframe[1])
                except Exception:  # noqa: BLE001 - the store away: the worker opens the camera itself
                    log.debug("restream %s: keyframe not published", self.key, exc_info=True)
        self._broadcast(viewers, fragment, key)

    def stop(self) -> None:
        self.stopping = True
        self._kill()


def _kill(proc) -> None:
    if proc.poll() is None:
        try:
            proc.kill()
        except OSError:
            pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass


def _drain(q: queue.Queue) -> None:
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return


# ---- every camera of this process ---------------------------------------------------------------

class Hub:
    """The restreams of this process, by key ``(camera id, profile)``."""

    def __init__(self, idle_seconds: float = 10.0, frame_seconds: float = 5.0, publish=None):
        self.idle_seconds, self.frame_seconds, self.publish = idle_seconds, frame_seconds, publish
        self.streams: dict = {}
        self.h265: dict = {}  # key -> monotonic time it was seen
        self.lock = threading.Lock()

    def join(self, key, open_source, timeout: float = 10.0):
        """Join (starting if needed) the restream of ``key``: ``(stream, viewer, start)`` once its
        init segment is known, or ``(stream, None, [])`` when it is not live (H.265, failed, no
        init segment within ``timeout``). The caller ``leave``s the viewer when done."""
        with self.lock:
            stream = self.streams.get(key)
            if stream is None or stream.stopping or stream.state == "stopped":
                stream = self.streams[key] = Restream(self, key, open_source, self.publish)
            else:
                with stream.lock:
                    stream.pending += 1
                    stream.idle_since = None
        stream.ready.wait(timeout)
        if stream.state != "live" or stream.init is None:
            stream.leave_pending()
            return stream, None, []
        viewer, start = stream.join()
        return stream, viewer, start

    def forget(self, stream: Restream) -> None:
        with self.lock:
            if self.streams.get(stream.key) is stream:
                del self.streams[stream.key]

    def mark_h265(self, key) -> None:
        self.h265[key] = time.monotonic()

    def is_h265(self, camera_id: int) -> bool:
        return any(k[0] == camera_id and time.monotonic() - t < 3600 for k, t in list(self.h265.items()))

    def live_keyframe(self, camera_id: int, max_age: float) -> bytes | None:
        """init + keyframe fragment of a camera restreamed here, if newer than ``max_age`` seconds."""
        for key, stream in list(self.streams.items()):
            if key[0] == camera_id and stream.keyframe and time.time() - stream.keyframe[0] <= max_age:
                return stream.keyframe[1]
        return None

    def stop_all(self) -> None:
        with self.lock:
            streams = list(self.streams.values())
        for stream in streams:
            stream.stop()
