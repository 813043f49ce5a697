"""Evidence export: a reason is required, the archive carries media, manifest and custody log, it is
built in the background with progress, downloads are audited, and archives verify (API and CLI)."""
from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

from sqlalchemy import select

from camnet.extensions import db
from camnet.tenants.models import AuditEvent
from camnet.tenants.scope import system_scope

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


# ---- the check against the platform's record and signature (finding 13) ---------------------------

def _rezip(data: bytes, change) -> bytes:
    """A copy of the archive with ``change(name, blob) -> blob | None`` applied (None drops a file)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            blob = change(item.filename, src.read(item.filename))
            if blob is not None:
                dst.writestr(item.filename, blob)
    return out.getvalue()


def _forge(data: bytes, sign_with=None) -> tuple[bytes, str]:
    """Swap the snapshot for another image and rewrite its hash and size in manifest.json; with
    ``sign_with`` (an Ed25519 key) sign the rewritten manifest too."""
    import base64
    import hashlib

    fake = JPEG.replace(b"camnet-test-frame", b"camnet-FAKE-frame") + b"extra"
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))
    name = next(f["name"] for f in manifest["files"] if f["kind"] == "snapshot")
    for f in manifest["files"]:
        if f["name"] == name:
            f["sha256"], f["size"] = hashlib.sha256(fake).hexdigest(), len(fake)
    new_manifest = json.dumps(manifest, ensure_ascii=False, indent=1).encode()

    def change(n, blob):
        if n == name:
            return fake
        if n == "manifest.json":
            return new_manifest
        if n == "manifest.sig" and sign_with is not None:
            sig = json.loads(blob)
            sig["signature"] = base64.b64encode(sign_with.sign(new_manifest)).decode()
            return json.dumps(sig).encode()
        return blob

    return _rezip(data, change), name


def _verify(client, data: bytes) -> dict:
    resp = client.post("/api/v1/evidence/verify", data={"file": (io.BytesIO(data), "goi.zip")},
                       content_type="multipart/form-data")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return resp.get_json()


def test_an_untouched_package_matches_the_record_and_its_signature(any_app, world, client_for):
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    client = client_for("police_dist")
    _, export_id, data = _export(client, world)
    result = _verify(client, data)
    assert result["ok"] is True and result["verdict"] == "khớp hồ sơ", result
    assert (result["signature"], result["record"], result["problems"]) == ("valid", "match", [])
    # the same files zipped again (another compression) still match the record
    again = _verify(client, _rezip(data, lambda n, b: b))
    assert again["ok"] is True and again["record"] == "match"
    # anyone checks manifest.sig with the published key, without the platform
    anonymous = any_app.test_client()
    key = anonymous.get("/.well-known/camnet-evidence-key")
    assert key.status_code == 200 and key.get_data(as_text=True).startswith("-----BEGIN PUBLIC KEY-----")
    import base64

    zf = zipfile.ZipFile(io.BytesIO(data))
    sig = json.loads(zf.read("manifest.sig"))
    load_pem_public_key(key.data).verify(base64.b64decode(sig["signature"]), zf.read("manifest.json"))
    assert sig["key_id"] == key.headers["X-Key-Id"] == result["key_id"]
    raw = anonymous.get("/.well-known/camnet-evidence-key?format=raw").get_data(as_text=True).strip()
    assert len(base64.b64decode(raw)) == 32


def test_a_forged_package_with_a_rewritten_manifest_does_not_match_the_record(any_app, world, client_for):
    """Swap an image, rewrite its hash in manifest.json: self-consistent, yet not what was exported."""
    client = client_for("police_dist")
    _, _, data = _export(client, world)
    forged, name = _forge(data)
    result = _verify(client, forged)
    assert result["ok"] is False and result["verdict"] == "không khớp hồ sơ"
    assert result["record"] == "mismatch" and result["signature"] == "invalid"
    assert not any("manifest" in p and name in p for p in result["problems"])  # consistent with itself
    assert any(p.startswith(f"{name}: khác hồ sơ lúc xuất") for p in result["problems"]), result["problems"]
    assert any(p.startswith("manifest.json: khác hồ sơ") for p in result["problems"])
    assert any(p.startswith("manifest.sig: chữ ký không hợp lệ") for p in result["problems"])
    bad = {f["name"]: f for f in result["files"]}
    assert bad[name]["ok"] is False and all(f["ok"] for n, f in bad.items() if n != name)
    # the page says so, naming the file
    page = client.post("/incidents/verify", data={"file": (io.BytesIO(forged), "goi.zip")},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert "Không khớp hồ sơ" in page and name in page and "Khớp hồ sơ của nền tảng" not in page
    assert "KHÔNG hợp lệ" in page and 'id="signing-key"' in page


def test_a_package_signed_by_another_key_is_refused_as_signature_invalid(app, world, client_for):
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    client = client_for("police_dist")
    _, _, data = _export(client, world)
    other = Ed25519PrivateKey.generate()
    forged, name = _forge(data, sign_with=other)
    result = _verify(client, forged)
    assert result["ok"] is False and result["signature"] == "invalid" and result["record"] == "mismatch"
    assert any(p.startswith(f"{name}: khác hồ sơ") for p in result["problems"])
    # the real files with only the signature made by another key: the record matches, the signature not
    manifest = zipfile.ZipFile(io.BytesIO(data)).read("manifest.json")
    other_sig = base64.b64encode(other.sign(manifest)).decode()
    resigned = _rezip(data, lambda n, b: json.dumps({**json.loads(b), "signature": other_sig}).encode()
                      if n == "manifest.sig" else b)
    result = _verify(client, resigned)
    assert result["ok"] is False and result["record"] == "match" and result["signature"] == "invalid"
    unsigned = _verify(client, _rezip(data, lambda n, b: None if n == "manifest.sig" else b))
    assert unsigned["ok"] is False and unsigned["signature"] == "missing"


def test_a_package_of_an_unknown_export_is_refused(app, world, client_for):
    client = client_for("police_dist")
    _, export_id, data = _export(client, world)

    def renumber(n, blob):
        if n != "manifest.json":
            return blob
        m = json.loads(blob)
        m["export_id"] = export_id + 1000
        return json.dumps(m).encode()

    result = _verify(client, _rezip(data, renumber))
    assert result["ok"] is False and result["record"] == "unknown" and result["signature"] == "invalid"
    assert any("unknown export" in p for p in result["problems"])


def test_the_record_of_each_file_is_kept_at_export(app, world, client_for):
    import hashlib

    from camnet.incidents.models import EvidenceExport

    _, export_id, data = _export(client_for("operator_a"), world)
    with system_scope():
        export = db.session.get(EvidenceExport, export_id)
        zf = zipfile.ZipFile(io.BytesIO(data))
        assert export.sha256 == hashlib.sha256(data).hexdigest()
        assert export.manifest_sha256 == hashlib.sha256(zf.read("manifest.json")).hexdigest()
        assert {r["name"]: r["sha256"] for r in export.recorded_files} == {
            n: hashlib.sha256(zf.read(n)).hexdigest() for n in zf.namelist() if n.startswith("media/")
            or n == "custody.json"}


def test_verification_still_needs_a_signed_in_user(app, world):
    anonymous = app.test_client()
    resp = anonymous.post("/api/v1/evidence/verify", data=b"PK", content_type="application/zip")
    assert resp.status_code == 401
    assert anonymous.get("/incidents/verify").status_code in (302, 401)


def test_the_signing_key_comes_from_the_setting(make_app):
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    seed = base64.b64encode(key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                              serialization.NoEncryption())).decode()
    app = make_app("sqlite", {"EVIDENCE_SIGNING_KEY": seed})
    pem = app.test_client().get("/.well-known/camnet-evidence-key").data
    assert pem == key.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    generated = make_app("sqlite")
    other = generated.test_client().get("/.well-known/camnet-evidence-key").data
    assert other != pem and (Path(generated.config["INSTANCE_DIR"]) / "evidence-signing.key").stat().st_mode & 0o077 == 0
