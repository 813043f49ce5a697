"""Hostile cameras for the SSRF tests: one that redirects, and a listener that records who came.

* ``Listener`` - a TCP port standing for an address a camera must never reach (a database, a
  metadata service): it records every connection and the head of what was sent, then answers
  like a willing server (HTTP 200 with a small JPEG, or RTSP 200) so that a client that was
  redirected there would carry on.
* ``HostileCamera`` - answers every HTTP request with ``302 Location: <to>`` (``mode="redirect"``)
  or ``500`` with a body of internal-looking text (``mode="error"``), and every RTSP request with
  ``RTSP/1.0 302`` and the same ``Location``. It records the requests it got, too.

Both are threaded servers on 127.0.0.1 with an ephemeral port; ``start()``/``stop()``.
"""
from __future__ import annotations

import socket
import socketserver
import threading

ERROR_TEXT = b"internal error: backend 10.0.0.5:6379 refused (redis AUTH failed)\n"
_JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffc0000b080001000101011100ffd9")


class _Recorder(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler, host: str = "127.0.0.1", port: int = 0):
        self.requests: list[bytes] = []
        self.lock = threading.Lock()
        super().__init__((host, port), handler)

    def record(self, head: bytes) -> None:
        with self.lock:
            self.requests.append(head)


class _Base:
    server: _Recorder

    def start(self) -> int:
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def requests(self) -> list[bytes]:
        with self.server.lock:
            return list(self.server.requests)

    def headers(self, name: str) -> list[str]:
        """Every value of header ``name`` in the recorded requests."""
        found = []
        for head in self.requests:
            for line in head.split(b"\r\n")[1:]:
                key, _, value = line.partition(b":")
                if key.strip().lower() == name.lower().encode():
                    found.append(value.strip().decode(errors="replace"))
        return found


def _read_head(sock) -> bytes:
    sock.settimeout(5)
    data = b""
    try:
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    return data


def _cseq(head: bytes) -> bytes:
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"cseq:"):
            return line.split(b":", 1)[1].strip()
    return b"1"


class _ListenerHandler(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            head = _read_head(self.request)
            self.server.record(head)
            if not head:
                return
            try:
                if b"RTSP/1.0" in head.split(b"\r\n", 1)[0]:
                    self.request.sendall(b"RTSP/1.0 200 OK\r\nCSeq: " + _cseq(head) + b"\r\n\r\n")
                    continue
                self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                     + str(len(_JPEG)).encode() + b"\r\nConnection: close\r\n\r\n" + _JPEG)
            except OSError:
                pass
            return


class Listener(_Base):
    """An address that must never be reached: records who connected and what they sent."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.server = _Recorder(_ListenerHandler, host, port)

    @property
    def contacted(self) -> bool:
        return bool(self.requests)


class _HostileHandler(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            head = _read_head(self.request)
            if not head:
                return
            self.server.record(head)
            cam: HostileCamera = self.server.camera
            first = head.split(b"\r\n", 1)[0]
            try:
                if first.endswith(b"RTSP/1.0"):
                    location = cam.rtsp_to.encode()
                    self.request.sendall(b"RTSP/1.0 302 Moved Temporarily\r\nCSeq: " + _cseq(head)
                                         + b"\r\nLocation: " + location + b"\r\n\r\n")
                    continue
                if cam.mode == "error":
                    self.request.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
                                         b"Content-Length: " + str(len(ERROR_TEXT)).encode()
                                         + b"\r\n\r\n" + ERROR_TEXT)
                    continue
                self.request.sendall(b"HTTP/1.1 302 Found\r\nLocation: " + cam.http_to.encode()
                                     + b"\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                return


class HostileCamera(_Base):
    """A camera inside the allowed networks that answers with a redirect (or with error text)."""

    def __init__(self, http_to: str = "", rtsp_to: str = "", mode: str = "redirect"):
        self.http_to, self.rtsp_to, self.mode = http_to, rtsp_to, mode
        self.server = _Recorder(_HostileHandler)
        self.server.camera = self

    def url(self, path: str = "/snapshot.jpg", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"


def closed_port() -> int:
    """A loopback port nothing listens on (for "could not connect")."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
