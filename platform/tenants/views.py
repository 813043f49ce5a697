"""Server-rendered pages: sign-in, a home per role, units, users, tokens, audit."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from pydantic import ValidationError
from sqlalchemy import select

from ..errors import DomainError, ForbiddenError, pydantic_errors
from ..extensions import db
from ..i18n import t
from . import services
from .models import AdminUnit, AuditEvent, User
from .roles import ROLE_LABELS, ROLES, roles_of
from .schemas import GrantIn, TokenIn, UnitIn, UserIn, VillageIn
from .scoping import current_scope, member_of

bp = Blueprint("tenants", __name__)


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
            user = services.authenticate(request.form.get("username", ""), request.form.get("password", ""),
                                         request.remote_addr)
        except DomainError as exc:
            error = exc.message
        else:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    return redirect(url_for("tenants.login"))


@bp.route("/")
@login_required
def home():
    scope = current_scope()
    roles = roles_of(current_user)
    units = services.list_units() if scope.can("units.read") else []
    communes = [u for u in units if u.is_commune]
    return render_template("home.html", roles=roles, role_labels=ROLE_LABELS, communes=communes,
                           units=units, scope=scope)


@bp.route("/units", methods=["GET", "POST"])
@login_required
def units():
    services.require("units.read")
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
                           can_manage=current_scope().can("units.manage"))


@bp.route("/units/<int:unit_id>", methods=["GET", "POST"])
@login_required
def unit_detail(unit_id: int):
    services.require("units.read")
    unit = services.get_scoped(AdminUnit, unit_id, "units.read")
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
    users = services.list_users(unit.id) if current_scope().can("users.read", unit.id) else []
    return render_template("unit.html", unit=unit, children=children, villages=villages, users=users,
                           can_manage=current_scope().can("units.manage", unit.id),
                           communes=services.communes_below(unit))


@bp.route("/users", methods=["GET", "POST"])
@login_required
def users():
    services.require("users.read")
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
    scope = current_scope()
    return render_template("users.html", users=services.list_users(), roles=ROLES, role_labels=ROLE_LABELS,
                           units=[u for u in services.list_units() if scope.can("users.manage", u.id)],
                           unit_names={u.id: u.name for u in services.list_units()},
                           can_manage=scope.can("users.manage"))


@bp.route("/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    secret = None
    if request.method == "POST":
        try:
            if request.form.get("revoke"):
                services.revoke_token(current_user, int(request.form["revoke"]))
                flash(t("Đã thu hồi mã", "Token revoked"), "ok")
            else:
                _, secret = services.create_token(current_user, _form(TokenIn))
        except ValidationError as exc:
            flash(pydantic_errors(exc).message, "error")
        except (DomainError, ValueError) as exc:
            flash(getattr(exc, "message", str(exc)), "error")
    return render_template("tokens.html", tokens=services.list_tokens(current_user), secret=secret)


@bp.route("/audit")
@login_required
def audit_log():
    scope = current_scope()
    if not scope.can("audit.read"):
        raise ForbiddenError()
    rows = db.session.execute(
        select(AuditEvent).where(member_of(AuditEvent.unit_id, scope.units_with("audit.read")))
        .order_by(AuditEvent.id.desc()).limit(200)
    ).scalars().all()
    names = {u.id: u.name for u in services.list_units()}
    return render_template("audit.html", rows=rows, names=names)


@bp.route("/me")
@login_required
def profile():
    user = db.session.execute(select(User).where(User.id == current_user.id)).scalar_one()
    return render_template("profile.html", user=user, roles=roles_of(user), role_labels=ROLE_LABELS)
