"""The one road from "this person proved who they are" to a signed-in session.

Every way of proving identity ends here: the password form (``views.login``), the second
factor (``mfa``), single sign-on (``oidc``). They call ``first_factor_passed`` once the first
factor holds; it either asks for a second factor (``mfa`` decides) or opens the session.
``open_session`` is the only place a session starts (server-side record, see ``sessions``).
"""
from __future__ import annotations

from flask import redirect, session, url_for

PENDING_KEY = "pending_2fa"  # {"user_id": int, "method": str, "next": str, "at": epoch seconds}
# Rules that may ask a user for a second factor, registered by the two-factor module (``mfa.init_app``).
SECOND_FACTOR_RULES: list = []


def needs_second_factor(user) -> bool:
    """True when this user must (or chose to) pass a second factor before a session opens."""
    return any(rule(user) for rule in SECOND_FACTOR_RULES)


def first_factor_passed(user, method: str, next_url: str):
    """The user passed their first factor (``method``: "password" or "oidc:<provider>").
    Returns the response to send: the second-factor page, or ``next_url`` with a session open."""
    import time

    if needs_second_factor(user):
        session[PENDING_KEY] = {"user_id": user.id, "method": method, "next": next_url, "at": int(time.time())}
        return redirect(url_for("mfa.challenge"))
    open_session(user, method)
    return redirect(next_url)


def open_session(user, method: str) -> None:
    """Start a signed-in session for ``user`` (the server-side record and the cookie)."""
    from flask_login import login_user

    from . import sessions

    session.pop(PENDING_KEY, None)
    sessions.open(user, method)
    login_user(user)
