"""Single sign-on pages: start at a province's provider, come back to the callback, and the buttons
on the sign-in page. Registered by ``init_app``."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from .. import settings
from ..extensions import db
from . import signin, sso

bp = Blueprint("sso", __name__)


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never //host or a full URL): no open redirect through sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target \
            and not urlsplit(target).netloc and len(target) <= 500:
        return target
    return url_for("tenants.home")


def _pending() -> list:
    found = session.get(sso.SESSION_KEY)
    return list(found) if isinstance(found, list) else []


@bp.route("/login/sso/<int:provider_id>")
def start(provider_id: int):
    pending = _pending()
    url = sso.start(provider_id, url_for("sso.callback", _external=True), _safe_next(request.args.get("next")),
                    current_app.config, pending)
    session[sso.SESSION_KEY] = pending
    return redirect(url)


@bp.route("/login/sso/callback")
def callback():
    pending = _pending()
    user, provider, next_url = sso.finish(request.args.get("state", ""), request.args.get("code", ""),
                                          request.args.get("error"), current_app.config, pending,
                                          iss=request.args.get("iss"))
    session[sso.SESSION_KEY] = pending
    return signin.first_factor_passed(user, f"oidc:{provider.id}", _safe_next(next_url))


@bp.errorhandler(sso.SsoRefused)
def refused(exc: sso.SsoRefused):
    db.session.rollback()
    return render_template("sso/refused.html", error=exc), exc.status


def init_app(app) -> None:
    for key, value in settings.sso_from_env().items():
        app.config.setdefault(key, value)
    app.register_blueprint(bp)
    app.jinja_env.globals["sso_login_buttons"] = sso.login_buttons
