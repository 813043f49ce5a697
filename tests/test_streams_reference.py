"""Resetting a camera's reference view after it was re-aimed on purpose: the API (who may, what it
writes, the "moved" ticket), the capture worker adopting the new view, and the camera page."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from camnet.extensions import db
from camnet.streams.models import Camera, FaultTicket
from camnet.tenants.models import AuditEvent
from camnet.tenants.scope import system_scope

from .capture_rig import add_camera, allow, capture_now, in_process_worker

REASON = "Đã xoay camera về phía cổng chợ theo đề nghị của thôn"


def _url(camera_id: int) -> str:
    return f"/api/v1/cameras/{camera_id}/reference/reset"


def _camera(camera_id: int) -> Camera:
    with system_scope():
        cam = db.session.get(Camera, camera_id)
        db.session.refresh(cam)
        db.session.expunge(cam)
        db.session.commit()
        return cam


def _tickets(camera_id: int) -> list[FaultTicket]:
    with system_scope():
        rows = db.session.execute(select(FaultTicket).where(FaultTicket.camera_id == camera_id)
                                  .order_by(FaultTicket.id)).scalars().all()
        for row in rows:
            db.session.expunge(row)
        db.session.commit()
        return rows


def _audit(action: str) -> list[AuditEvent]:
    with system_scope():
        rows = db.session.execute(select(AuditEvent).where(AuditEvent.action == action)
                                  .order_by(AuditEvent.id)).scalars().all()
        for row in rows:
            db.session.expunge(row)
        db.session.commit()
        return rows


def _moved_camera(world, key: str = "a") -> tuple[int, int, int]:
    """Commune ``key``'s camera with a stored reference, an open "moved" and an open "dark" ticket."""
    cam_id = world.streams[key]["camera"].id
    with system_scope():
        cam = db.session.get(Camera, cam_id)
        cam.reference_key = f"{cam.commune_id}/{cam.id}/reference.png"
        cam.health, cam.status = "moved", "faulty"
        moved = FaultTicket(camera_id=cam.id, commune_id=cam.commune_id, rule="moved", status="open",
                            opened_at=datetime.now(timezone.utc), detail={"reference_corr": 0.2})
        db.session.add(moved)
        db.session.flush()
        ids = (cam.id, moved.id, world.extra["ticket"][key][0].id)  # the world's open "dark" ticket
        db.session.commit()
    return ids


def _state(cam_id: int) -> tuple:
    """Everything a reset would write, to prove a refusal wrote nothing."""
    cam = _camera(cam_id)
    with system_scope():
        audits = db.session.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action.in_(("camera.reference_reset", "fault.close")))).scalar()
        db.session.commit()
    return (cam.reference_key, cam.reference_reset_at, cam.health,
            [(t.id, t.status, t.close_note) for t in _tickets(cam_id)], audits)


# ---- the API ---------------------------------------------------------------------------------

def test_reset_clears_the_reference_closes_the_moved_ticket_and_audits(any_app, world, client_for):
    cam_id, moved_id, dark_id = _moved_camera(world)
    resp = client_for("technician_a").post(_url(cam_id), json={"reason": REASON})
    assert resp.status_code == 200, resp.get_json()
    data = resp.get_json()
    assert data["camera"]["id"] == cam_id and data["reference_reset_at"]
    assert [t["id"] for t in data["closed_tickets"]] == [moved_id]

    cam = _camera(cam_id)
    assert cam.reference_key is None and cam.reference_reset_at is not None
    tickets = {t.id: t for t in _tickets(cam_id)}
    moved, dark = tickets[moved_id], tickets[dark_id]
    technician = world.users["technician_a"]
    assert (moved.status, moved.closed_by_id) == ("closed", technician.id) and moved.closed_at
    assert REASON in moved.close_note
    assert dark.status == "open"  # only the "moved" fault is explained by re-aiming

    [event] = _audit("camera.reference_reset")
    assert (event.unit_id, event.object_type, event.object_id) == (cam.commune_id, "camera", str(cam_id))
    assert (event.reason, event.actor_id) == (REASON, technician.id)
    assert event.detail["closed_tickets"] == [moved_id]
    assert event.detail["previous_reference_key"] == f"{cam.commune_id}/{cam_id}/reference.png"
    assert [e.object_id for e in _audit("fault.close")] == [str(moved_id)]

    # the operator (cameras.manage, no faults.manage) may too; nothing left to close, still audited
    first_reset = cam.reference_reset_at
    resp = client_for("operator_a").post(_url(cam_id), json={"reason": "Lắp lại sau bão"})
    assert resp.status_code == 200 and resp.get_json()["closed_tickets"] == []
    assert _camera(cam_id).reference_reset_at >= first_reset
    assert [e.actor_id for e in _audit("camera.reference_reset")] == [technician.id, world.users["operator_a"].id]


def test_the_openapi_document_names_both_permissions(app):
    op = app.test_client().get("/api/v1/openapi.json").get_json()["paths"][
        "/api/v1/cameras/{camera_id}/reference/reset"]["post"]
    assert op["x-permission-any"] == ["faults.manage", "cameras.manage"]
    assert op["x-example"]["reason"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schema == "ReferenceResetIn"


@pytest.mark.parametrize("username,key,status", [
    ("technician_a", "b", 404),   # a camera of another commune
    ("operator_a", "c", 404),     # ... of another district
    ("technician_b", "a", 404),   # a technician of another commune
    ("police_dist", "a", 403),    # sees the camera but may not re-aim anything
    ("chairman_a", "a", 403),
    ("sponsor_a", "a", 403),
])
def test_refusals_write_nothing(any_app, world, client_for, username, key, status):
    cam_id, _, _ = _moved_camera(world, key)
    before = _state(cam_id)
    resp = client_for(username).post(_url(cam_id), json={"reason": REASON})
    assert resp.status_code == status, resp.get_json()
    assert _state(cam_id) == before


@pytest.mark.parametrize("body", [{}, {"reason": "   "}, {"reason": "x" * 501}])
def test_a_reason_is_required(any_app, world, client_for, body):
    cam_id, _, _ = _moved_camera(world)
    before = _state(cam_id)
    resp = client_for("technician_a").post(_url(cam_id), json=body)
    assert resp.status_code == 422
    assert resp.get_json()["field"] == "reason"
    assert _state(cam_id) == before


def test_a_role_without_either_permission_is_refused_before_the_body_is_read(any_app, world, client_for):
    cam_id, _, _ = _moved_camera(world)
    assert client_for("sponsor_a").post(_url(cam_id), json={}).status_code == 403
    assert any_app.test_client().post(_url(cam_id), json={"reason": REASON}).status_code == 401


# ---- the worker --------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_worker_adopts_the_view_after_a_reset(make_app, http_sim, backend):
    """Real frames from the simulator through the in-process worker: a deliberate re-aim stops
    being "moved" once the worker's camera list shows the persisted reset."""
    app = make_app(backend, allow(http_sim.port))
    with app.app_context():
        from tests.world import build_world

        world = build_world(app)
        client = app.test_client()
        assert client.post("/login", data={"username": "technician_a",
                                           "password": world.password}).status_code == 302
        cam_id = add_camera(world.id("a"), "RF1", snapshot_url=http_sim.snapshot_url("rf1")).id
        worker = in_process_worker(app, "w-reference")
        worker.refresh()  # the worker's first camera list, as its refresh loop reads it
        slot = 1000

        def capture():
            nonlocal slot
            slot += 1
            [result] = capture_now(worker, cam_id, slot)
            return result.rule

        assert [capture() for _ in range(3)] == ["ok"] * 3
        old_key = _camera(cam_id).reference_key
        assert old_key
        http_sim.set_mode("rf1", "moved")  # the technician turns the camera to a new view
        assert [capture(), capture()] == ["ok", "moved"]
        assert [(t.rule, t.status) for t in _tickets(cam_id)] == [("moved", "open")]

        assert client.post(_url(cam_id), json={"reason": REASON}).status_code == 200
        assert [(t.rule, t.status) for t in _tickets(cam_id)] == [("moved", "closed")]
        # Until its next refresh the worker still compares with the old view: no second ticket.
        assert capture() == "moved"
        assert len(_tickets(cam_id)) == 1

        worker.refresh()
        assert capture() == "ok"  # the new view is the reference now
        cam = _camera(cam_id)
        assert (cam.health, cam.status, cam.reference_key) == ("ok", "active", old_key)
        worker.refresh()  # the stored key came back: reloaded from the store, still the new view
        assert [capture(), capture()] == ["ok", "ok"]
        assert len(_tickets(cam_id)) == 1

        # The old view is now the stranger: turning back is "moved" against the new reference.
        http_sim.set_mode("rf1", "normal")
        assert [capture(), capture()] == ["ok", "moved"]
        assert [(t.rule, t.status) for t in _tickets(cam_id)] == [("moved", "closed"), ("moved", "open")]


def test_a_worker_started_after_the_reset_adopts_the_view(make_app, http_sim):
    """The reset is durable: a worker that never saw the old reference (restart, another owner)
    finds no stored reference and takes its first healthy view."""
    app = make_app("sqlite", allow(http_sim.port))
    with app.app_context():
        from tests.world import build_world

        world = build_world(app)
        cam_id = add_camera(world.id("a"), "RF2", snapshot_url=http_sim.snapshot_url("rf2")).id
        first = in_process_worker(app, "w-before")
        for slot in (1, 2):
            capture_now(first, cam_id, slot)
        assert _camera(cam_id).reference_key
        http_sim.set_mode("rf2", "moved")
        client = app.test_client()
        client.post("/login", data={"username": "operator_a", "password": world.password})
        assert client.post(_url(cam_id), json={"reason": REASON}).status_code == 200

        later = in_process_worker(app, "w-after")
        later.refresh()
        rules = [capture_now(later, cam_id, slot)[0].rule for slot in (3, 4, 5)]
        assert rules == ["ok", "ok", "ok"]
        assert _camera(cam_id).reference_key and _tickets(cam_id) == []


def test_a_view_stored_just_before_the_reset_is_not_taken_back(make_app, http_sim):
    """A capture taken before the reset may write its reference after it (the writer batches):
    the stored key then names the old view again, but the reset mark still makes the worker
    adopt what the camera shows now."""
    from camnet.capture.cameras import load_cameras
    from camnet.capture.writer import write_results

    app = make_app("sqlite", allow(http_sim.port))
    with app.app_context():
        from tests.world import build_world

        world = build_world(app)
        cam_id = add_camera(world.id("a"), "RF3", snapshot_url=http_sim.snapshot_url("rf3")).id
        worker = in_process_worker(app, "w-race")
        worker.refresh()
        with system_scope():
            cam_info = load_cameras()[cam_id]
            db.session.commit()
        worker.capture(cam_info, 1)  # a brand-new camera: this old view becomes its reference ...
        [pending] = [worker.results.get()]
        assert pending.new_reference is not None

        client = app.test_client()
        client.post("/login", data={"username": "technician_a", "password": world.password})
        assert client.post(_url(cam_id), json={"reason": REASON}).status_code == 200
        with system_scope():
            write_results([pending], worker.name, worker.store)  # ... written after the reset
        assert _camera(cam_id).reference_key  # the old view's key is back in the row

        http_sim.set_mode("rf3", "moved")  # what the re-aimed camera shows
        worker.refresh()
        assert [capture_now(worker, cam_id, slot)[0].rule for slot in (2, 3, 4)] == ["ok"] * 3
        assert _tickets(cam_id) == []


# ---- the page ----------------------------------------------------------------------------------

def test_camera_page_offers_the_reset_to_those_who_may(app, world, client_for):
    cam_id, moved_id, _ = _moved_camera(world)
    page = f"/cameras/{cam_id}"
    for username in ("technician_a", "operator_a"):
        html = client_for(username).get(page).get_data(as_text=True)
        assert 'value="reference_reset"' in html and "Đặt lại khung nhìn chuẩn" in html
    for username in ("chairman_a", "police_dist"):
        assert 'value="reference_reset"' not in client_for(username).get(page).get_data(as_text=True)

    client = client_for("technician_a")
    resp = client.post(page, data={"action": "reference_reset", "reason": REASON})
    assert resp.status_code == 302
    html = client.get(page).get_data(as_text=True)
    assert "Đã đặt lại khung nhìn chuẩn" in html
    assert _camera(cam_id).reference_reset_at is not None
    assert {t.id: t.status for t in _tickets(cam_id)}[moved_id] == "closed"
    assert [e.reason for e in _audit("camera.reference_reset")] == [REASON]

    html = client.get(page + "?lang=en").get_data(as_text=True)
    assert "Reset the reference view" in html


def test_the_page_form_carries_a_csrf_token_and_refuses_a_blank_reason(make_app):
    app = make_app("sqlite", {"WTF_CSRF_ENABLED": True})
    with app.app_context():
        from tests.world import build_world

        world = build_world(app)
        cam_id = world.streams["a"]["camera"].id
        client = app.test_client()
        login = client.get("/login").get_data(as_text=True)
        token = login.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        client.post("/login", data={"username": "technician_a", "password": world.password,
                                    "csrf_token": token})
        html = client.get(f"/cameras/{cam_id}").get_data(as_text=True)
        form = html[html.index('value="reference_reset"') - 400:html.index('value="reference_reset"')]
        token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        resp = client.post(f"/cameras/{cam_id}", data={"action": "reference_reset", "reason": " ",
                                                       "csrf_token": token}, follow_redirects=True)
        assert "reason" in resp.get_data(as_text=True)
        assert _camera(cam_id).reference_reset_at is None and _audit("camera.reference_reset") == []
        resp = client.post(f"/cameras/{cam_id}", data={"action": "reference_reset", "reason": REASON,
                                                       "csrf_token": token})
        assert resp.status_code == 302 and _camera(cam_id).reference_reset_at is not None
