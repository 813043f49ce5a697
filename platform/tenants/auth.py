"""Who is asking: session or bearer token, from which real address, and the scope that follows."""
from __future__ import annotations

import ipaddress

from flask import g, request
from flask_login import current_user

from ..extensions import csrf, db, login_manager
from ..settings import SettingsError
from .roles import scope_for_user
from .scope import EMPTY, reset_scope, set_scope


@login_manager.user_loader
def load_user(user_id: str):
    """A cookie names a user only through a live server-side session (``sessions``)."""
    from . import sessions

    return sessions.user_for_cookie(user_id)


def bearer_secret(req) -> str | None:
    """The secret of an ``Authorization: Bearer`` header, or None when the request has none."""
    header = req.headers.get("Authorization", "")
    if header[:7].lower() != "bearer ":
        return None
    return header[7:].strip()


def _authenticate_bearer(secret: str) -> None:
    """A request with a bearer token is judged by the token alone: a valid one is its user, a bad
    one is nobody, and whatever cookie came along (a session, or an anonymous one from /login) is
    not looked at. Set where flask-login keeps the request's user, so its cookie loading (and
    session protection, which turned an anonymous cookie into a 401) never runs."""
    from .services import principal_for_token

    found = principal_for_token(secret)
    g.auth_method = "token"
    if found is None:
        g._login_user = login_manager.anonymous_user()
        return
    g._login_user = found[0]
    g.token_scope = found[1]  # read with the user, in the same statement


@login_manager.unauthorized_handler
def unauthorized():
    from flask import redirect, url_for

    from ..errors import UnauthorizedError

    if request.path.startswith("/api/") or g.get("auth_method") == "token":
        raise UnauthorizedError()
    return redirect(url_for("tenants.login", next=request.full_path))


# ---- the real client address -------------------------------------------------------------

def trusted_networks(value) -> tuple:
    """``TRUSTED_PROXIES`` (a list, or a comma-separated string) as networks; a bad entry stops start-up."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    networks = []
    for entry in value or ():
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise SettingsError(f"TRUSTED_PROXIES: {entry!r} is not an address or network") from None
    return tuple(networks)


def _parse(address: str | None):
    if not address:
        return None
    address = address.strip()
    if address.startswith("[") and "]" in address:  # [v6]:port
        address = address[1:address.index("]")]
    elif address.count(":") == 1:  # v4:port
        address = address.split(":", 1)[0]
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None


def _trusted(address, networks) -> bool:
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in net for net in networks if net.version == address.version)


def resolve_client(peer: str | None, forwarded_for: str | None, networks) -> str | None:
    """The real client of a request from ``peer``: when the peer is a trusted proxy, the right-most
    address of X-Forwarded-For that is not a trusted proxy (each trusted hop appended the one before
    it; anything further left may be made up by the client). An untrusted peer's header is ignored."""
    peer_ip = _parse(peer)
    if peer_ip is None or not networks or not _trusted(peer_ip, networks) or not forwarded_for:
        return peer
    client = peer_ip
    for hop in reversed(forwarded_for.split(",")):
        hop_ip = _parse(hop)
        if hop_ip is None:
            break  # garbage before a trusted hop: the hop that reported it is as far as we know
        client = hop_ip
        if not _trusted(hop_ip, networks):
            break
    return str(client)


class RealClientAddress:
    """WSGI middleware: ``REMOTE_ADDR`` becomes the real client address (``resolve_client``), so the
    sign-in throttle, audit rows, sessions and logs all see it. Unlike werkzeug's ProxyFix, which
    believes a fixed number of hops from anyone, it reads X-Forwarded-For only from trusted peers.
    The peer itself stays in ``camnet.peer_addr``."""

    def __init__(self, wsgi_app, networks):
        self.wsgi_app = wsgi_app
        self.networks = networks

    def __call__(self, environ, start_response):
        peer = environ.get("REMOTE_ADDR")
        environ["camnet.peer_addr"] = peer
        if self.networks:
            environ["REMOTE_ADDR"] = resolve_client(peer, environ.get("HTTP_X_FORWARDED_FOR"), self.networks)
        return self.wsgi_app(environ, start_response)


def may_hold_tokens() -> bool:
    """Whether the current principal may make API tokens: staff, not households or sponsors."""
    from .roles import is_staff

    user = current_user._get_current_object()
    if user is None or not user.is_authenticated:
        return False
    return is_staff(grant.role for grant in user.grants)


def init_app(app) -> None:
    from .access import may

    app.wsgi_app = RealClientAddress(app.wsgi_app, trusted_networks(app.config.get("TRUSTED_PROXIES")))
    app.jinja_env.globals["scope_can"] = may
    app.jinja_env.globals["may_hold_tokens"] = may_hold_tokens

    # Probes, metrics and static files need no identity: skip the user and scope look-ups.
    anonymous_endpoints = {"ops.healthz", "ops.readyz", "metrics.metrics", "static"}

    @app.before_request
    def establish_scope():
        g.scope_token = set_scope(EMPTY)
        if request.endpoint in anonymous_endpoints:
            return
        secret = bearer_secret(request)
        if secret is not None:
            _authenticate_bearer(secret)
        user = current_user._get_current_object()
        if user is not None and user.is_authenticated:
            scope = g.pop("token_scope", None) or scope_for_user(user)
            g.scope_token_user = set_scope(scope, db.session)
        # Bearer requests carry no cookie to forge; session requests that write need the token.
        if request.path.startswith("/api/") and request.method not in ("GET", "HEAD", "OPTIONS"):
            if (g.get("auth_method") != "token" and user is not None and user.is_authenticated
                    and app.config.get("WTF_CSRF_ENABLED", True)):
                csrf.protect()

    @app.teardown_request
    def drop_scope(exc):
        for name in ("scope_token_user", "scope_token"):
            token = g.pop(name, None)
            if token is not None:
                try:
                    reset_scope(token)
                except ValueError:
                    pass
