"""Who is asking: session or bearer token, and the scope that follows for this request."""
from __future__ import annotations

from flask import g, request
from flask_login import current_user

from ..extensions import csrf, db, login_manager
from .models import User
from .roles import scope_for_user
from .scoping import EMPTY, reset_scope, set_scope, system_scope


@login_manager.user_loader
def load_user(user_id: str):
    with system_scope():
        user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


@login_manager.request_loader
def load_user_from_token(req):
    header = req.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    from .services import principal_for_token

    found = principal_for_token(header[7:].strip())
    if found is None:
        return None
    g.auth_method = "token"
    g.token_scope = found[1]  # read with the user, in the same statement
    return found[0]


@login_manager.unauthorized_handler
def unauthorized():
    from flask import redirect, url_for

    from ..errors import UnauthorizedError

    if request.path.startswith("/api/"):
        raise UnauthorizedError()
    return redirect(url_for("tenants.login", next=request.full_path))


def init_app(app) -> None:
    from .scoping import current_scope

    app.jinja_env.globals["scope_can"] = lambda perm, unit_id=None: current_scope().can(perm, unit_id)

    # Probes, metrics and static files need no identity: skip the user and scope look-ups.
    anonymous_endpoints = {"ops.healthz", "ops.readyz", "metrics.metrics", "static"}

    @app.before_request
    def establish_scope():
        g.scope_token = set_scope(EMPTY)
        if request.endpoint in anonymous_endpoints:
            return
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
