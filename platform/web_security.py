"""Browser-facing defences: security headers, request size and JSON depth limits, and same-origin
media views (a cookie session's audited media request must come from camnet's own pages)."""
from __future__ import annotations

import json
import re
from itertools import accumulate
from urllib.parse import urlsplit

from flask import current_app, g, request
from flask.json.provider import DefaultJSONProvider
from flask_login import current_user

from .errors import DomainError, ForbiddenError

# Views that write an audit row for each request (media.view, media.live, evidence.download):
# a GET with side effects, so another site must not be able to trigger one with the user's cookie
# and a reason of its choosing. Bearer-token calls carry no ambient credential and are not checked.
AUDITED_MEDIA_ENDPOINTS = frozenset({
    "streams_api.download_snapshot",
    "streams_api.download_clip",
    "streams_api.fault_evidence",
    "capture_api.live_view",
    "video_api.live_video",
    "incidents_api.evidence_media",
    "incidents_api.export_download",
    "incidents.evidence_view",
    "incidents.export_download",
})

# Uploads of a whole evidence archive (clips included) to verify it: MAX_EVIDENCE_UPLOAD_BYTES.
LARGE_UPLOAD_ENDPOINTS = frozenset({"incidents_api.verify_archive", "incidents.verify_page"})

PERMISSIONS_POLICY = ("camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), "
                      "bluetooth=(), midi=(), magnetometer=(), gyroscope=(), accelerometer=()")


class JsonTooDeep(DomainError):
    """Not a ValueError on purpose: ``get_json(silent=True)`` must not turn it into "no body"."""

    status = 422
    code = "json_too_deep"


class CrossSiteMedia(ForbiddenError):
    code = "cross_site_request"


# ---- JSON nesting --------------------------------------------------------------------------------

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(text: str | bytes) -> int:
    """The deepest nesting of arrays and objects, counted without parsing (C-speed passes only)."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "replace")
    if text.count("[") + text.count("{") == 0:
        return 0
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, map(ord, brackets))), default=0)


class LimitedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing bodies nested deeper than MAX_JSON_DEPTH before they reach the parser
    (100,000 nested ``[`` raised RecursionError: a 500)."""

    def loads(self, s, **kwargs):
        limit = int(self._app.config.get("MAX_JSON_DEPTH") or 32)
        if len(s) > 2 * limit:  # a shorter text cannot nest deeper than the limit
            depth = json_depth(s)
            if depth > limit:
                raise JsonTooDeep(f"body: JSON lồng quá {limit} tầng / JSON nested deeper than {limit} levels "
                                  f"({depth})", field="body")
        try:
            return json.loads(s, **kwargs)
        except RecursionError:  # only reachable with a limit set above Python's own
            raise JsonTooDeep("body: JSON lồng quá sâu / JSON nested too deeply", field="body") from None


# ---- headers -------------------------------------------------------------------------------------

def _source(url: str | None, secure: bool = False) -> str | None:
    """A CSP host-source for a URL or URL template (``https://{s}.tile.example.org/{z}/{x}/{y}.png``)."""
    if not url:
        return None
    parts = urlsplit(url if "://" in url else f"{'https' if secure else 'http'}://{url}")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = re.sub(r"^\{[^}]*\}\.", "*.", parts.netloc.rsplit("@", 1)[-1])
    if "{" in host or "}" in host:
        return f"{parts.scheme}:"  # a template CSP cannot express: the scheme alone
    return f"{parts.scheme}://{host}"


def content_security_policy(config) -> str:
    """No inline script or style anywhere; images and video from camnet itself, the map tile server
    (MAP_TILE_URL) and the object store that presigned media links point to (S3_ENDPOINT)."""
    tiles = _source(config.get("MAP_TILE_URL"))
    store = _source(config.get("S3_ENDPOINT"), bool(config.get("S3_SECURE")))
    img = " ".join(filter(None, ["'self'", "data:", "blob:", tiles, store]))
    media = " ".join(filter(None, ["'self'", "blob:", store]))
    return ("default-src 'self'; script-src 'self'; style-src 'self'; "
            f"img-src {img}; media-src {media}; connect-src 'self'; font-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def _add_headers(response):
    config = current_app.config
    policy = config.get("_CAMNET_CSP")
    if policy is None:
        policy = config["_CAMNET_CSP"] = content_security_policy(config)
    headers = response.headers
    headers.setdefault("Content-Security-Policy", policy)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    seconds = int(config.get("HSTS_SECONDS") or 0)
    if config.get("ENV_NAME") == "production" and seconds > 0:
        headers.setdefault("Strict-Transport-Security", f"max-age={seconds}; includeSubDomains")
    return response


def _body_limit():
    """The one place a body may exceed MAX_REQUEST_BYTES; runs before anything reads the form."""
    if request.endpoint in LARGE_UPLOAD_ENDPOINTS:
        request.max_content_length = int(current_app.config.get("MAX_EVIDENCE_UPLOAD_BYTES") or 0) or None


# ---- same-origin media ---------------------------------------------------------------------------

def _origin_host(value: str) -> str | None:
    parts = urlsplit(value)
    return parts.netloc.lower() if parts.scheme in ("http", "https") and parts.netloc else None


def is_cross_site(req) -> bool:
    """Fetch metadata first (every current browser sends it); Origin, then Referer, for older ones.
    A request with none of them (a script with a copied cookie) is not a browser's cross-site one."""
    site = req.headers.get("Sec-Fetch-Site")
    if site:
        return site.lower() not in ("same-origin", "none")  # "none": typed in the address bar
    own = req.host.lower()
    for header in ("Origin", "Referer"):
        value = req.headers.get(header)
        if value:
            return _origin_host(value) != own
    return False


def _same_origin_media():
    if request.endpoint not in AUDITED_MEDIA_ENDPOINTS:
        return None
    user = current_user._get_current_object()
    if user is None or not user.is_authenticated or g.get("auth_method") == "token":
        return None  # no session cookie involved: the view answers 401 or serves the token's holder
    if is_cross_site(request):
        raise CrossSiteMedia("Chỉ xem được hình từ các trang của camnet / Media views must come from "
                             "camnet's own pages (cross-site request refused)")
    return None


def init_app(app) -> None:
    """After ``auth.init_app``: the same-origin check reads the user and how they signed in."""
    app.json = LimitedJSONProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = int(app.config.get("MAX_REQUEST_BYTES") or 16 * 1024 * 1024)
    # first of all: CSRF checks (Flask-WTF, auth) read the form, and with it the body limit
    app.before_request_funcs.setdefault(None, []).insert(0, _body_limit)
    app.before_request(_same_origin_media)
    app.after_request(_add_headers)
