"""Interoperability: Go's golang.org/x/mod/sumdb/note and sumdb/tlog check camnet's checkpoint signatures,
inclusion proofs and consistency proofs (tests/go/tlogcheck). The Go toolchain and x/mod come from Debian
(golang-go, golang-golang-x-mod-dev: scripts/services/install-system.sh), built in GOPATH mode so no
module proxy is needed."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from camnet.extensions import db
from camnet.tenants.scope import system_scope
from camnet.transparency import keys, services
from camnet.transparency.note import signer_from_seed

from .test_tlog import _post_receipt

ROOT = Path(__file__).resolve().parent.parent
GOPATH = "/usr/share/gocode"  # where golang-golang-x-mod-dev puts golang.org/x/mod


@pytest.fixture(scope="module")
def tlogcheck(tmp_path_factory):
    if not shutil.which("go") or not Path(GOPATH, "src/golang.org/x/mod/sumdb/tlog").is_dir():
        subprocess.run(["bash", str(ROOT / "scripts/services/install-system.sh")], check=True, timeout=600)
    out = tmp_path_factory.mktemp("go")
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": GOPATH, "GOCACHE": str(out / "cache"), "GOFLAGS": ""}
    subprocess.run(["go", "build", "-o", str(out / "tlogcheck"), "."], cwd=ROOT / "tests/go/tlogcheck", env=env,
                   check=True, capture_output=True, timeout=600)
    return out / "tlogcheck"


def _check(binary, payload: dict):
    return subprocess.run([str(binary)], input=json.dumps(payload), capture_output=True, text=True, timeout=60)


def test_go_sumdb_verifies_camnet_checkpoints_and_proofs(any_app, world, client_for, tlogcheck):
    unit = world.units["a"]
    with system_scope():
        conn = db.session.connection()
        log = services.get_log(conn, unit.id, "funding")
        old = services.issue_checkpoint(conn, log, force=True)
        old_note = services.served_note(conn, old)
        db.session.commit()
    receipt = _post_receipt(unit.id, "go-interop-1", 7_000_000)
    for i in range(5):
        _post_receipt(unit.id, f"go-interop-more-{i}")
    bundle = client_for("chairman_a").get(f"/api/v1/tlog/receipts/{receipt.id}/proof").get_json()
    consistency = any_app.test_client().get(f"/transparency/{unit.id}/funding/proof/consistency",
                                            query_string={"old": old.size, "new": bundle["size"]}).get_json()
    payload = {"key": keys.verifier_key(log.origin), "checkpoint": bundle["checkpoint"], "index": bundle["index"],
               "leaf_hash": bundle["leaf_hash"], "proof": bundle["proof"], "old_checkpoint": old_note,
               "consistency": consistency["proof"]}
    ok = _check(tlogcheck, payload)
    assert ok.returncode == 0 and ok.stdout.startswith(f"OK {log.origin}"), ok.stdout + ok.stderr

    # and Go refuses what is wrong: another leaf, a rewritten old checkpoint root, a foreign key
    wrong_leaf = _check(tlogcheck, {**payload, "leaf_hash": bundle["proof"][0]})
    assert wrong_leaf.returncode == 1 and "CheckRecord" in wrong_leaf.stdout
    assert _check(tlogcheck, {**payload, "consistency": consistency["proof"][1:]}).returncode == 1
    other_key = signer_from_seed(log.origin, b"\x01" * 32).verifier_key()
    bad_sig = _check(tlogcheck, {**payload, "key": other_key})
    assert bad_sig.returncode == 1 and "note.Open" in bad_sig.stdout
