"""Evidence packages and the evidence log (issue #15, item 7): a package carries its log entry, the
checkpoint and the inclusion proof (``transparency.json``); the check compares the package with the
platform's record AND its log entry and names what differs; a court checks without an account."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import secrets
import zipfile

from sqlalchemy import func, select

from camnet.extensions import db
from camnet.incidents.models import EvidenceExport
from camnet.tenants.models import AuditEvent
from camnet.tenants.scope import system_scope
from camnet.transparency import keys, merkle, packages, services
from camnet.transparency.models import LogCheckpoint, LogCosignature, LogLeaf, LogNode, TransparencyLog
from camnet.transparency.note import Checkpoint, Verifier, open_checkpoint, sign_note, signer_from_seed

from .test_incidents_evidence import _export, _forge, _rezip

TABLES = (TransparencyLog, LogLeaf, LogNode, LogCheckpoint, LogCosignature, AuditEvent, EvidenceExport)


def _counts():
    with system_scope():
        out = {m.__tablename__: db.session.scalar(select(func.count()).select_from(m)) for m in TABLES}
        db.session.rollback()
    return out


def _public(app):
    # a client of its own address: the public check is limited per address
    return app.test_client(), {"REMOTE_ADDR": f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"}


def _check(app, data: bytes) -> dict:
    client, env = _public(app)
    resp = client.post("/transparency/evidence/verify", data={"file": (io.BytesIO(data), "goi.zip")},
                       content_type="multipart/form-data", environ_base=env)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return resp.get_json()


def _with_entry(data: bytes, change) -> bytes:
    """The package with its transparency.json changed by ``change(dict) -> dict``."""
    return _rezip(data, lambda n, b: json.dumps(change(json.loads(b))).encode() if n == "transparency.json" else b)


def test_the_package_carries_its_entry_checkpoint_and_proof(any_app, world, client_for):
    """The entry names the export, the manifest's hash and its signature (the columns the export
    records); the proof leads to a checkpoint signed with the log's key."""
    _, export_id, data = _export(client_for("police_dist"), world)
    zf = zipfile.ZipFile(io.BytesIO(data))
    entry = json.loads(zf.read("transparency.json"))
    manifest, sig = zf.read("manifest.json"), json.loads(zf.read("manifest.sig"))["signature"]
    with system_scope():
        export = db.session.get(EvidenceExport, export_id)
        assert export.sha256 == hashlib.sha256(data).hexdigest()  # the archive as built, proof included
        fields = packages.split_fields(base64.b64decode(entry["payload"]).decode())
        assert fields == [packages.FORMAT, str(export.commune_id), str(export.id), str(export.incident_id),
                          hashlib.sha256(manifest).hexdigest(), sig, export.signing_key_id]
        assert export.manifest_sha256 == fields[4] and export.signature == fields[5]
        log = services.get_log(db.session.connection(), export.commune_id, "evidence")
        db.session.rollback()
    cp = open_checkpoint(entry["checkpoint"], Verifier.parse(keys.verifier_key(log.origin)))
    leaf = merkle.leaf_hash(base64.b64decode(entry["salt"]) + base64.b64decode(entry["payload"]))
    merkle.verify_inclusion(entry["index"], cp.size, leaf, [base64.b64decode(h) for h in entry["proof"]], cp.root)
    assert entry["origin"] == log.origin and entry["verifier_key"] == keys.verifier_key(log.origin)


def test_a_court_checks_an_untouched_package_without_an_account(any_app, world, client_for):
    police = client_for("police_dist")
    _, export_id, data = _export(police, world)
    # the signed-in check says the same
    signed_in = police.post("/api/v1/evidence/verify", data={"file": (io.BytesIO(data), "g.zip")},
                            content_type="multipart/form-data").get_json()
    assert signed_in["ok"] is True and signed_in["log"] == "match"
    before = _counts()
    result = _check(any_app, data)
    assert result["ok"] is True and result["verdict"] == "khớp hồ sơ", result
    assert (result["signature"], result["record"], result["log"], result["problems"]) == ("valid", "match", "match", [])
    # only the verdict on the uploaded package: nothing of the platform's record is handed out
    assert set(result) == set(("ok", "verdict", "signature", "record", "log", "format", "export_id", "incident_id",
                               "files", "problems"))
    assert "reason" not in json.dumps(result) and "Chuyển hồ sơ" not in json.dumps(result)
    # the same files zipped again still match the record and the log
    assert _check(any_app, _rezip(data, lambda n, b: b))["ok"] is True
    assert _counts() == before  # checking writes nothing


def test_a_rewritten_package_resigned_with_another_key_differs_from_its_log_entry(any_app, world, client_for):
    """Self-consistent (files agree with the rewritten manifest, which carries a valid-looking
    signature): the log entry names the original manifest's hash and signature."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    _, _, data = _export(client_for("police_dist"), world)
    forged, name = _forge(data, sign_with=Ed25519PrivateKey.generate())
    result = _check(any_app, forged)
    assert result["ok"] is False and result["verdict"] == "không khớp hồ sơ" and result["log"] == "mismatch"
    assert any(p.startswith("manifest.json: SHA-256 khác mục nhật ký") for p in result["problems"]), result["problems"]
    assert any(p.startswith("manifest.sig: chữ ký khác mục nhật ký") for p in result["problems"])
    assert any(p.startswith(f"{name}: khác hồ sơ") for p in result["problems"])
    # without its transparency.json the platform's stored entry is compared: the same differences
    stripped = _check(any_app, _rezip(forged, lambda n, b: None if n == "transparency.json" else b))
    assert stripped["log"] == "mismatch"
    assert any(p.startswith("manifest.json: SHA-256 khác mục nhật ký") for p in stripped["problems"])


def test_a_tampered_proof_or_a_checkpoint_signed_by_another_key_is_named(any_app, world, client_for):
    _, _, data = _export(client_for("police_dist"), world)

    def flip(entry):
        proof = [base64.b64decode(h) for h in entry["proof"]] or [b"\x00" * 32]
        proof[0] = bytes([proof[0][0] ^ 1]) + proof[0][1:]
        return {**entry, "proof": [base64.b64encode(h).decode() for h in proof]}

    result = _check(any_app, _with_entry(data, flip))
    assert result["ok"] is False and result["log"] == "mismatch"
    assert any(p.startswith("transparency.json: bằng chứng không dẫn tới gốc") for p in result["problems"])
    assert result["record"] == "match"  # the files themselves are the exported ones

    def forked(entry):  # the attacker's own log: a checkpoint under the same origin, signed with their key
        leaf = merkle.leaf_hash(base64.b64decode(entry["salt"]) + base64.b64decode(entry["payload"]))
        body = Checkpoint(entry["origin"], 1, leaf).body()
        note = sign_note(body, signer_from_seed(entry["origin"], b"\x07" * 32))
        return {**entry, "index": 0, "size": 1, "proof": [], "checkpoint": note}

    result = _check(any_app, _with_entry(data, forked))
    assert result["ok"] is False and result["log"] == "mismatch"
    assert any("not signed by the log's key" in p for p in result["problems"]), result["problems"]

    result = _check(any_app, _rezip(data, lambda n, b: b"{not json" if n == "transparency.json" else b))
    assert result["log"] == "mismatch" and any(p.startswith("transparency.json: không đọc được")
                                               for p in result["problems"])


def test_a_checkpoint_the_platform_never_signed_at_that_size_is_a_fork(any_app, world, client_for):
    """A proof that verifies, against a checkpoint signed with the platform's own key (a leaked key,
    or a split view) for another history at that size: the platform's checkpoint there differs."""
    with system_scope():  # entries before the export, so its tree has other leaves to rewrite
        for i in range(3):
            services.append_entry(db.session.connection(), world.id("a"), "evidence", 10**12 + i, b"earlier")
        db.session.commit()
    _, _, data = _export(client_for("police_dist"), world)
    entry = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("transparency.json"))
    n, index = entry["size"], entry["index"]
    leaves = [hashlib.sha256(b"rewritten %d" % i).digest() for i in range(n)]
    leaves[index] = merkle.leaf_hash(base64.b64decode(entry["salt"]) + base64.b64decode(entry["payload"]))
    proof = [merkle.root_of(leaves[lo:hi]) for lo, hi in merkle.inclusion_ranges(index, n)]
    root = merkle.root_of(leaves)
    merkle.verify_inclusion(index, n, leaves[index], proof, root)  # the forged proof itself is sound
    note = sign_note(Checkpoint(entry["origin"], n, root).body(), keys.signer(entry["origin"]))
    forged = _with_entry(data, lambda e: {**e, "checkpoint": note,
                                          "proof": [base64.b64encode(h).decode() for h in proof]})
    result = _check(any_app, forged)
    assert result["ok"] is False and result["log"] == "mismatch"
    assert [p for p in result["problems"] if p.startswith("transparency.json")] == [
        "transparency.json: checkpoint khác checkpoint của nền tảng: nhật ký bị rẽ nhánh / the checkpoint differs "
        "from the platform's: a forked log"], result["problems"]


def test_the_public_check_is_limited_per_address_and_refuses_nonsense(any_app, world):
    client, env = _public(any_app)
    before = _counts()
    any_app.config["TLOG_VERIFY_PER_MINUTE"] = 3
    try:
        answers = [client.post("/transparency/evidence/verify", data=b"not a zip", content_type="application/zip",
                               environ_base=env) for _ in range(4)]
    finally:
        any_app.config["TLOG_VERIFY_PER_MINUTE"] = 10
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert answers[0].get_json()["ok"] is False and answers[0].get_json()["problems"] == [
        "không phải tệp zip / not a zip archive"]
    assert "Quá nhiều lần kiểm tra" in answers[3].get_data(as_text=True)
    client, env = _public(any_app)
    empty = client.post("/transparency/evidence/verify", data={}, environ_base=env)
    assert empty.status_code == 422 and "file" in empty.get_data(as_text=True)
    assert _counts() == before
