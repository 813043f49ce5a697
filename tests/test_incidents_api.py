"""Incidents: logging, searching, roles, evidence holds, audited evidence views, categories."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from camnet.extensions import db
from camnet.incidents import services
from camnet.incidents.models import Incident
from camnet.streams.models import Clip, Snapshot
from camnet.tenants.models import AuditEvent
from camnet.tenants.scope import system_scope

from .world import FOREIGN
from .world_incidents import JPEG


def _one(world, kind, key="a"):
    return world.extra[kind][key][0]


def _new(world, **extra):
    cam = _one(world, "incident_camera")
    body = {"commune_id": world.id("a"), "category": "traffic_accident", "title": "Va chạm xe máy ngã tư",
            "occurred_at": "2026-01-05T21:30:00", "village_id": world.villages["a"].id, "road": "Ngã tư chợ",
            "camera_ids": [cam.id]}
    body.update(extra)
    return body


def test_operator_logs_an_incident_that_district_police_see_and_others_do_not(any_app, world, client_for):
    resp = client_for("operator_a").post("/api/v1/incidents", json=_new(world))
    assert resp.status_code == 201, resp.get_json()
    made = resp.get_json()
    assert made["status"] == "open" and made["camera_ids"] == [_one(world, "incident_camera").id]
    assert made["occurred_at"].startswith("2026-01-05T21:30:00+07:00")
    police = client_for("police_dist").get("/api/v1/incidents").get_json()
    assert made["id"] in [i["id"] for i in police]
    assert any(FOREIGN in i["title"] for i in police)  # commune b is below the district too
    other = client_for("police_dist2").get("/api/v1/incidents").get_json()
    assert made["id"] not in [i["id"] for i in other]
    assert client_for("police_dist2").get(f"/api/v1/incidents/{made['id']}").status_code == 404
    with system_scope():
        row = db.session.execute(select(AuditEvent).where(AuditEvent.action == "incident.create",
                                                          AuditEvent.object_id == str(made["id"]))).scalar_one()
        assert row.actor_name == "operator_a"


def test_district_police_log_incidents_in_their_communes_only(any_app, world, client_for):
    police = client_for("police_dist")
    assert police.post("/api/v1/incidents", json=_new(world, camera_ids=[])).status_code == 201
    body = _new(world, commune_id=world.id("c"), camera_ids=[], village_id=None)
    assert police.post("/api/v1/incidents", json=body).status_code == 404


def test_roles_without_incident_rights_are_refused(app, world, client_for):
    assert client_for("chairman_a").post("/api/v1/incidents", json=_new(world)).status_code == 403
    for user in ("technician_a", "sponsor_a", "household_a", "nobody_a"):
        assert client_for(user).get("/api/v1/incidents").status_code == 403, user


def test_bad_input_names_the_field_and_writes_nothing(app, world, client_for):
    client = client_for("operator_a")
    with system_scope():
        before = db.session.query(Incident).count()
    cases = [({"category": "no_such"}, "category"),
             ({"camera_ids": [_one(world, "incident_camera", "b").id]}, "camera_ids"),
             ({"village_id": world.villages["b"].id}, "village_id"),
             ({"property_recovered_vnd": -5}, "property_recovered_vnd"),
             ({"occurred_at": "2999-01-01T00:00:00"}, "occurred_at")]
    for change, field in cases:
        resp = client.post("/api/v1/incidents", json=_new(world, **change))
        assert resp.status_code == 422, (change, resp.get_json())
        assert resp.get_json()["field"] == field
    with system_scope():
        assert db.session.query(Incident).count() == before


def test_search_by_time_place_category_and_camera(app, world, client_for):
    client = client_for("police_prov")
    cam_a = _one(world, "incident_camera")
    client_for("operator_a").post("/api/v1/incidents", json=_new(world, occurred_at="2025-12-01T08:00:00"))
    got = client.get("/api/v1/incidents?category=traffic_accident").get_json()
    assert [i["title"] for i in got] == ["Va chạm xe máy ngã tư"]
    got = client.get("/api/v1/incidents?date_from=2025-11-30&date_to=2025-12-01").get_json()
    assert [i["title"] for i in got] == ["Va chạm xe máy ngã tư"]
    assert client.get("/api/v1/incidents?date_from=2025-12-02&date_to=2025-12-03").get_json() == []
    got = client.get("/api/v1/incidents?place=chợ").get_json()
    assert [i["title"] for i in got] == ["Va chạm xe máy ngã tư"]
    got = client.get(f"/api/v1/incidents?camera_id={cam_a.id}").get_json()
    assert len(got) == 2 and all(i["commune_id"] == world.id("a") for i in got)
    got = client.get(f"/api/v1/incidents?commune_id={world.id('d')}").get_json()
    assert got == []  # province 1 does not reach the two-tier province's ward


def test_evidence_is_held_while_open_and_for_the_hold_period_after_closing(any_app, world, client_for):
    client = client_for("operator_a")
    incident = _one(world, "incident")
    clip = _one(world, "incident_clip")
    resp = client.post(f"/api/v1/incidents/{incident.id}/evidence", json={"kind": "clip", "item_id": clip.id})
    assert resp.status_code == 201, resp.get_json()
    foreign_clip = _one(world, "incident_clip", "b")
    resp = client.post(f"/api/v1/incidents/{incident.id}/evidence", json={"kind": "clip", "item_id": foreign_clip.id})
    assert resp.status_code == 422 and resp.get_json()["field"] == "item_id"
    with system_scope():
        assert db.session.get(Clip, clip.id).evidence is True
    assert services.release_expired_holds(datetime.now(timezone.utc) + timedelta(days=5000)) == 0  # still open
    resp = client.patch(f"/api/v1/incidents/{incident.id}", json={"status": "resolved", "people_identified": 2})
    assert resp.get_json()["closed_at"] and resp.get_json()["people_identified"] == 2
    assert services.release_expired_holds(datetime.now(timezone.utc) + timedelta(days=30)) == 0
    with system_scope():
        assert db.session.get(Clip, clip.id).evidence is True
    assert services.release_expired_holds(datetime.now(timezone.utc) + timedelta(days=366)) == 2
    with system_scope():
        assert db.session.get(Clip, clip.id).evidence is False
        assert db.session.get(Snapshot, _one(world, "incident_snapshot").id).evidence is False


def test_viewing_evidence_needs_a_reason_and_is_audited(any_app, world, client_for):
    incident, ev = _one(world, "incident"), _one(world, "incident_evidence")
    url = f"/api/v1/incidents/{incident.id}/evidence/{ev.id}/media"
    police = client_for("police_dist")
    resp = police.get(url)
    assert resp.status_code == 422 and resp.get_json()["field"] == "reason"
    resp = police.get(url + "?reason=Xác minh vụ trộm xe")
    assert resp.status_code == 200 and resp.data == JPEG
    with system_scope():
        rows = db.session.execute(select(AuditEvent).where(AuditEvent.action == "media.view",
                                                           AuditEvent.object_type == "snapshot")).scalars().all()
        assert [(r.reason, r.actor_name) for r in rows] == [("Xác minh vụ trộm xe", "police_dist")]
    assert client_for("chairman_a").get(url + "?reason=tò mò xem thử").status_code == 403  # no media.view
    b_ev = _one(world, "incident_evidence", "b")
    assert client_for("operator_a").get(
        f"/api/v1/incidents/{incident.id}/evidence/{b_ev.id}/media?reason=thử id khác").status_code == 404


def test_incidents_for_cameras_gives_counts_by_category_only(app, world):
    cam = _one(world, "incident_camera")
    with system_scope():
        rows = services.incidents_for_cameras([cam.id])
    assert rows == [{"category": "theft", "label_vi": "Trộm cắp tài sản", "label_en": "Theft", "count": 1,
                     "clarified_by_camera": 1}]
    assert services.incidents_for_cameras([]) == []


def test_only_the_platform_admin_edits_categories(app, world, client_for):
    body = {"code": "fraud", "label_vi": "Lừa đảo", "label_en": "Fraud"}
    assert client_for("police_dist").post("/api/v1/incident-categories", json=body).status_code == 403
    admin = client_for("admin")
    made = admin.post("/api/v1/incident-categories", json=body)
    assert made.status_code == 201
    assert admin.post("/api/v1/incident-categories", json=body).status_code == 409
    resp = admin.patch(f"/api/v1/incident-categories/{made.get_json()['id']}", json={"label_en": "Scam"})
    assert resp.get_json()["label_en"] == "Scam"
    codes = [c["code"] for c in client_for("operator_a").get("/api/v1/incident-categories").get_json()]
    assert {"theft", "robbery", "assault", "property_damage", "illegal_racing", "loan_shark_flyers",
            "traffic_accident", "littering", "social_evils", "other", "fraud"} <= set(codes)


# ---- releasing the hold of evidence (finding 6) --------------------------------------------------

def _s3_app(make_app, live_services, backend):
    import uuid

    return make_app(backend, {"S3_ENDPOINT": live_services["CAMNET_TEST_S3"],
                              "S3_BUCKET": "hold-" + uuid.uuid4().hex[:12]})


def _held_on_store(app, key) -> bool:
    store = app.extensions["camnet.storage"]
    return store.client.is_object_legal_hold_enabled(store.bucket, key)


def _releases() -> list[tuple]:
    with system_scope():
        return db.session.execute(select(AuditEvent.action, AuditEvent.actor_name, AuditEvent.reason).where(
            AuditEvent.action.in_(["clip.evidence", "snapshot.evidence", "clip.evidence.release",
                                   "snapshot.evidence.release"])).order_by(AuditEvent.id)).all()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_operator_cannot_release_the_hold_of_evidence_an_incident_lists(make_app, live_services, backend):
    """An operator un-marks a held clip and snapshot: 409 naming the cases, the S3 hold stays on."""
    from .world import build_world

    app = _s3_app(make_app, live_services, backend)
    with app.app_context():
        world = build_world(app)
        client = app.test_client()
        assert client.post("/login", data={"username": "operator_a", "password": world.password}).status_code == 302
        incident, clip, snap = _one(world, "incident"), _one(world, "incident_clip"), _one(world, "incident_snapshot")
        assert client.post(f"/api/v1/incidents/{incident.id}/evidence",
                           json={"kind": "clip", "item_id": clip.id}).status_code == 201
        second = client.post("/api/v1/incidents", json=_new(world, title="Cướp giật điện thoại chợ"))
        second_id = second.get_json()["id"]
        assert client.post(f"/api/v1/incidents/{second_id}/evidence",
                           json={"kind": "clip", "item_id": clip.id}).status_code == 201
        assert _held_on_store(app, clip.object_key)
        app.extensions["camnet.storage"].set_legal_hold(snap.object_key, True)

        resp = client.post(f"/api/v1/clips/{clip.id}/evidence", json={"evidence": False, "reason": "không cần nữa"})
        assert resp.status_code == 409, resp.get_json()
        body = resp.get_json()
        assert body["field"] == "evidence" and "chưa đóng" in body["message"]
        assert f"Số vụ #{incident.id} «Mất trộm xe máy a»" in body["message"]
        assert f"Số vụ #{second_id} «Cướp giật điện thoại chợ»" in body["message"]
        resp = client.post(f"/api/v1/snapshots/{snap.id}/evidence", json={"evidence": False, "reason": "không cần"})
        assert resp.status_code == 409 and f"Số vụ #{incident.id}" in resp.get_json()["message"]
        # the police cannot either while the cases are open
        police = app.test_client()
        police.post("/login", data={"username": "police_dist", "password": world.password})
        assert police.post(f"/api/v1/clips/{clip.id}/evidence",
                           json={"evidence": False, "reason": "Vụ việc đã xong"}).status_code == 409
        assert _held_on_store(app, clip.object_key) and _held_on_store(app, snap.object_key)
        with system_scope():
            assert db.session.get(Clip, clip.id).evidence and db.session.get(Clip, clip.id).legal_hold
            assert db.session.get(Snapshot, snap.id).evidence
        assert _releases() == []


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_police_release_a_closed_cases_evidence_with_a_reason_and_it_is_audited(make_app, live_services, backend):
    from .world import build_world

    app = _s3_app(make_app, live_services, backend)
    with app.app_context():
        world = build_world(app)

        def client(name):
            c = app.test_client()
            assert c.post("/login", data={"username": name, "password": world.password}).status_code == 302
            return c

        operator, police = client("operator_a"), client("police_dist")
        incident, clip, snap = _one(world, "incident"), _one(world, "incident_clip"), _one(world, "incident_snapshot")
        assert operator.post(f"/api/v1/incidents/{incident.id}/evidence",
                             json={"kind": "clip", "item_id": clip.id}).status_code == 201
        assert operator.patch(f"/api/v1/incidents/{incident.id}", json={"status": "resolved"}).status_code == 200
        url = f"/api/v1/clips/{clip.id}/evidence"
        body = {"evidence": False, "reason": "Vụ việc đã kết thúc, hết thời hạn"}
        # the operator, a household, police of another district or province: refused, nothing written
        resp = operator.post(url, json=body)
        assert resp.status_code == 403 and "công an" in resp.get_json()["message"]
        assert client("household_a").post(url, json=body).status_code == 403
        assert client("police_dist2").post(url, json=body).status_code == 404
        assert client("police_prov2").post(url, json=body).status_code == 404
        resp = police.post(url, json={"evidence": False})
        assert resp.status_code == 422 and resp.get_json()["field"] == "reason"
        assert police.post(url, json={"evidence": False, "reason": "  "}).get_json()["field"] == "reason"
        assert _held_on_store(app, clip.object_key) and _releases() == []
        # the district police, with a reason
        resp = police.post(url, json=body)
        assert resp.status_code == 200, resp.get_json()
        assert resp.get_json()["evidence"] is False and resp.get_json()["legal_hold"] is False
        assert not _held_on_store(app, clip.object_key)
        resp = police.post(f"/api/v1/snapshots/{snap.id}/evidence", json=body)
        assert resp.status_code == 200 and resp.get_json()["evidence"] is False
        assert _releases() == [("clip.evidence.release", "police_dist", body["reason"]),
                               ("snapshot.evidence.release", "police_dist", body["reason"])]
        with system_scope():
            assert db.session.get(Clip, clip.id).legal_hold is False
            detail = db.session.execute(select(AuditEvent.detail).where(
                AuditEvent.action == "clip.evidence.release")).scalar_one()
            assert detail["incidents"] == [incident.id] and detail["store_hold_lifted"] is True


def test_an_item_no_incident_lists_is_unmarked_by_the_operator_as_before(app, world, client_for):
    clip = _one(world, "incident_clip")
    client = client_for("operator_a")
    assert client.post(f"/api/v1/clips/{clip.id}/evidence", json={"evidence": True}).get_json()["evidence"]
    resp = client.post(f"/api/v1/clips/{clip.id}/evidence", json={"evidence": False})
    assert resp.status_code == 200 and resp.get_json()["evidence"] is False
