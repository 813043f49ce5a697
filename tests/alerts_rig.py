"""Real receivers on loopback for the alert tests and the bench: an SMTP server (aiosmtpd) that can be
stopped and started again on the same port, and an HTTP receiver for webhooks, Web Push, SMS and Zalo."""
from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 60.0, every: float = 0.05, step=None):
    """Poll until ``predicate()`` is truthy (calling ``step()`` between looks); no timed assertion:
    the deadline only stops a hung test."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        if step is not None:
            step()
        time.sleep(every)


class SmtpSink:
    """aiosmtpd on a fixed loopback port; ``messages`` holds every mail received, parsed."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.messages: list = []
        self.received_at: list = []
        self.lock = threading.Lock()
        self.controller = None

    def _handler(self):
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                msg = email.message_from_bytes(envelope.original_content or envelope.content,
                                               policy=email.policy.default)
                with sink.lock:
                    sink.messages.append(msg)
                    sink.received_at.append(time.time())
                return "250 OK"

        return Handler()

    def start(self):
        from aiosmtpd.controller import Controller

        self.controller = Controller(self._handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for m in self.messages]


class HttpSink:
    """A threading HTTP server recording every POST (path, headers, body, time). ``status`` is the
    answer; while ``hold`` is set the handler waits (a receiver that hangs mid-delivery)."""

    def __init__(self):
        self.requests: list = []
        self.lock = threading.Lock()
        self.status = 200
        self.answer = b"{}"
        self.hold = threading.Event()
        self.holding = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                if sink.hold.is_set():
                    sink.holding.set()
                    while sink.hold.is_set():
                        time.sleep(0.05)
                    return  # never answered: the sender was killed meanwhile
                with sink.lock:
                    sink.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body,
                                          "at": time.time()})
                self.send_response(sink.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(sink.answer)))
                self.end_headers()
                self.wfile.write(sink.answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.hold.clear()
        self.server.shutdown()
        self.server.server_close()

    def bodies(self, path: str | None = None) -> list:
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests if path is None or r["path"].startswith(path)]


def alert_config(smtp_port: int | None = None, **extra) -> dict:
    """Settings for an app under test: channels pointed at the loopback receivers, fast retries."""
    config = {
        "ALERTS_INPROCESS": "off",
        "ALERTS_SMTP_HOST": "127.0.0.1" if smtp_port else None,
        "ALERTS_SMTP_PORT": smtp_port or 25,
        "ALERTS_SMTP_STARTTLS": False,
        "ALERTS_SMTP_TIMEOUT": 5,
        "ALERTS_ALLOWED_NETWORKS": ["127.0.0.0/8"],
        "ALERTS_RETRY_BASE_SECONDS": 0.2,
        "ALERTS_RETRY_MAX_SECONDS": 2.0,
        "ALERTS_POLL_SECONDS": 0.1,
        "ALERTS_CHAIN_CHECK_MINUTES": 0,
        "ALERTS_BASE_URL": "http://camnet.test",
    }
    config.update(extra)
    return config


def give_emails(world) -> None:
    """Every user of the world gets an address (the world builds none)."""
    from camnet.extensions import db
    from camnet.tenants.models import User
    from camnet.tenants.scope import system_scope

    with system_scope():
        for name, user in world.users.items():
            row = db.session.get(User, user.id)
            row.email = f"{name}@xa.example.vn"
        db.session.commit()
