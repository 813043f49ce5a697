"""The one way to open a camera: parse its URL once, resolve once, check, connect to that address.

Every path that reaches a camera (snapshot, MJPEG frame, RTSP frame, clip, live view) starts with
``plan(url)``: the ``Plan`` pins the checked address. HTTP goes to that address with the name in
``Host:`` (and in SNI for https), and a 3xx answer is a failure, never followed. RTSP (OpenCV and
ffmpeg both follow an RTSP 3xx to any address, with the camera's credentials) goes through an
``RtspRelay``: a loopback port in front of the checked address that drops the session on a 3xx
answer or a transport other than interleaved TCP. ffmpeg reading HTTP gets the pinned URL and
``-max_redirects 0``.

Failures become a ``CameraError`` with one of a few fixed codes (``LABELS``); what the camera or the
library said goes to the server log only, never to a row or an API answer (it let callers probe
ports and addresses).
"""
from __future__ import annotations

import base64
import contextlib
import logging
import re
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import quote

import urllib3
from flask import current_app

from ..streams import urls
from .frame import GrabError

log = logging.getLogger("camnet.connector")

LABELS = {
    "not_allowed": "địa chỉ không được phép / address not allowed",
    "connect": "không kết nối được / could not connect",
    "timeout": "hết thời gian / timed out",
    "redirect": "chuyển hướng bị từ chối / redirect refused",
    "http_error": "camera trả lời lỗi / camera answered with an error",
    "transport": "camera không dùng RTSP qua TCP / the camera did not keep to RTSP over TCP",
    "no_picture": "camera không gửi hình / the camera sent no picture",
    "no_source": "không có nguồn phát (RTSP hoặc MJPEG) để ghi / no stream source (RTSP or MJPEG) to record from",
    "failed": "không dùng được camera / the camera could not be used",
}


class CameraError(GrabError):
    """A camera could not be used; ``code`` is one of ``LABELS``, ``str()`` is its label."""

    def __init__(self, code: str, reason: str | None = None):
        self.code = code if code in LABELS else "failed"
        self.reason = reason  # for the server log only
        super().__init__(LABELS[self.code])

    @property
    def label(self) -> str:
        return LABELS[self.code]


@dataclass(frozen=True)
class Plan:
    """A checked connection: the parsed source and the one address it may go to."""

    source: urls.Source
    ip: str

    @property
    def scheme(self) -> str:
        return self.source.scheme

    @property
    def port(self) -> int:
        return self.source.port

    @property
    def ip_netloc(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"

    def pinned_url(self) -> str:
        """The URL with the checked address in place of the name (no credentials)."""
        return f"{self.scheme}://{self.ip_netloc}{self.source.path}"


def plan(url: str, config=None, kind: str | None = None) -> Plan:
    """Parse, resolve once, check; raise ``CameraError("not_allowed")`` (the reason is logged)."""
    if config is None:
        config = current_app.config
    try:
        source = urls.parse_source(url, kind)
        target = urls.check_source(source, config)[0]
    except urls.UnsafeURL as exc:
        log.info("camera address refused: %s", exc)
        raise CameraError("not_allowed", str(exc)) from None
    return Plan(source, target.ip)


def basic_auth(username: str | None, password: str | None) -> str | None:
    if not username:
        return None
    return "Basic " + base64.b64encode(f"{username}:{password or ''}".encode()).decode()


# ---- HTTP ---------------------------------------------------------------------------------------

def _http_code(exc) -> str:
    if isinstance(exc, urllib3.exceptions.NewConnectionError):  # a ConnectTimeoutError subclass, too
        return "connect"
    if isinstance(exc, (urllib3.exceptions.TimeoutError, TimeoutError, socket.timeout)):
        return "timeout"
    if isinstance(exc, urllib3.exceptions.ProtocolError) and isinstance(exc.__context__, TimeoutError):
        return "timeout"
    return "connect"


def open_http(manager, target: Plan, username=None, password=None):
    """GET the plan's path from its checked address through ``manager`` (a urllib3 PoolManager;
    one pool per camera address, connections kept alive). Returns the streaming 200 response;
    the caller reads it and calls ``release_conn()`` (or ``close()`` for an endless stream)."""
    if not isinstance(target, Plan) or target.scheme not in ("http", "https"):
        raise CameraError("not_allowed", "not an HTTP plan")
    source = target.source
    kw = None
    if target.scheme == "https" and not source.is_address and ":" not in source.host:
        kw = {"server_hostname": source.host, "assert_hostname": source.host}
    pool = manager.connection_from_host(target.ip, target.port, target.scheme, pool_kwargs=kw)
    headers = {"Host": source.host_header}
    auth = basic_auth(username, password)
    if auth:
        headers["Authorization"] = auth
    try:
        resp = pool.urlopen("GET", source.path, headers=headers, redirect=False, retries=False,
                            preload_content=False, assert_same_host=False, release_conn=False)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        log.info("camera %s: %s", target.ip_netloc, str(exc)[:300])
        raise CameraError(_http_code(exc), str(exc)) from None
    if resp.status != 200:
        resp.close()
        resp.release_conn()
        code = "redirect" if 300 <= resp.status < 400 else "http_error"
        log.info("camera %s answered %s", target.ip_netloc, resp.status)
        raise CameraError(code, f"HTTP {resp.status}")
    return resp


def read_errors(target: Plan):
    """Context for reading a response body: library errors become fixed codes."""
    @contextlib.contextmanager
    def guard():
        try:
            yield
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            log.info("camera %s: %s", target.ip_netloc, str(exc)[:300])
            raise CameraError(_http_code(exc), str(exc)) from None

    return guard()


_live_manager = None


def live_manager():
    """The pool of the web process (live view): no retries, no redirects, 10 s timeouts."""
    global _live_manager
    if _live_manager is None:
        _live_manager = urllib3.PoolManager(num_pools=64, maxsize=4, block=False, retries=False,
                                            timeout=urllib3.Timeout(connect=5.0, read=10.0))
    return _live_manager


# ---- ffmpeg -------------------------------------------------------------------------------------

def ffmpeg_http_input(target: Plan, username=None, password=None) -> list[str]:
    """ffmpeg input options for an HTTP source: the pinned URL, the name in Host: (and SNI for
    https), the credentials in a header, and no redirect followed."""
    headers = f"Host: {target.source.host_header}\r\n"
    auth = basic_auth(username, password)
    if auth:
        headers += f"Authorization: {auth}\r\n"
    args = ["-max_redirects", "0", "-headers", headers]
    if target.scheme == "https" and not target.source.is_address and ":" not in target.source.host:
        args += ["-verifyhost", target.source.host]  # the SNI name; certificates are not verified
    return args + ["-i", target.pinned_url()]


_FFMPEG_SIGNS = [("redirect", re.compile(r"redirect|\b30[1-8]\b", re.I)),
                 ("timeout", re.compile(r"timed? ?out", re.I)),
                 ("connect", re.compile(r"connection refused|no route|unreachable|connection reset", re.I)),
                 ("http_error", re.compile(r"server returned|\b[45]\d\d\b|input/output error", re.I))]


def ffmpeg_error_code(stderr: str, relay: "RtspRelay | None" = None, http_target: Plan | None = None,
                      cam=None) -> str:
    """The fixed code for a failed ffmpeg run (its text itself is never stored). ffmpeg says only
    "Input/output error" when it refused a redirect, so an HTTP source is asked once more through
    the connector (checked address, no redirect followed) for what it answers."""
    if relay is not None and relay.refused:
        return relay.refused
    if http_target is not None:
        try:
            resp = open_http(live_manager(), http_target, getattr(cam, "username", None),
                             getattr(cam, "password", None))
            resp.close()
        except CameraError as exc:
            return exc.code
    for code, sign in _FFMPEG_SIGNS:
        if sign.search(stderr or ""):
            return code
    return "failed"


_CREDENTIALS = re.compile(r"(://)[^/@\s]*@")


def scrub(text: str) -> str:
    """Log text without the credentials of any URL in it."""
    return _CREDENTIALS.sub(r"\1***@", text or "")


# ---- RTSP ---------------------------------------------------------------------------------------

def _native():
    """OS-level socket class, select and thread start: the relay runs beside OpenCV or ffmpeg,
    which block their own thread (a gevent greenlet sharing it would never run). Imported here:
    ``get_original`` answers for what the monkey-patching of the running process replaced."""
    try:
        from gevent import monkey

        get = monkey.get_original
        return (get("socket", "socket"), get("select", "select"), get("_thread", "start_new_thread"),
                get("ssl", "SSLContext"))
    except ImportError:  # pragma: no cover - gevent is a dependency
        import _thread
        import select

        return socket.socket, select.select, _thread.start_new_thread, ssl.SSLContext


_METHOD = re.compile(rb"^[A-Z_]+$")
MAX_HEAD = 65536


def _pass_interleaved(buf: bytearray, out: bytearray) -> bool:
    """Move the interleaved frame ("$", channel, 16-bit length) at the start of ``buf`` to ``out``;
    False while it is incomplete."""
    if len(buf) < 4 or len(buf) < 4 + int.from_bytes(buf[2:4], "big"):
        return False
    size = 4 + int.from_bytes(buf[2:4], "big")
    out += buf[:size]
    del buf[:size]
    return True


class RtspRelay:
    """A loopback port that relays RTSP (interleaved over TCP) to one checked camera address.

    What the camera sends is read message by message: an answer with status 3xx (which ffmpeg
    would follow to any address, credentials included), a SETUP answer without interleaved TCP
    (RTP over UDP would go to the relay's loopback address) or anything not RTSP ends the session;
    ``refused`` then holds the code. For rtsps the relay speaks TLS to the camera (the name as
    SNI; cameras carry self-signed certificates, so they are not verified) and plain RTSP to
    the local client.
    """

    def __init__(self, target: Plan, timeout: float = 10.0, rewrite_request=None):
        """``rewrite_request(head: bytes) -> bytes``, when given, sees the head of each request the
        local client sends (start line and headers, no body) and returns the head to send to the
        camera: what ONVIF replay needs (``Range: clock=...`` in PLAY) and ffmpeg cannot say."""
        if not isinstance(target, Plan) or target.scheme not in ("rtsp", "rtsps"):
            raise CameraError("not_allowed", "not an RTSP plan")
        self.target, self.timeout = target, timeout
        self.rewrite_request = rewrite_request
        self._socket, self._select, start, self._ssl_context = _native()
        self.refused: str | None = None
        self.contacted = False
        self._closed = False
        self._open: list = []
        family = socket.AF_INET
        self.listener = self._socket(family, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        start(self._serve, ())

    def url(self, username: str | None = None, password: str | None = None) -> str:
        auth = f"{quote(username, safe='')}:{quote(password or '', safe='')}@" if username else ""
        return f"rtsp://{auth}127.0.0.1:{self.port}{self.target.source.path}"

    def error(self, default: str = "no_picture") -> CameraError:
        return CameraError(self.refused or default)

    def close(self) -> None:
        self._closed = True
        for sock in [self.listener, *self._open]:
            try:
                sock.close()
            except OSError:
                pass

    def __enter__(self) -> "RtspRelay":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _serve(self) -> None:
        try:
            while not self._closed:
                ready, _, _ = self._select([self.listener], [], [], 0.5)
                if not ready or self._closed:
                    continue
                fd, _ = self.listener._accept()
                client = self._socket(fileno=fd)
                self._open.append(client)
                try:
                    self._relay(client)
                finally:
                    client.close()
        except (OSError, ValueError):
            pass  # closed under us: done

    def _connect(self):
        family = socket.AF_INET6 if ":" in self.target.ip else socket.AF_INET
        sock = self._socket(family, socket.SOCK_STREAM)
        self._open.append(sock)
        sock.settimeout(self.timeout)
        sock.connect((self.target.ip, self.target.port))
        self.contacted = True
        if self.target.scheme == "rtsps":
            ctx = self._ssl_context(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # field cameras carry self-signed certificates
            source = self.target.source
            sock = ctx.wrap_socket(sock, server_hostname=None if source.is_address or ":" in source.host
                                   else source.host)
            self._open.append(sock)
        sock.settimeout(None)
        return sock

    def _relay(self, client) -> None:
        try:
            upstream = self._connect()
        except OSError as exc:
            log.info("rtsp camera %s: %s", self.target.ip_netloc, str(exc)[:300])
            self.refused = "timeout" if isinstance(exc, TimeoutError) else "connect"
            return
        buf, sent = bytearray(), bytearray()
        try:
            while not self._closed:
                pending = getattr(upstream, "pending", lambda: 0)()
                ready = [upstream] if pending else self._select([client, upstream], [], [], 1.0)[0]
                if client in ready:
                    data = client.recv(65536)
                    if not data:
                        return
                    if self.rewrite_request is not None:
                        sent += data
                        data = self._requests(sent)
                        if data is None:
                            return
                    if data:
                        upstream.sendall(data)
                if upstream in ready:
                    data = upstream.recv(65536)
                    if not data:
                        return
                    buf += data
                    out = self._take(buf)
                    if out is None:
                        return
                    if out:
                        client.sendall(out)
        except OSError:
            return
        finally:
            upstream.close()

    def _take(self, buf: bytearray) -> bytes | None:
        """The complete messages at the start of ``buf`` that may reach the client (removed from
        ``buf``), or None to end the session."""
        out = bytearray()
        while buf:
            if buf[0] == 0x24:  # "$": an interleaved RTP/RTCP packet
                if not _pass_interleaved(buf, out):
                    break
                continue
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    return self._refuse("http_error", "oversized RTSP header")
                break
            lines = bytes(buf[:end]).split(b"\r\n")
            first = lines[0].split(b" ")
            if first[0].startswith(b"RTSP/") and len(first) > 1 and first[1].isdigit():
                status = int(first[1])
                if 300 <= status < 400:
                    return self._refuse("redirect", f"RTSP {status}")
            elif not _METHOD.match(first[0]):  # not an answer, nor a request of the camera's
                return self._refuse("http_error", "not RTSP")
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value.strip() or 0) if value.strip().isdigit() else -1
                elif name == b"transport" and b"interleaved" not in value.lower():
                    return self._refuse("transport", "RTSP transport other than interleaved TCP")
            if length < 0:
                return self._refuse("http_error", "bad Content-Length")
            size = end + 4 + length
            if len(buf) < size:
                break
            out += buf[:size]
            del buf[:size]
        return bytes(out)

    def _requests(self, buf: bytearray) -> bytes | None:
        """The complete messages at the start of what the client sent (removed from ``buf``), each
        request's head passed through ``rewrite_request``; None ends the session."""
        out = bytearray()
        while buf:
            if buf[0] == 0x24:  # "$": interleaved RTCP of the client
                if not _pass_interleaved(buf, out):
                    break
                continue
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    return self._refuse("failed", "oversized RTSP request")
                break
            head = bytes(buf[:end + 4])
            match = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
            size = end + 4 + (int(match.group(1)) if match else 0)
            if len(buf) < size:
                break
            out += self.rewrite_request(head) + bytes(buf[end + 4:size])
            del buf[:size]
        return bytes(out)

    def _refuse(self, code: str, reason: str) -> None:
        log.info("rtsp camera %s: %s: session ended", self.target.ip_netloc, reason)
        self.refused = code
        return None
