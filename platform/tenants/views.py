"""Server-rendered pages: sign-in, a home per role, units, users, tokens, audit, own account."""
from __future__ import annotations

from urllib.parse import urlsplit

from datetime import date, timedelta, timezone

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required, logout_user
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from .. import clock, labels
from ..clock import utc_now
from ..errors import DomainError, ForbiddenError, ValidationFailed, pydantic_errors
from ..extensions import db
from ..i18n import t
from ..names import HumanName
from . import access, accounts, audit, services, sessions, signin
from .auth import may_hold_tokens
from .idsets import member_of
from .models import AdminUnit, AuditEvent, User
from .roles import ROLE_LABELS, ROLES, roles_of
from .schemas import GrantIn, TokenIn, UnitIn, UserIn, VillageIn
from .scope import current_scope

bp = Blueprint("tenants", __name__)
# Set by the dashboards at start-up: ``figures(roles) -> {role: data}`` for the home page.
HOME_FIGURES = "camnet.home_figures"


def _describe_users(ids) -> dict[int, str]:
    return {i: f"{t('Người dùng', 'User')} {name} ({username})" for i, username, name in db.session.execute(
        select(User.id, User.username, User.full_name).where(User.id.in_(ids))).all()}


def _describe_units(ids) -> dict[int, str]:
    return dict(db.session.execute(select(AdminUnit.id, AdminUnit.name).where(AdminUnit.id.in_(ids))).all())


def is_platform_admin() -> bool:
    """For the menu: may the user open install-wide pages (system health)? Asked once a request."""
    if "camnet_platform_admin" not in g:
        try:
            access.require_platform_admin()
            g.camnet_platform_admin = True
        except ForbiddenError:
            g.camnet_platform_admin = False
    return g.camnet_platform_admin


@bp.app_context_processor
def _menu_helpers() -> dict:
    return {"is_platform_admin": is_platform_admin}


@bp.record_once
def _describe_audited_objects(state) -> None:
    labels.register_describer(state.app, "user", _describe_users)
    labels.register_describer(state.app, "unit", _describe_units)


class EditUser(BaseModel):
    """What the edit form changes (sign-in name, unit and roles have their own ways)."""
    model_config = ConfigDict(extra="forbid")
    full_name: HumanName = Field(..., min_length=1, max_length=200)
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")


def _form(model, **extra):
    data = {k: v for k, v in request.form.items() if k not in ("csrf_token", "action") and v != ""}
    data.update(extra)
    if "is_commune" in model.model_fields:
        data["is_commune"] = "is_commune" in request.form
    return model.model_validate(data)


def _safe_next(target: str | None) -> str:
    if target and not urlsplit(target).netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("tenants.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        try:
            # remote_addr is the real client behind trusted proxies (auth.RealClientAddress)
            user = services.authenticate(request.form.get("username", ""), request.form.get("password", ""),
                                         request.remote_addr)
        except DomainError as exc:
            error = exc.message
        else:
            return signin.first_factor_passed(user, "password", _safe_next(request.args.get("next")))
    return render_template("login.html", error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    accounts.sign_out(current_user)
    logout_user()
    sessions.forget_cookie()
    return redirect(url_for("tenants.login"))


@bp.route("/reset", methods=["GET", "POST"])
def password_reset():
    """A reset link (``?t=``, from an admin): a new password, then sign in again everywhere."""
    secret = request.args.get("t", "")
    headers = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}  # the link is a secret
    try:
        user = accounts.reset_link_user(secret)
    except ValidationFailed as exc:
        return render_template("password_reset.html", user=None, error=exc.message), 400, headers
    error = None
    if request.method == "POST":
        try:
            accounts.reset_password(secret, request.form.get("new_password", ""),
                                    request.form.get("confirm_password"))
        except ValidationFailed as exc:
            db.session.rollback()
            if exc.field == "token":  # spent by someone else a moment ago
                return render_template("password_reset.html", user=None, error=exc.message), 400, headers
            error = exc.message
        else:
            if current_user.is_authenticated:
                logout_user()
                sessions.forget_cookie()
            flash(t("Đã đặt mật khẩu mới, hãy đăng nhập", "New password set, please sign in"), "ok")
            return redirect(url_for("tenants.login"))
    return render_template("password_reset.html", user=user, error=error), (422 if error else 200), headers


@bp.route("/")
@login_required
def home():
    scope = current_scope()
    roles = roles_of(current_user)
    units = services.list_units() if access.may("units.read") else []
    communes = [u for u in units if u.is_commune]
    figures = current_app.extensions.get(HOME_FIGURES)
    return render_template("home.html", roles=roles, role_labels=ROLE_LABELS, communes=communes,
                           units=units, scope=scope, f=figures(roles) if figures else {})


@bp.route("/units", methods=["GET", "POST"])
@login_required
def units():
    access.require("units.read")
    if request.method == "POST":
        try:
            unit = services.create_unit(_form(UnitIn))
            flash(t("Đã tạo đơn vị ", "Unit created: ") + unit.name, "ok")
            return redirect(url_for("tenants.unit_detail", unit_id=unit.id))
        except ValidationError as exc:
            flash(pydantic_errors(exc).message, "error")
        except DomainError as exc:
            flash(exc.message, "error")
    return render_template("units.html", units=services.list_units(),
                           can_manage=access.may("units.manage"))


@bp.route("/units/<int:unit_id>", methods=["GET", "POST"])
@login_required
def unit_detail(unit_id: int):
    access.require("units.read")
    unit = access.get_scoped(AdminUnit, unit_id, "units.read")
    if request.method == "POST":
        try:
            services.create_village(unit.id, _form(VillageIn))
            flash(t("Đã thêm thôn/tổ dân phố", "Village added"), "ok")
        except ValidationError as exc:
            flash(pydantic_errors(exc).message, "error")
        except DomainError as exc:
            flash(exc.message, "error")
        return redirect(url_for("tenants.unit_detail", unit_id=unit.id))
    children = services.list_units(parent_id=unit.id)
    villages = services.list_villages(unit.id) if unit.is_commune else []
    users = services.list_users(unit.id) if access.may("users.read", unit.id) else []
    return render_template("unit.html", unit=unit, children=children, villages=villages, users=users,
                           can_manage=access.may("units.manage", unit.id),
                           communes=services.communes_below(unit))


@bp.route("/users", methods=["GET", "POST"])
@login_required
def users():
    access.require("users.read")
    if request.method == "POST":
        action = request.form.get("action", "create")
        try:
            if action == "grant":
                user_id = int(request.form.get("user_id", "0") or 0)
                data = {"role": request.form.get("role", ""), "unit_id": request.form.get("unit_id")}
                services.grant_role(user_id, GrantIn.model_validate(data))
                flash(t("Đã cấp vai trò", "Role granted"), "ok")
            else:
                user = services.create_user(_form(UserIn))
                flash(t("Đã tạo người dùng ", "User created: ") + user.username, "ok")
        except ValidationError as exc:
            flash(pydantic_errors(exc).message, "error")
        except DomainError as exc:
            flash(exc.message, "error")
        return redirect(url_for("tenants.users"))
    return _users_page()


def _users_page(reset_link: str | None = None, reset_for: str | None = None):
    return render_template("users.html", users=services.list_users(), roles=ROLES, role_labels=ROLE_LABELS,
                           units=[u for u in services.list_units() if access.may("users.manage", u.id)],
                           unit_names={u.id: u.name for u in services.list_units()},
                           can_manage=access.may("users.manage"),
                           manages=lambda u: access.may("users.manage", u.unit_id),
                           me=current_user.id, reset_link=reset_link, reset_for=reset_for)


@bp.route("/users/<int:user_id>/<any(deactivate, activate, 'sign-out-everywhere'):action>", methods=["POST"])
@login_required
def user_account(user_id: int, action: str):
    """An admin of the user's unit deactivates, reactivates or signs them out everywhere."""
    access.require("users.manage")
    try:
        if action == "sign-out-everywhere":
            count = accounts.sign_out_everywhere(user_id)
            flash(t(f"Đã đăng xuất {count} phiên", f"Signed out of {count} sessions"), "ok")
        else:
            user = accounts.set_active(user_id, action == "activate")
            flash((t("Đã mở khóa ", "Reactivated: ") if user.active else t("Đã khóa ", "Deactivated: "))
                  + user.username, "ok")
    except ValidationFailed as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("tenants.users"))


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@login_required
def user_edit(user_id: int):
    """An admin of the user's unit corrects their name and e-mail, or takes back a role."""
    access.require("users.manage")
    user = accounts.manageable_user(user_id)
    error, status = None, 200
    if request.method == "POST":
        try:
            if request.form.get("action") == "revoke":
                services.revoke_grant(user.id, int(request.form.get("grant_id", "0") or 0))
                flash(t("Đã thu hồi vai trò", "Role revoked"), "ok")
                return redirect(url_for("tenants.user_edit", user_id=user.id))
            data = EditUser.model_validate({"full_name": request.form.get("full_name", "").strip(),
                                            "email": request.form.get("email", "").strip() or None})
            changed = [k for k, v in data.model_dump().items() if getattr(user, k) != v]
            for k in changed:
                setattr(user, k, getattr(data, k))
            if changed:
                audit.record("user.update", unit_id=user.unit_id, object_type="user", object_id=user.id,
                             detail={"fields": changed})
            db.session.commit()
            flash(t("Đã lưu thông tin người dùng", "User saved"), "ok")
            return redirect(url_for("tenants.users"))
        except ValidationError as exc:
            db.session.rollback()
            error, status = pydantic_errors(exc).message, 422
        except DomainError as exc:
            db.session.rollback()
            error, status = exc.message, getattr(exc, "status", 422)
    return render_template("user_edit.html", user=user, error=error,
                           unit_names={u.id: u.name for u in services.list_units()}), status


@bp.route("/users/<int:user_id>/reset-link", methods=["POST"])
@login_required
def user_reset_link(user_id: int):
    """The link is shown once, on this page, for the admin to hand over (camnet sends no mail)."""
    access.require("users.manage")
    try:
        reset, secret = accounts.issue_reset_link(user_id)
    except ValidationFailed as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("tenants.users"))
    link = url_for("tenants.password_reset", t=secret, _external=True)
    target = db.session.execute(select(User.username).where(User.id == reset.user_id)).scalar_one()
    return _users_page(reset_link=link, reset_for=target), 200, {"Cache-Control": "no-store"}


@bp.route("/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    if not may_hold_tokens():
        raise ForbiddenError("Hộ gia đình và nhà tài trợ không dùng mã API / "
                             "Households and sponsors cannot hold API tokens")
    secret = None
    if request.method == "POST":
        try:
            if request.form.get("revoke"):
                services.revoke_token(current_user, int(request.form["revoke"]))
                flash(t("Đã thu hồi mã", "Token revoked"), "ok")
            else:
                days = request.form.get("days", "").strip()
                if days and not days.isdigit():
                    raise ValidationFailed("days: Số ngày không hợp lệ / Not a number of days", field="days")
                expires = (utc_now() + timedelta(days=int(days))) if days else None
                _, secret = services.create_token(current_user, TokenIn(name=request.form.get("name", ""),
                                                                        expires_at=expires))
        except ValidationError as exc:
            flash(pydantic_errors(exc).message, "error")
        except (DomainError, ValueError) as exc:
            flash(getattr(exc, "message", str(exc)), "error")
    rows = services.list_tokens(current_user)
    now = utc_now()
    expired = {tk.id for tk in rows if tk.expires_at is not None
               and (tk.expires_at if tk.expires_at.tzinfo else tk.expires_at.replace(tzinfo=timezone.utc)) <= now}
    return render_template("tokens.html", tokens=rows, secret=secret, expired=expired)


AUDIT_PAGE = 200


@bp.route("/audit")
@login_required
def audit_log():
    """The audit log in words, newest first, filtered by who, what, when (Vietnam dates) and where."""
    access.require("audit.read")
    scope = current_scope()
    units = services.list_units()
    communes = [u for u in units if u.is_commune]
    f = {k: (request.args.get(k) or "").strip() for k in ("who", "action", "from", "to", "unit_id")}
    stmt = select(AuditEvent).where(member_of(AuditEvent.unit_id, scope.units_with("audit.read")))
    if f["who"]:
        stmt = stmt.where(AuditEvent.actor_name.ilike(f"%{f['who'][:80]}%"))
    if f["action"]:
        stmt = stmt.where(AuditEvent.action == f["action"])
    try:
        if f["from"]:
            stmt = stmt.where(AuditEvent.at >= clock.vn_day_start(date.fromisoformat(f["from"])))
        if f["to"]:
            stmt = stmt.where(AuditEvent.at < clock.vn_day_start(date.fromisoformat(f["to"]) + timedelta(days=1)))
    except ValueError:
        flash(t("Ngày không hợp lệ (từ ngày / đến ngày)", "Not a date (from / to)"), "error")
    if f["unit_id"].isdigit():
        chosen = next((u for u in units if u.id == int(f["unit_id"])), None)
        if chosen is not None:
            stmt = stmt.where(member_of(AuditEvent.unit_id, [u.id for u in units if u.path.startswith(chosen.path)]))
    rows = db.session.execute(stmt.order_by(AuditEvent.id.desc()).limit(AUDIT_PAGE)).scalars().all()
    names = {u.id: u.name for u in units}
    objects = labels.describe_objects(current_app, [(e.object_type, e.object_id) for e in rows])
    people = dict(db.session.execute(select(User.username, User.full_name).where(
        User.username.in_({e.actor_name for e in rows if e.actor_name}))).all()) if rows else {}
    actions = sorted(labels.LABELS["audit_action"], key=lambda a: labels.label(a, "audit_action"))
    return render_template("audit.html", rows=rows, names=names, objects=objects, people=people, f=f,
                           actions=actions, communes=communes, limit=AUDIT_PAGE)


@bp.route("/me", methods=["GET", "POST"])
@login_required
def profile():
    """The user's own account: roles, password change and the sessions they have open."""
    error, status = None, 200
    if request.method == "POST":
        action = request.form.get("action", "")
        try:
            if action == "password":
                accounts.change_password(current_user, request.form.get("current_password", ""),
                                         request.form.get("new_password", ""),
                                         request.form.get("confirm_password"))
                flash(t("Đã đổi mật khẩu; các phiên khác đã bị đăng xuất",
                        "Password changed; your other sessions were signed out"), "ok")
            elif action == "end-session":
                accounts.end_own_session(current_user, int(request.form.get("session_id", "0") or 0))
                flash(t("Đã kết thúc phiên", "Session ended"), "ok")
            elif action == "end-others":
                accounts.end_other_sessions(current_user)
                flash(t("Đã đăng xuất mọi phiên khác", "Signed out of every other session"), "ok")
            else:
                raise ValidationFailed("action: unknown", field="action")
            return redirect(url_for("tenants.profile"))
        except (ValidationFailed, ValueError) as exc:
            db.session.rollback()
            error, status = getattr(exc, "message", str(exc)), 422
    user = db.session.execute(select(User).where(User.id == current_user.id)).scalar_one()
    return render_template("profile.html", user=user, roles=roles_of(user), role_labels=ROLE_LABELS,
                           sessions=sessions.list_for_user(user), current_session=sessions.current_id(),
                           error=error), status
