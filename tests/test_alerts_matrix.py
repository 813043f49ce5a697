"""Every kind of event x every user (every role) of the test world, like the isolation matrix: an
alert reaches only people who may see its commune and its kind of data, and never carries another
commune's names; subscribing to everything changes nothing about that."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from camnet.alerts import kinds as K
from camnet.alerts.dispatch import dispatch_pending
from camnet.alerts.models import Alert, AlertEvent, AlertMessage, AlertSubscription
from camnet.extensions import db
from camnet.tenants.models import User
from camnet.tenants.roles import scope_for_user
from camnet.tenants.scope import system_scope

from .world import FOREIGN

SPONSOR_ID = {"a": 9101, "b": 9102}


def _payload(world, kind: str, key: str) -> dict:
    mark = "" if key == "a" else f" {FOREIGN}"
    cam = world.extra["camera"][key][0]
    base = {"camera_id": cam.id, "camera_code": cam.code, "camera_name": cam.name, "interval": 1,
            "at": "2026-12-03T13:01:09+00:00"}
    return {
        "camera.offline": base, "camera.online": base,
        "fault.opened": {**base, "ticket_id": 1, "rule": "dark"},
        "fault.overdue": {**base, "ticket_id": 1, "rule": "dark", "opened_at": base["at"], "deadline_hours": 24},
        "incident.created": {"incident_id": 1, "title": f"Mất trộm{mark}"},
        "incident.referred": {"incident_id": 1, "title": f"Mất trộm{mark}"},
        "export.ready": {"export_id": 1, "incident_id": 1, "owner_user_ids": [world.users[f"operator_{key}"].id]},
        "consent.revoked": {**base, "consent_id": 1},
        "pledge.overdue": {"pledge_id": 1, "sponsor_id": SPONSOR_ID[key], "sponsor_name": f"Công ty{mark}",
                           "amount": 100, "paid": 0, "due_date": "2026-01-01"},
        "share.overdue": {"share_id": 1, "household_ref": f"HH-{key}", "campaign": f"Vận động{mark}",
                          "amount_due": 10, "paid": 0, "due_date": "2026-01-01"},
        "storage.quota": {"percent": 90, "quota_gb": 10},
        "ledger.broken": {"seq": 3, "reason": "hash"},
        "worker.lost": {"worker": "capture-1", "live": 0},
    }[kind]


DIRECT = [k for k in K.KINDS if k not in K.GROUPED.values()]


@pytest.fixture
def matrix(any_app, world):
    """One event of every kind in commune a and in commune b, dispatched; plus subscriptions to every
    kind on every channel, for every role at the root and for every user (wider than anyone may see)."""
    with system_scope():
        for key in ("a", "b"):
            db.session.get(User, world.users[f"sponsor_{key}"].id).sponsor_id = SPONSOR_ID[key]
            db.session.get(User, world.users[f"household_{key}"].id).household_ref = f"HH-{key}"
        root = world.id("root")
        for role in ("admin", "police", "chairman", "operator", "technician", "sponsor", "household"):
            db.session.add(AlertSubscription(unit_id=root, role=role, kind="*", channels=["email"]))
        for user in world.users.values():
            db.session.add(AlertSubscription(unit_id=user.unit_id, user_id=user.id, kind="*", channels=["email"]))
        db.session.query(AlertEvent).delete()  # the world's own events are other tests' business
        past = datetime.now(timezone.utc) - timedelta(minutes=5)  # camera events: their grouping window is over
        for kind in DIRECT:
            for key in (("root",) if kind == "worker.lost" else ("a", "b")):
                db.session.add(AlertEvent(kind=kind, unit_id=world.id(key), occurred_at=past,
                                          payload=_payload(world, kind, "a" if key == "root" else key)))
        db.session.commit()
        dispatch_pending()
        alert_kind = dict(db.session.execute(select(Alert.id, Alert.kind)).all())
        msgs = db.session.execute(select(AlertMessage.user_id, AlertMessage.unit_id, AlertMessage.alert_id,
                                         AlertMessage.body_vi, AlertMessage.body_en)).all()
        db.session.rollback()
    return [(uid, unit, alert_kind[aid], vi, en) for uid, unit, aid, vi, en in msgs]


def test_every_kind_reaches_only_who_may_see_it(any_app, world, matrix):
    by_id = {u.id: name for name, u in world.users.items()}
    with system_scope():
        scopes = {u.id: scope_for_user(u) for u in world.users.values()}
        db.session.rollback()
    seen = set()
    for uid, unit, kind, vi, en in matrix:
        name = by_id[uid]
        k = K.KINDS[kind]
        scope = scopes[uid]
        owner_ok = k.owner_perm is not None and scope.can(k.owner_perm, unit)
        assert scope.can(k.perm, unit) or owner_ok, (name, kind, unit)
        if not any(scope.sees(world.id(x)) for x in ("b",)) or unit == world.id("a"):
            assert FOREIGN not in vi and FOREIGN not in en, (name, kind)
        seen.add((name, kind, unit))
    a, b = world.id("a"), world.id("b")
    for name in ("chairman_a", "operator_a", "technician_a", "sponsor_a", "household_a", "nobody_a",
                 "police_dist2", "police_prov2"):
        assert not [s for s in seen if s[0] == name and s[2] == b], name  # never commune b
    # what each role of commune a hears of commune a, subscribed to everything
    hears = {name: sorted(kd for n, kd, u in seen if n == name and u == a) for name in world.users}
    # a technician sees cameras and faults: camera, fault, consent and storage alerts, no case, no money
    assert hears["technician_a"] == sorted(["camera.offline", "camera.online", "consent.revoked", "fault.opened",
                                            "fault.overdue", "storage.quota"])
    assert "incident.created" not in hears["chairman_a"] or "incidents.read" in scopes[world.users["chairman_a"].id].perms[a]
    assert hears["sponsor_a"] == ["pledge.overdue"]      # their own pledge only
    assert hears["household_a"] == ["share.overdue"]     # their own share only
    assert hears["nobody_a"] == []
    assert "export.ready" in hears["operator_a"] and "ledger.broken" not in hears["operator_a"]
    assert {n for n, kd, _ in seen if kd == "worker.lost"} == {"admin"}  # the platform's own: admins only
    assert set(hears["police_dist"]) >= {"incident.created", "fault.opened", "ledger.broken"}
    assert hears["police_dist2"] == [] and hears["police_prov2"] == []


def test_sponsor_hears_only_own_pledge_words(any_app, world, matrix):
    sponsor = world.users["sponsor_a"].id
    texts = [vi for uid, unit, kind, vi, en in matrix if uid == sponsor]
    assert texts and all("của quý vị" in t and "Công ty" not in t for t in texts)
