"""Server-side sessions: a row per signed-in browser, ended at once by sign-out, password change,
deactivation or an admin; idle and absolute limits per kind of role.

The browser's (signed) Flask session carries a random secret under ``sid``; the table stores its
SHA-256 only. Every cookie request looks its row up (``user_for_cookie``, one query with the
user); the last-seen time is written at most once per ``SESSION_TOUCH_SECONDS``. Bearer-token
requests never come here.

Functions that end sessions add to the caller's transaction (the caller commits with its audit
row); ``open`` and ``user_for_cookie`` own theirs.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from flask import current_app, g, has_request_context, request, session
from sqlalchemy import delete, or_, select, update

from ..clock import utc_now
from ..extensions import db
from .models import User, UserSession
from .scope import system_scope

COOKIE_KEY = "sid"
# What flask-login and this module keep in the cookie for a signed-in user.
LOGIN_KEYS = ("_user_id", "_fresh", "_id", COOKIE_KEY)
# Ended sessions are kept this long for the owner's and auditors' view, then pruned.
KEEP_ENDED = timedelta(days=30)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: they were written in UTC."""
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def limits_for(roles) -> tuple[timedelta, timedelta]:
    """(idle, absolute) lifetime of a session of someone holding ``roles``."""
    cfg = current_app.config
    if set(roles) & set(cfg["SESSION_STRICT_ROLES"]):
        return timedelta(minutes=cfg["SESSION_IDLE_MINUTES"]), timedelta(hours=cfg["SESSION_MAX_HOURS"])
    return (timedelta(minutes=cfg["SESSION_IDLE_MINUTES_OTHER"]),
            timedelta(hours=cfg["SESSION_MAX_HOURS_OTHER"]))


def _roles(user: User) -> set[str]:
    return {grant.role for grant in user.grants}


def ended_because(row: UserSession, roles, now: datetime | None = None) -> str | None:
    """Why this session no longer counts ("revoked", "idle", "expired"), or None while it is live."""
    if row.revoked_at is not None:
        return "revoked"
    now = now or utc_now()
    idle, absolute = limits_for(roles)
    if now - _aware(row.created_at) >= absolute:
        return "expired"
    if now - _aware(row.last_seen_at) >= idle:
        return "idle"
    return None


def _address() -> str | None:
    return request.remote_addr if has_request_context() else None  # the real client (auth.RealClientAddress)


def open(user: User, method: str) -> UserSession:
    """Start a session for ``user``: its row (committed) and the secret in the cookie. A session
    this browser still had is ended: one browser, one session."""
    now = utc_now()
    secret = secrets.token_urlsafe(32)
    agent = request.user_agent.string[:300] if has_request_context() else None
    with system_scope():
        previous = session.get(COOKIE_KEY)
        if isinstance(previous, str):
            _end(UserSession.secret_hash == _hash(previous), "replaced", now)
        # the user's sessions that ended long ago go (indexed by user): the table stays small
        db.session.execute(delete(UserSession).where(
            UserSession.user_id == user.id,
            or_(UserSession.revoked_at < now - KEEP_ENDED, UserSession.last_seen_at < now - KEEP_ENDED)))
        row = UserSession(user_id=user.id, secret_hash=_hash(secret), method=method[:40], created_at=now,
                          last_seen_at=now, ip=_address(), last_ip=_address(), user_agent=agent)
        db.session.add(row)
        db.session.commit()
    session[COOKIE_KEY] = secret
    g.user_session_id = row.id
    return row


def forget_cookie() -> None:
    """Drop the sign-in from this browser's cookie (the row is ended separately)."""
    for key in LOGIN_KEYS:
        session.pop(key, None)


def user_for_cookie(user_id: str) -> User | None:
    """The user of this request's session cookie, or None when the cookie names no live session:
    no secret, an unknown or ended row, another user, a deactivated user, or past the idle or
    absolute limit. Fails closed: anything unexpected is no user."""
    secret = session.get(COOKIE_KEY)
    if not isinstance(secret, str) or not secret or not str(user_id).isdigit():
        forget_cookie()
        return None
    now = utc_now()
    with system_scope():
        found = db.session.execute(
            select(User, UserSession).join(UserSession, UserSession.user_id == User.id)
            .where(UserSession.secret_hash == _hash(secret), UserSession.revoked_at.is_(None))
        ).first()
        if found is None or found[0].id != int(user_id) or not found[0].active:
            forget_cookie()
            return None
        user, row = found
        reason = ended_because(row, _roles(user), now)
        if reason is not None:
            _end(UserSession.id == row.id, reason, now)
            db.session.commit()
            forget_cookie()
            return None
        if now - _aware(row.last_seen_at) >= timedelta(seconds=current_app.config["SESSION_TOUCH_SECONDS"]):
            # at most once a minute per session, not a write per request; conditional, so two
            # requests racing write once
            db.session.execute(update(UserSession).where(
                UserSession.id == row.id, UserSession.last_seen_at == row.last_seen_at,
                UserSession.revoked_at.is_(None)).values(last_seen_at=now, last_ip=_address()))
            db.session.commit()
    g.user_session_id = row.id
    return user


def current_id() -> int | None:
    """The id of this request's session row (None for a bearer request or nobody)."""
    return g.get("user_session_id") if has_request_context() else None


def _end(where, reason: str, now: datetime | None = None) -> int:
    with system_scope():
        result = db.session.execute(
            update(UserSession).where(where, UserSession.revoked_at.is_(None))
            .values(revoked_at=now or utc_now(), revoked_reason=reason[:40]))
    return result.rowcount or 0


def revoke(session_id: int, user_id: int, reason: str = "signed_out") -> bool:
    """End one session of ``user_id``; False when it is not theirs or already ended."""
    return _end((UserSession.id == session_id) & (UserSession.user_id == user_id), reason) > 0


def revoke_current(reason: str = "signed_out") -> bool:
    """End this request's session (sign-out)."""
    sid = current_id()
    if sid is None:
        secret = session.get(COOKIE_KEY)
        if not isinstance(secret, str):
            return False
        return _end(UserSession.secret_hash == _hash(secret), reason) > 0
    return _end(UserSession.id == sid, reason) > 0


def revoke_all_for_user(user_id: int, reason: str, keep_id: int | None = None) -> int:
    """End every session of ``user_id`` (but ``keep_id``); returns how many were live."""
    where = UserSession.user_id == user_id
    if keep_id is not None:
        where = where & (UserSession.id != keep_id)
    return _end(where, reason)


def list_for_user(user: User) -> list[UserSession]:
    """The user's live sessions, newest first."""
    now = utc_now()
    with system_scope():
        rows = db.session.execute(
            select(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
            .order_by(UserSession.created_at.desc(), UserSession.id.desc())).scalars().all()
    roles = _roles(user)
    return [row for row in rows if ended_because(row, roles, now) is None]
