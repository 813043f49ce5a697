"""Pages and small JSON endpoints: the alert list, acknowledging (in the app or by signed link),
subscription settings, push subscription, the rota of a commune and its repair times."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import login_required

from ..errors import DomainError, ValidationFailed
from ..i18n import t
from . import acks, services
from .channels import vapid_public_key
from .kinds import vn_time

bp = Blueprint("alerts", __name__, url_prefix="/alerts")


@bp.get("")
@login_required
def alert_list():
    return render_template("alerts/list.html", messages=services.my_messages(200), unread=services.unread_count())


@bp.get("/unread")
@login_required
def unread():
    return jsonify({"unread": services.unread_count()})


@bp.post("/<int:message_id>/read")
@login_required
def read_one(message_id: int):
    services.mark_read(message_id)
    return redirect(url_for("alerts.alert_list"))


@bp.post("/read-all")
@login_required
def read_all():
    services.mark_read()
    return redirect(url_for("alerts.alert_list"))


@bp.post("/<int:message_id>/ack")
@login_required
def ack(message_id: int):
    try:
        services.ack_in_app(message_id)
        flash(t("Đã xác nhận cảnh báo.", "Alert acknowledged."), "ok")
    except acks.LinkUsed as exc:
        flash(exc.message, "error")
    return redirect(url_for("alerts.alert_list"))


@bp.get("/<int:message_id>/log")
@login_required
def message_log(message_id: int):
    return jsonify({"message_id": message_id, "deliveries": services.delivery_log(message_id)})


@bp.route("/ack/<token>", methods=["GET", "POST"])
def ack_link(token: str):
    """GET shows the alert and a button (mail scanners follow links); POST acknowledges, once."""
    message = acks.message_for_token(token)
    if request.method == "POST":
        acks.ack_by_token(token)
        return render_template("alerts/ack.html", message=message, done=True), 200
    if message.acked_at is not None:
        return render_template("alerts/ack.html", message=message, done=False, used=True), 410
    return render_template("alerts/ack.html", message=message, done=False, used=False)


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings_page():
    secret = None
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "preferences":
                services.save_preferences(request.form)
            elif action == "subscription":
                services.save_subscription(request.form.get("kind", ""), request.form.get("enabled") == "on",
                                           request.form.getlist("channels"))
            elif action == "contact":
                _contact, secret = services.add_contact(request.form.get("channel", ""),
                                                        request.form.get("address", ""),
                                                        label=request.form.get("label"),
                                                        allowed=current_app.config["ALERTS_ALLOWED_NETWORKS"])
            elif action == "remove-contact":
                services.remove_contact(request.form.get("contact_id", type=int) or 0)
            else:
                raise ValidationFailed("action: không hợp lệ / unknown action", field="action")
            flash(t("Đã lưu.", "Saved."), "ok")
        except DomainError as exc:
            flash(exc.message, "error")
            return render_template("alerts/settings.html", **services.settings_for_me(), secret=None), exc.status
        if secret is None:
            return redirect(url_for("alerts.settings_page"))
    return render_template("alerts/settings.html", **services.settings_for_me(), secret=secret)


@bp.post("/push/subscribe")
@login_required
def push_subscribe():
    data = request.get_json(silent=True) or {}
    if not isinstance(data, dict) or not isinstance(data.get("keys"), dict):
        raise ValidationFailed("keys: đăng ký push thiếu khóa / the push subscription has no keys", field="keys")
    contact, _ = services.add_contact("push", str(data.get("endpoint") or ""), keys=data["keys"],
                                      label=str(data.get("label") or "trình duyệt / browser"),
                                      allowed=current_app.config["ALERTS_ALLOWED_NETWORKS"])
    return jsonify({"id": contact.id}), 201


@bp.get("/push/key")
@login_required
def push_key():
    return jsonify({"publicKey": vapid_public_key(current_app.config)})


@bp.route("/rota/<int:commune_id>", methods=["GET", "POST"])
@login_required
def rota_page(commune_id: int):
    status = 200
    if request.method == "POST":
        try:
            minutes = request.form.get("escalate_minutes", "").strip()
            try:
                minutes_value = int(minutes) if minutes else None
            except ValueError:
                raise ValidationFailed("escalate_minutes: phải là số / must be a number", field="escalate_minutes")
            services.save_rota(commune_id, request.form.get("rota", "").splitlines(), minutes_value)
            flash(t("Đã lưu lịch trực.", "Rota saved."), "ok")
            return redirect(url_for("alerts.rota_page", commune_id=commune_id))
        except ValidationFailed as exc:
            flash(exc.message, "error")
            status = exc.status
    unit, rows, settings, candidates = services.rota(commune_id)
    return render_template("alerts/rota.html", unit=unit, rows=rows, settings=settings, candidates=candidates,
                           default_minutes=current_app.config["ALERTS_ESCALATE_MINUTES"]), status


@bp.get("/repairs/<int:commune_id>")
@login_required
def repairs(commune_id: int):
    """The chairman's repair-time panel (a partial, to be included in the chairman's page), or JSON."""
    unit, months = services.repair_times(commune_id)
    if request.args.get("format") == "json":
        return jsonify({"commune_id": unit.id, "months": months})
    return render_template("alerts/repairs.html", unit=unit, months=months,
                           standalone=request.args.get("partial") != "1")


def init_filters(app) -> None:
    app.jinja_env.filters["vn_time"] = vn_time
    app.jinja_env.globals["alerts_unread"] = services.unread_count
    # The chairman's coverage page (dashboards, which may not import alerts) shows the repair times
    # through this global: the page includes alerts/_repairs_panel.html when it is registered.
    app.jinja_env.globals["alerts_repair_times"] = services.repair_times
