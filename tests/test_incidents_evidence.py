"""Evidence export: a reason is required, the archive carries media, manifest and custody log, it is
built in the background with progress, downloads are audited, and archives verify (API and CLI)."""
from __future__ import annotations

import io
import json
import time
import zipfile

from sqlalchemy import select

from camnet.extensions import db
from camnet.tenants.models import AuditEvent
from camnet.tenants.scoping import system_scope

from .world_incidents import JPEG, MP4


def _wait_ready(client, url):
    # Bounded wait for the background build: not a timing assertion, only a poll.
    for _ in range(200):
        data = client.get(url).get_json()
        if data["status"] in ("ready", "failed"):
            return data
        time.sleep(0.05)
    raise AssertionError(f"export never finished: {data}")


def _export(client, world):
    incident = world.extra["incident"]["a"][0]
    clip = world.extra["incident_clip"]["a"][0]
    assert client.post(f"/api/v1/incidents/{incident.id}/evidence",
                       json={"kind": "clip", "item_id": clip.id}).status_code == 201
    ev = world.extra["incident_evidence"]["a"][0]
    client.get(f"/api/v1/incidents/{incident.id}/evidence/{ev.id}/media?reason=Xem trước khi xuất")
    resp = client.post(f"/api/v1/incidents/{incident.id}/exports", json={"reason": "Chuyển hồ sơ cho Công an huyện"})
    assert resp.status_code == 202, resp.get_json()
    started = resp.get_json()
    assert started["status"] in ("pending", "building", "ready") and 0 <= started["progress"] <= 100
    url = f"/api/v1/incidents/{incident.id}/exports/{started['id']}"
    done = _wait_ready(client, url)
    assert done["status"] == "ready" and done["progress"] == 100 and done["files_done"] == 2, done
    archive = client.get(url + "/download")
    assert archive.status_code == 200 and archive.mimetype == "application/zip"
    return incident, started["id"], archive.data


def test_export_without_a_reason_is_refused_naming_reason(app, world, client_for):
    incident = world.extra["incident"]["a"][0]
    resp = client_for("operator_a").post(f"/api/v1/incidents/{incident.id}/exports", json={})
    assert resp.status_code == 422 and resp.get_json()["field"] == "reason"


def test_export_archive_holds_media_manifest_and_custody_log(any_app, world, client_for):
    incident, export_id, data = _export(client_for("operator_a"), world)
    zf = zipfile.ZipFile(io.BytesIO(data))
    manifest = json.loads(zf.read("manifest.json"))
    names = {f["name"]: f for f in manifest["files"]}
    snap = world.extra["incident_snapshot"]["a"][0]
    clip = world.extra["incident_clip"]["a"][0]
    assert zf.read(f"media/snapshot-{snap.id}.jpg") == JPEG and zf.read(f"media/clip-{clip.id}.mp4") == MP4
    assert names[f"media/clip-{clip.id}.mp4"]["size"] == len(MP4)
    assert names[f"media/snapshot-{snap.id}.jpg"]["captured_at"]
    assert manifest["reason"] == "Chuyển hồ sơ cho Công an huyện" and manifest["incident"]["id"] == incident.id
    custody = json.loads(zf.read("custody.json"))
    actions = [(c["action"], c["actor"]) for c in custody]
    assert ("incident.evidence.add", "operator_a") in actions
    assert ("media.view", "operator_a") in actions
    assert ("evidence.export", "operator_a") in actions
    with system_scope():
        rows = db.session.execute(select(AuditEvent.action, AuditEvent.reason).where(
            AuditEvent.action.in_(["evidence.export", "evidence.download"]))).all()
    assert sorted(rows) == [("evidence.download", "Chuyển hồ sơ cho Công an huyện"),
                            ("evidence.export", "Chuyển hồ sơ cho Công an huyện")]


def test_archive_verifies_and_tampering_is_caught(app, world, client_for, runner, tmp_path):
    client = client_for("police_dist")
    _, _, data = _export(client, world)
    ok = client.post("/api/v1/evidence/verify", data={"file": (io.BytesIO(data), "x.zip")},
                     content_type="multipart/form-data").get_json()
    assert ok["ok"] is True and ok["problems"] == []
    # swap the snapshot's bytes: same name, different content
    tampered = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            blob = src.read(item.filename)
            dst.writestr(item.filename, blob.replace(b"camnet-test-frame", b"camnet-TEST-frame")
                         if item.filename.endswith(".jpg") else blob)
    bad = client.post("/api/v1/evidence/verify", data=tampered.getvalue(), content_type="application/zip").get_json()
    assert bad["ok"] is False and any("sha256 differs" in p for p in bad["problems"])
    assert client.post("/api/v1/evidence/verify", json={}).status_code == 422
    good_file, bad_file = tmp_path / "good.zip", tmp_path / "bad.zip"
    good_file.write_bytes(data)
    bad_file.write_bytes(tampered.getvalue())
    result = runner.invoke(args=["incident", "verify-archive", str(good_file)])
    assert result.exit_code == 0 and "VERIFIED" in result.output
    result = runner.invoke(args=["incident", "verify-archive", str(bad_file)])
    assert result.exit_code == 1 and "FAILED" in result.output


def test_roles_without_media_rights_cannot_export(app, world, client_for):
    incident = world.extra["incident"]["a"][0]
    body = {"reason": "Muốn xem thử chứng cứ"}
    assert client_for("chairman_a").post(f"/api/v1/incidents/{incident.id}/exports", json=body).status_code == 403
    foreign = world.extra["incident"]["c"][0]
    assert client_for("police_dist").post(f"/api/v1/incidents/{foreign.id}/exports", json=body).status_code == 404


def test_export_pages_show_progress_and_the_download(app, world, client_for):
    client = client_for("operator_a")
    incident = world.extra["incident"]["a"][0]
    resp = client.post(f"/incidents/{incident.id}", data={"action": "export", "reason": ""})
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "reason" in page  # the flash names the missing field
    resp = client.post(f"/incidents/{incident.id}", data={"action": "export", "reason": "Gửi Công an huyện"})
    assert resp.status_code == 302 and "/exports/" in resp.headers["Location"]
    export_id = int(resp.headers["Location"].rstrip("/").split("/")[-1])
    _wait_ready(client, f"/api/v1/incidents/{incident.id}/exports/{export_id}")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="export-progress"' in page and "Tải gói chứng cứ" in page
    assert client.get(f"/incidents/{incident.id}/exports/{export_id}/download").mimetype == "application/zip"
