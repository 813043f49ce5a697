"""The single sign-on rig: a real OpenID provider (oidc-provider under Node, scripts/services/oidc) and
camnet served over real HTTP so the provider can send the browser back to it.

The camnet server is started once per session on a free port (its callback is registered at the
provider as it starts); each test hands it its own app (``LiveCamnet.app``). The "browser" is a
``requests.Session`` that fills the provider's development login form.
"""
from __future__ import annotations

import os
import re
import selectors
import subprocess
import threading
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
START = ROOT / "scripts" / "services" / "oidc" / "start.sh"
CLIENT_SECRET = "camnet-rig-secret-" + os.urandom(6).hex()
STARTUP_LIMIT = 300  # seconds for npm ci on a fresh machine plus the provider's start


class LiveCamnet:
    """One HTTP server for the session, serving whichever app the current test set."""

    def __init__(self):
        self.app = None
        self._httpd = make_server("127.0.0.1", 0, self, threaded=True)
        self.url = f"http://127.0.0.1:{self._httpd.server_port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def __call__(self, environ, start_response):
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"no app under test"]
        return self.app(environ, start_response)

    @property
    def callback(self) -> str:
        return self.url + "/login/sso/callback"

    def stop(self) -> None:
        self._httpd.shutdown()


class Provider:
    """The oidc-provider process this rig started (and only it is stopped)."""

    def __init__(self, redirect_uri: str):
        env = {**os.environ, "OIDC_RIG_PORT": "0", "OIDC_RIG_REDIRECT_URIS": redirect_uri,
               "OIDC_RIG_CLIENT_SECRET": CLIENT_SECRET, "DEBUG": ""}
        self.log = open(ROOT / "test-artifacts" / "oidc-provider.log", "w") if (ROOT / "test-artifacts").is_dir() \
            else subprocess.DEVNULL
        self.proc = subprocess.Popen(["bash", str(START)], env=env, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True)
        self.issuer = self._read_issuer()
        self.secret = CLIENT_SECRET

    def _read_issuer(self) -> str:
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        if not sel.select(STARTUP_LIMIT):
            self.stop()
            raise RuntimeError("the OIDC provider did not start (see test-artifacts/oidc-provider.log)")
        line = self.proc.stdout.readline().strip()
        if not line.startswith("issuer "):
            self.stop()
            raise RuntimeError(f"the OIDC provider did not start: {line!r} (exit {self.proc.poll()})")
        return line.split(" ", 1)[1]

    def set_account(self, account_id: str, claims: dict) -> None:
        resp = requests.put(f"{self.issuer}/rig/accounts/{account_id}", json=claims, timeout=10)
        assert resp.status_code == 204, resp.text

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.log is not subprocess.DEVNULL:
            self.log.close()


def sign_in_at_provider(browser: requests.Session, camnet_url: str, provider_id: int, login: str,
                        next_url: str | None = None) -> str:
    """Press the provider's button on camnet and sign in at the provider as ``login``. Returns the
    callback URL the provider sends the browser back to (not yet visited)."""
    params = {"next": next_url} if next_url else None
    resp = browser.get(f"{camnet_url}/login/sso/{provider_id}", params=params, allow_redirects=False)
    assert resp.status_code == 302, resp.text[:500]
    url = resp.headers["Location"]
    for _ in range(12):
        if url.startswith(camnet_url):
            return url
        resp = browser.get(url, allow_redirects=False)
        if resp.status_code in (302, 303):
            url = urljoin(url, resp.headers["Location"])
            continue
        assert resp.status_code == 200, (url, resp.status_code, resp.text[:500])
        action = re.search(r'<form[^>]*action="([^"]+)"', resp.text)
        assert action and 'name="login"' in resp.text, resp.text[:800]
        resp = browser.post(urljoin(url, action.group(1)),
                            data={"prompt": "login", "login": login, "password": "any"}, allow_redirects=False)
        assert resp.status_code in (302, 303), resp.text[:500]
        url = urljoin(url, resp.headers["Location"])
    raise AssertionError(f"the provider never sent the browser back: {url}")


def query(url: str) -> dict:
    from urllib.parse import parse_qs

    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
