"""Account lifecycle: sign-out, password change and reset links, deactivation, "sign out everywhere".

Each service checks, writes, ends the sessions (and tokens) it must through ``sessions``, adds
its audit row and commits once.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, request
from sqlalchemy import select, update

from ..clock import utc_now
from ..errors import ForbiddenError, NotFoundError, TooManyRequests, ValidationFailed
from ..extensions import db
from . import audit, sessions, throttle
from .access import get_scoped
from .models import ApiToken, PasswordReset, RoleGrant, User
from .passwords import hash_password, verify_password
from .roles import roles_of_id
from .scope import current_scope, system_scope
from .services import check_password_for

INVALID_LINK = ("Liên kết đặt lại mật khẩu không hợp lệ, đã dùng hoặc đã hết hạn / "
                "The reset link is invalid, used or expired")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# ---- the user themself ---------------------------------------------------------------------

def sign_out(user) -> None:
    """End this browser's session (the cookie is dropped by the view)."""
    if sessions.revoke_current("signed_out") and user is not None and user.is_authenticated:
        audit.record("auth.signout", unit_id=user.unit_id, actor=user)
    db.session.commit()


def end_own_session(user, session_id: int) -> None:
    """End one of the user's own sessions (another browser); someone else's is not found."""
    if not sessions.revoke(session_id, user.id, "ended_by_user"):
        raise NotFoundError()
    audit.record("auth.session.end", unit_id=user.unit_id, object_type="session", object_id=session_id)
    db.session.commit()


def end_other_sessions(user) -> int:
    """End every session of the user but this one."""
    count = sessions.revoke_all_for_user(user.id, "ended_by_user", keep_id=sessions.current_id())
    audit.record("auth.session.end_others", unit_id=user.unit_id, object_type="user", object_id=user.id,
                 detail={"sessions": count})
    db.session.commit()
    return count


def change_password(user, current: str, new: str, confirm: str | None = None) -> None:
    """Self-service: the current password, then a new one under the rules. Other sessions end;
    this one stays. Wrong current passwords count towards the sign-in lockout."""
    ip = request.remote_addr
    wait = throttle.locked_for(user.username, ip)
    if wait:
        raise TooManyRequests(f"Tạm khóa, thử lại sau {wait} giây / Locked, retry in {wait} s",
                              field="current_password")
    with system_scope():
        row = db.session.execute(select(User).where(User.id == user.id)).scalar_one()
        if not verify_password(row.password_hash, current or ""):
            throttle.note_failure(user.username, ip)
            audit.record("user.password_change", outcome="failed", unit_id=row.unit_id, actor=user,
                         object_type="user", object_id=row.id)
            db.session.commit()
            raise ValidationFailed("current_password: Mật khẩu hiện tại không đúng / "
                                   "Current password is wrong", field="current_password")
        check_password_for(new, username=row.username, roles=roles_of_id(row.id), field="new_password")
        if confirm is not None and confirm != new:
            raise ValidationFailed("confirm_password: Mật khẩu nhập lại không khớp / "
                                   "The passwords do not match", field="confirm_password")
        if verify_password(row.password_hash, new):
            raise ValidationFailed("new_password: Mật khẩu mới phải khác mật khẩu cũ / "
                                   "The new password must differ from the old one", field="new_password")
        row.password_hash = hash_password(new)
        ended = sessions.revoke_all_for_user(row.id, "password_changed", keep_id=sessions.current_id())
        _void_reset_links(row.id)
        audit.record("user.password_change", unit_id=row.unit_id, actor=user, object_type="user",
                     object_id=row.id, detail={"sessions_ended": ended})
    db.session.commit()


# ---- a unit's admin ------------------------------------------------------------------------

def manageable_user(user_id: int) -> User:
    """A user the current principal may manage: their home unit in reach of ``users.manage`` (else
    404: outside the scope nobody exists), and every role they hold too (else 403: a commune admin
    does not lock out, or take over, a province police officer who lives in the commune)."""
    user = get_scoped(User, user_id, "users.manage")
    scope = current_scope()
    with system_scope():
        units = set(db.session.execute(select(RoleGrant.unit_id).where(RoleGrant.user_id == user.id)).scalars())
    if not scope.system and not units <= scope.units_with("users.manage"):
        raise ForbiddenError("Người dùng giữ vai trò ngoài phạm vi quản lý của bạn / "
                             "This user holds roles beyond what you manage")
    return user


def sign_out_everywhere(user_id: int) -> int:
    """An admin ends every session of a user in their scope (a lost phone, a shared computer)."""
    user = manageable_user(user_id)
    count = sessions.revoke_all_for_user(user.id, "admin_signed_out")
    audit.record("auth.session.revoke_all", unit_id=user.unit_id, object_type="user", object_id=user.id,
                 detail={"sessions": count})
    db.session.commit()
    return count


def set_active(user_id: int, active: bool) -> User:
    """Deactivate (or reactivate) a user in the admin's scope. Deactivation ends every session,
    revokes every API token and voids reset links, at once; reactivation restores none of them."""
    user = manageable_user(user_id)
    if user.id == current_scope().user_id:
        raise ValidationFailed("user_id: Không thể tự khóa tài khoản của mình / "
                               "You cannot deactivate yourself", field="user_id")
    with system_scope():
        row = db.session.execute(select(User).where(User.id == user.id)).scalar_one()
        if row.active == active:
            return row
        row.active = active
        detail = {}
        if not active:
            now = utc_now()
            detail["sessions_ended"] = sessions.revoke_all_for_user(row.id, "deactivated")
            detail["tokens_revoked"] = db.session.execute(
                update(ApiToken).where(ApiToken.user_id == row.id, ApiToken.revoked_at.is_(None))
                .values(revoked_at=now)).rowcount
            _void_reset_links(row.id)
        audit.record("user.activate" if active else "user.deactivate", unit_id=row.unit_id,
                     object_type="user", object_id=row.id, detail=detail)
    db.session.commit()
    return row


# ---- reset links ---------------------------------------------------------------------------

def _void_reset_links(user_id: int) -> None:
    with system_scope():
        db.session.execute(update(PasswordReset).where(PasswordReset.user_id == user_id,
                                                       PasswordReset.used_at.is_(None)).values(used_at=utc_now()))


def issue_reset_link(user_id: int) -> tuple[PasswordReset, str]:
    """An admin makes a single-use link for a user in their scope (camnet sends no mail: the admin
    hands it over). It lives ``PASSWORD_RESET_MINUTES``; an earlier unused link stops working."""
    user = manageable_user(user_id)
    if not user.active:
        raise ValidationFailed("user_id: Tài khoản đang bị khóa / The account is deactivated", field="user_id")
    secret = secrets.token_urlsafe(32)
    now = utc_now()
    with system_scope():
        _void_reset_links(user.id)
        row = PasswordReset(user_id=user.id, token_hash=_hash(secret), created_by_id=current_scope().user_id,
                            created_at=now,
                            expires_at=now + timedelta(minutes=current_app.config["PASSWORD_RESET_MINUTES"]))
        db.session.add(row)
        db.session.flush()
        audit.record("user.password_reset_issue", unit_id=user.unit_id, object_type="user", object_id=user.id,
                     detail={"expires_at": row.expires_at.isoformat()})
    db.session.commit()
    return row, secret


def reset_link_user(secret: str) -> User:
    """The user a live reset link is for; a used, expired or made-up link is refused."""
    with system_scope():
        found = db.session.execute(
            select(User).join(PasswordReset, PasswordReset.user_id == User.id)
            .where(PasswordReset.token_hash == _hash(secret or ""), PasswordReset.used_at.is_(None),
                   PasswordReset.expires_at > utc_now(), User.active.is_(True))).scalar_one_or_none()
    if found is None:
        raise ValidationFailed(INVALID_LINK, field="token")
    return found


def reset_password(secret: str, new: str, confirm: str | None = None) -> User:
    """Use a reset link: a new password under the rules, the link spent (once, even when two use it
    at the same moment), every session of the user ended."""
    user = reset_link_user(secret)
    check_password_for(new, username=user.username, roles=roles_of_id(user.id), field="new_password")
    if confirm is not None and confirm != new:
        raise ValidationFailed("confirm_password: Mật khẩu nhập lại không khớp / The passwords do not match",
                               field="confirm_password")
    now = utc_now()
    with system_scope():
        spent = db.session.execute(
            update(PasswordReset).where(PasswordReset.token_hash == _hash(secret), PasswordReset.used_at.is_(None),
                                        PasswordReset.expires_at > now).values(used_at=now)).rowcount
        if spent != 1:
            db.session.rollback()
            raise ValidationFailed(INVALID_LINK, field="token")
        row = db.session.execute(select(User).where(User.id == user.id)).scalar_one()
        row.password_hash = hash_password(new)
        ended = sessions.revoke_all_for_user(row.id, "password_reset")
        audit.record("user.password_reset", unit_id=row.unit_id, actor=row, object_type="user", object_id=row.id,
                     detail={"sessions_ended": ended})
    db.session.commit()
    return row
