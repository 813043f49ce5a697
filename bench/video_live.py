"""Live-view phase of ``bench/video.py``: the restream hub (``camnet.video.restream``) against the RTSP
simulator with the wall-clock time burned into each frame (``camsim.timestamp``).

* glass-to-glass latency: a headless client joins the restream, feeds what it receives to an ffmpeg
  decoder (``-f mp4 -i pipe:0``, one thread, low delay) and reads each decoded frame's burned-in
  time against the clock; p50 / p95 over every frame of the run.
* time to first frame: a cold join (no restream running) until the first decoded frame.
* CPU per restreamed camera and per viewer: C cameras restreamed through the connector's relay,
  V viewers each (draining their queues), against bare ``ffmpeg -i rtsp://... -c copy -f mp4`` of the
  same C streams; CPU of the ffmpeg processes (``/proc``) plus this process's (reader, relay and
  viewer threads). The HTTP write of each viewer is not in it (that is the web server's).
* viewers on 20 cameras per core: viewers ÷ CPU cores used by the restream of 20 cameras.
"""
from __future__ import annotations

import os
import queue
import statistics
import subprocess
import threading
import time

import numpy as np

TICK = os.sysconf("SC_CLK_TCK")
W, H = 640, 360


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            parts = fh.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / TICK
    except OSError:
        return 0.0


def _children_of_ffmpeg(hub) -> list:
    return [s.proc for s in list(hub.streams.values()) if s.proc is not None]


def _opener(url: str, port: int):
    from camnet.capture import connector

    target = connector.plan(url, {"CAMERA_ALLOWED_NETWORKS": [f"127.0.0.1:{port}"], "ENV_NAME": "bench"})

    def open_source():
        relay = connector.RtspRelay(target, timeout=10.0)
        return relay.url(None, None), relay.close
    return open_source


class Decoder:
    """A viewer that decodes: fMP4 in, grey frames out, the burned-in time read from each."""

    def __init__(self):
        self.proc = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-threads", "1", "-flags", "low_delay",
             "-fflags", "nobuffer", "-probesize", "32768", "-analyzeduration", "0", "-f", "mp4", "-i", "pipe:0",
             "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        self.lags: list[float] = []
        self.first: float | None = None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def feed(self, data: bytes) -> None:
        try:
            self.proc.stdin.write(data)
        except (BrokenPipeError, ValueError):
            pass

    def _read(self) -> None:
        from camsim.timestamp import decode

        size = W * H
        while True:
            buf = bytearray()
            while len(buf) < size:
                chunk = self.proc.stdout.read(size - len(buf))
                if not chunk:
                    return
                buf += chunk
            now = time.time()
            if self.first is None:
                self.first = time.monotonic()
            stamp = decode(np.frombuffer(bytes(buf), np.uint8).reshape(H, W))
            if stamp is not None:
                self.lags.append(now - stamp)

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.kill()
        self.proc.wait()


def _watch(hub, key, opener, seconds: float, decoder: Decoder | None) -> int:
    """Join, consume for ``seconds`` (decoding when given a decoder), leave; fragments received."""
    stream, viewer, start = hub.join(key, opener, timeout=15)
    if viewer is None:
        raise RuntimeError(f"restream {key} did not start: {stream.state}")
    got = 0
    for chunk in start:
        if decoder:
            decoder.feed(chunk)
    until = time.monotonic() + seconds
    try:
        while time.monotonic() < until:
            try:
                item = viewer.queue.get(timeout=0.5)
            except queue.Empty:
                continue
            got += 1
            if decoder:
                decoder.feed(item)
    finally:
        stream.leave(viewer)
    return got


def _bare_cpu(sim, cams: int, seconds: float) -> float:
    procs = [subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp",
                               "-i", sim.url(n), "-map", "0:v:0", "-c", "copy", "-f", "mp4", "-movflags",
                               "frag_every_frame+empty_moov+default_base_moof", "-flush_packets", "1", "pipe:1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for n in range(1, cams + 1)]
    time.sleep(3)  # past the start (probe, first keyframe)
    before = sum(_proc_cpu(p.pid) for p in procs)
    time.sleep(seconds)
    used = sum(_proc_cpu(p.pid) for p in procs) - before
    for p in procs:
        p.kill()
        p.wait()
    return used / seconds


def _restream_cpu(hub, openers, cams: int, viewers: int, seconds: float) -> float:
    """Cores used (this process + its ffmpeg children) restreaming ``cams`` with ``viewers`` each."""
    threads = []
    for n in range(1, cams + 1):
        for _ in range(viewers):
            t = threading.Thread(target=_watch, args=(hub, (n, "main"), openers[n], seconds + 4, None), daemon=True)
            t.start()
            threads.append(t)
    time.sleep(3)
    own0 = time.process_time()
    ff0 = sum(_proc_cpu(p.pid) for p in _children_of_ffmpeg(hub))
    time.sleep(seconds)
    own = time.process_time() - own0
    ffmpeg_cpu = sum(_proc_cpu(p.pid) for p in _children_of_ffmpeg(hub)) - ff0
    for t in threads:
        t.join()
    hub.stop_all()
    time.sleep(1)
    return (own + ffmpeg_cpu) / seconds


def run(args) -> list[tuple[str, float, float | None, float | None]]:
    from camsim.control import start_rtsp_sim
    from camnet.video.restream import Hub

    cams = getattr(args, "cameras", 20)
    viewers = getattr(args, "viewers", 5)
    seconds = getattr(args, "seconds", 20)
    sim = start_rtsp_sim(port=0, n=cams, timestamp=True)
    results = []
    try:
        for n in range(1, cams + 1):  # start every simulated camera's source (a real camera runs anyway)
            try:
                subprocess.run(["ffprobe", "-v", "quiet", "-rtsp_transport", "tcp", sim.url(n)], timeout=10)
            except subprocess.TimeoutExpired:
                pass  # the simulator sometimes keeps a first client waiting; the source runs anyway
        hub = Hub(idle_seconds=2, frame_seconds=5)
        openers = {n: _opener(sim.url(n), sim.port) for n in range(1, cams + 1)}

        # latency and time to first frame: cold joins (no restream running), one decoding viewer;
        # then a warm join (a restream running: it starts with the newest GOP)
        ttff_bytes, ttff_decoded, lags = [], [], []
        for trial in range(3):
            n = 1 + trial % cams
            t0 = time.monotonic()
            stream, viewer, start = hub.join((n, "main"), openers[n], timeout=15)
            if len(start) < 2:
                viewer.queue.get(timeout=15)
            ttff_bytes.append(time.monotonic() - t0)
            stream.leave(viewer)
            hub.stop_all()
            time.sleep(0.5)
            decoder = Decoder()
            t0 = time.monotonic()
            _watch(hub, (n, "main"), openers[n], seconds / 2, decoder)
            decoder.close()
            if decoder.first is not None:
                ttff_decoded.append(decoder.first - t0)
            lags += decoder.lags
            hub.stop_all()
            time.sleep(0.5)
        warm = []
        stream, keep, _ = hub.join((1, "main"), openers[1], timeout=15)
        time.sleep(2)
        for _ in range(5):
            t0 = time.monotonic()
            s2, viewer, start = hub.join((1, "main"), openers[1], timeout=15)
            if len(start) < 2:
                viewer.queue.get(timeout=15)
            warm.append(time.monotonic() - t0)
            s2.leave(viewer)
        stream.leave(keep)
        hub.stop_all()
        lags.sort()
        p50 = statistics.median(lags) if lags else float("nan")
        p95 = lags[int(0.95 * (len(lags) - 1))] if lags else float("nan")
        cold = statistics.median(ttff_bytes)
        results += [("live glass-to-glass p50 (s)", p50, 0.8, p50 / 0.8),
                    ("live glass-to-glass p95 (s)", p95, 1.5, p95 / 1.5),
                    ("live frames measured", float(len(lags)), None, None),
                    ("live first keyframe to a viewer, cold start (s, median)", cold, 1.5, cold / 1.5),
                    ("live first keyframe to a viewer, restream running (s, max)", max(warm), 1.5, max(warm) / 1.5),
                    ("live first decoded frame, cold, headless ffmpeg client (s, median)",
                     statistics.median(ttff_decoded) if ttff_decoded else float("nan"), None, None)]

        # CPU: cameras restreamed with 1 viewer, then `viewers` each; against bare `ffmpeg -c copy`
        # of the same streams (what each viewer would cost opening the camera itself)
        bare = _bare_cpu(sim, cams, seconds)
        one = _restream_cpu(hub, openers, cams, 1, seconds)
        many = _restream_cpu(hub, openers, cams, viewers, seconds)
        per_viewer = max(0.0, many - one) / (cams * max(1, viewers - 1))
        nviewers = cams * viewers
        results += [
            ("bare ffmpeg -c copy per camera (% of a core)", 100 * bare / cams, None, None),
            ("live restream per camera, 1 viewer (% of a core)", 100 * one / cams, None, None),
            ("live restream per camera vs bare ffmpeg (x)", one / bare, 1.2, one / bare / 1.2),
            ("live each further viewer (% of a core)", 100 * per_viewer, None, None),
            ("live per viewer vs a bare ffmpeg per viewer (x)", per_viewer / (bare / cams), 1.2,
             per_viewer / (bare / cams) / 1.2),
            (f"live viewers per core on {cams} cameras ({viewers} each)", nviewers / many, 100,
             100 / (nviewers / many)),
        ]
    finally:
        sim.stop()
    return results


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--cameras", type=int, default=20)
    ap.add_argument("--viewers", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=20)
    for row in run(ap.parse_args()):
        print(row)
