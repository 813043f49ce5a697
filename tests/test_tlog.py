"""Transparency logs: funding journal, evidence exports and footage access as signed Merkle-tree logs."""
from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from camnet.billing_socialization import ledger, receipts
from camnet.billing_socialization.models import JournalTransaction, Receipt
from camnet.billing_socialization.schemas import ReceiptIn
from camnet.extensions import db
from camnet.incidents.models import EvidenceExport
from camnet.tenants import audit
from camnet.tenants.scope import system_scope
from camnet.transparency import keys, merkle, services, store
from camnet.transparency.models import LogCheckpoint, LogCosignature, LogLeaf, LogNode, TransparencyLog
from camnet.transparency.note import NoteError, Verifier, open_checkpoint, parse_checkpoint, parse_note

VERIFY = Path(__file__).resolve().parent.parent / "scripts" / "tlog_verify.py"
TLOG_TABLES = (TransparencyLog, LogLeaf, LogNode, LogCheckpoint, LogCosignature)


def _counts():
    with system_scope():
        out = {m.__tablename__: db.session.scalar(select(func.count()).select_from(m)) for m in TLOG_TABLES}
        db.session.rollback()
        return out


def _log(commune_id, kind):
    with system_scope():
        row = services.get_log(db.session.connection(), commune_id, kind)
        db.session.rollback()
        return row


def _run_verify(tmp_path, *args, stdin_files: dict | None = None):
    for name, content in (stdin_files or {}).items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    # run from outside the repository with no camnet on the path: the script imports nothing of it
    return subprocess.run([sys.executable, "-I", str(VERIFY), *args], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)


def _post_receipt(unit_id, key, amount=1_000_000):
    with system_scope():
        sponsor_id = db.session.scalar(select(Receipt.sponsor_id).where(Receipt.commune_id == unit_id,
                                                                         Receipt.sponsor_id.is_not(None)).limit(1))
        r, _ = receipts.record_receipt(unit_id, ReceiptIn(idempotency_key=key, amount=amount, method="cash",
                                                          sponsor_id=sponsor_id))
        db.session.commit()
        return r


# ---- the tree ------------------------------------------------------------------------------

def _mth(hashes):
    if len(hashes) == 1:
        return hashes[0]
    k = merkle.split(len(hashes))
    return merkle.node_hash(_mth(hashes[:k]), _mth(hashes[k:]))


def test_tree_hashes_and_proofs_follow_rfc6962():
    """RFC 6962's recursive definition is the reference; every proof verifies, a wrong leaf does not."""
    assert merkle.root_of([]) == bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    # RFC 6962 test vector: the empty-string leaf
    assert merkle.leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    for n in (1, 2, 3, 5, 8, 13, 255, 256, 257, 600):
        leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
        root = _mth(leaves)
        assert merkle.root_of(leaves) == root

        def node(level, idx, leaves=leaves):
            return _mth(leaves[idx << level:(idx + 1) << level])

        for i in {0, n // 2, n - 1}:
            proof = [merkle.range_hash(lo, hi, node) for lo, hi in merkle.inclusion_ranges(i, n)]
            merkle.verify_inclusion(i, n, leaves[i], proof, root)
            if n > 1:
                with pytest.raises(merkle.ProofError):
                    merkle.verify_inclusion(i, n, leaves[(i + 1) % n], proof, root)
        for m in {1, n // 3 or 1, n - 1 or 1, n}:
            proof = [merkle.range_hash(lo, hi, node) for lo, hi in merkle.consistency_ranges(m, n)]
            merkle.verify_consistency(m, n, _mth(leaves[:m]), root, proof)
            if m < n:
                with pytest.raises(merkle.ProofError):
                    merkle.verify_consistency(m, n, merkle.leaf_hash(b"forged"), root, proof)


def test_stored_tiles_give_the_same_proofs_as_the_whole_tree(any_app, world):
    """Across tile boundaries (256) a proof read from stored tiles equals the one from all leaves."""
    unit = world.units["a"]
    with system_scope():
        conn = db.session.connection()
        log = services.get_log(conn, unit.id, "access", create=True)
        base = log.size
        store.append_many(conn, log.id, unit.id, ((i, f"bulk {i}".encode()) for i in range(600)))
        for i in range(200):  # single appends cross the tile boundary at 768
            store.append(conn, log.id, unit.id, 10_000 + i, f"one {i}".encode())
        db.session.commit()
        conn = db.session.connection()
        n = base + 800
        hashes = [bytes(h) for h in db.session.scalars(select(LogLeaf.leaf_hash).where(LogLeaf.log_id == log.id)
                                                       .order_by(LogLeaf.idx))]
        assert len(hashes) == n
        nodes = db.session.scalar(select(func.count()).select_from(LogNode).where(LogNode.log_id == log.id))
        assert nodes == n // 256
        tree = store.Tree(conn, log.id)
        root = merkle.root_of(hashes)
        assert tree.root(n) == root
        for i in (0, 255, 256, 511, 700, n - 1):
            merkle.verify_inclusion(i, n, hashes[i], tree.inclusion(i, n), root)
        for m in (1, 255, 256, 300, 512, 767, 768, n):
            merkle.verify_consistency(m, n, merkle.root_of(hashes[:m]), root, tree.consistency(m, n))
        db.session.rollback()


# ---- feeds ---------------------------------------------------------------------------------

def test_every_journal_transaction_is_a_leaf_of_the_commune_log(any_app, world):
    """Leaf i is transaction seq i+1; its payload is the chain's canonical bytes (SHA-256 = tx hash)."""
    unit = world.units["a"]
    _post_receipt(unit.id, "tlog-feed-1")
    with system_scope():
        txs = db.session.execute(select(JournalTransaction.id, JournalTransaction.seq, JournalTransaction.hash)
                                 .where(JournalTransaction.commune_id == unit.id)
                                 .order_by(JournalTransaction.seq)).all()
        log = services.get_log(db.session.connection(), unit.id, "funding")
        leaves = db.session.execute(select(LogLeaf).where(LogLeaf.log_id == log.id).order_by(LogLeaf.idx)).scalars().all()
        assert log.size == len(txs) == len(leaves) > 0
        for (tx_id, seq, digest), leaf in zip(txs, leaves, strict=True):
            assert leaf.idx == seq - 1 and leaf.ref_id == tx_id
            import hashlib
            assert hashlib.sha256(leaf.payload).hexdigest() == digest
            assert merkle.leaf_hash(leaf.salt + leaf.payload) == leaf.leaf_hash
        assert len({bytes(leaf.salt) for leaf in leaves}) == len(leaves)  # a fresh secret salt per entry
        result = services.audit(db.session.connection(), log) if services.latest_checkpoint(
            db.session.connection(), log.id) else None
        db.session.rollback()
    assert result is None or result["ok"]


def test_media_views_are_logged_and_a_status_change_alone_logs_no_export(any_app, world, client_for):
    """Footage access is logged from its audit row; an export is logged when its manifest is signed
    (``test_tlog_evidence``), never by a status flip that carries no manifest."""
    unit = world.units["a"]
    before = _counts()
    with system_scope():
        export = db.session.execute(select(EvidenceExport).where(EvidenceExport.commune_id == unit.id)).scalars().first()
        export.status, export.sha256, export.size, export.object_key = "ready", "ab" * 32, 123, "x/export.zip"
        db.session.commit()
        event = audit.record("media.view", unit_id=unit.id, object_type="snapshot", object_id=7, reason="Xem lại vụ trộm")
        audit.record("auth.signin", unit_id=unit.id)  # not a media access: no leaf
        db.session.commit()
        conn = db.session.connection()
        acc_leaf = services.leaf_by_ref(conn, services.get_log(conn, unit.id, "access"), event.id)
        assert b"media.view" in acc_leaf.payload and "Xem lại vụ trộm".encode() in acc_leaf.payload
        db.session.rollback()
    assert _counts()["tlog_leaves"] == before["tlog_leaves"] + 1


# ---- API, public endpoints, the standalone verifier ---------------------------------------

def test_household_receipt_proof_verifies_with_the_standalone_script(any_app, world, client_for, tmp_path):
    unit = world.units["a"]
    receipt = _post_receipt(unit.id, "tlog-proof-1", 2_500_000)
    resp = client_for("chairman_a").get(f"/api/v1/tlog/receipts/{receipt.id}/proof")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    bundle = resp.get_json()
    assert "2500000" in bundle["payload_text"]
    key = bundle["verifier_key"]
    assert key == keys.verifier_key(bundle["origin"])
    ok = _run_verify(tmp_path, "bundle", "--key", key, "b.json", stdin_files={"b.json": json.dumps(bundle)})
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("OK entry")
    # a neighbour's guess: another amount with the same salt does not verify
    forged = dict(bundle, payload=base64.b64encode(base64.b64decode(bundle["payload"]).replace(
        b"2500000", b"2500001")).decode())
    forged.pop("leaf_hash")
    bad = _run_verify(tmp_path, "bundle", "--key", key, "f.json", stdin_files={"f.json": json.dumps(forged)})
    assert bad.returncode == 1 and "FAIL" in bad.stderr
    # the public inclusion endpoint, by leaf hash, gives the proof without salt or payload
    anon = any_app.test_client()
    pub = anon.get(f"/transparency/{unit.id}/funding/proof/inclusion",
                   query_string={"leaf": bundle["leaf_hash"], "size": bundle["size"]})
    assert pub.status_code == 200
    assert pub.get_json()["proof"] == bundle["proof"] and "salt" not in pub.get_json()


def test_sponsor_reads_a_checkpoint_and_checks_the_log_only_grew(any_app, world, tmp_path):
    unit = world.units["a"]
    anon = any_app.test_client()
    first = anon.get(f"/transparency/{unit.id}/funding/checkpoint")
    assert first.status_code == 200 and first.mimetype == "text/plain"
    old_note = first.get_data(as_text=True)
    key = anon.get(f"/transparency/{unit.id}/funding/key").get_data(as_text=True).strip()
    old = open_checkpoint(old_note, Verifier.parse(key))
    for i in range(3):
        _post_receipt(unit.id, f"tlog-grow-{i}")
    with system_scope():
        conn = db.session.connection()
        new = services.issue_checkpoint(conn, services.get_log(conn, unit.id, "funding"), force=True)
        db.session.commit()
    assert new.size == old.size + 3
    resp = anon.get(f"/transparency/{unit.id}/funding/proof/consistency", query_string={"old": old.size, "new": new.size})
    assert resp.status_code == 200
    ok = _run_verify(tmp_path, "consistency", "--key", key, "old.txt", "new.json",
                     stdin_files={"old.txt": old_note, "new.json": resp.get_data(as_text=True)})
    assert ok.returncode == 0, ok.stderr
    cp = _run_verify(tmp_path, "checkpoint", "--key", key, "old.txt")
    assert cp.returncode == 0 and f"size {old.size}" in cp.stdout
    # checkpoints by size are served and immutable
    assert anon.get(f"/transparency/{unit.id}/funding/checkpoints/{old.size}").get_data(as_text=True) == old_note


def test_bad_proof_requests_name_the_field(any_app, world):
    unit = world.units["a"]
    anon = any_app.test_client()
    anon.get(f"/transparency/{unit.id}/funding/checkpoint")
    resp = anon.get(f"/transparency/{unit.id}/funding/proof/inclusion", query_string={"leaf": "not-a-hash" * 5},
                    headers={"Accept": "application/json"})
    assert resp.status_code == 422 and "leaf" in resp.get_data(as_text=True)
    resp = anon.get(f"/transparency/{unit.id}/funding/proof/consistency", query_string={"old": 5, "new": 999999},
                    headers={"Accept": "application/json"})
    assert resp.status_code == 404
    resp = anon.get(f"/transparency/{unit.id}/funding/proof/consistency", query_string={"old": "x", "new": 1},
                    headers={"Accept": "application/json"})
    assert resp.status_code == 422 and "old" in resp.get_data(as_text=True)
    assert anon.get(f"/transparency/{unit.id}/nonsense/checkpoint").status_code == 404
    assert anon.get(f"/transparency/{world.units['dist'].id}/funding/checkpoint").status_code == 404


@pytest.mark.parametrize("attacker", ["chairman_a", "police_dist2", "sponsor_a", "household_a", "operator_a"])
def test_another_communes_entries_answer_404_and_write_nothing(any_app, world, client_for, attacker):
    """The attacker asks for commune C's (or B's) receipt, transaction, export and access proofs."""
    victim = world.units["b"] if attacker != "police_dist2" else world.units["a"]
    with system_scope():
        receipt = db.session.execute(select(Receipt).where(Receipt.commune_id == victim.id)).scalars().first()
        export = db.session.execute(select(EvidenceExport).where(EvidenceExport.commune_id == victim.id)).scalars().first()
        event = audit.record("media.view", unit_id=victim.id, object_type="snapshot", object_id=1, reason="xem")
        urls = [f"/api/v1/tlog/receipts/{receipt.id}/proof",
                f"/api/v1/tlog/communes/{victim.id}/funding/proof?id={receipt.transaction_id}",
                f"/api/v1/tlog/exports/{export.id}/proof",
                f"/api/v1/tlog/communes/{victim.id}/access/proof?id={event.id}",
                f"/api/v1/tlog/communes/{victim.id}/audit?kind=funding"]
        db.session.commit()
    before = _counts()
    client = client_for(attacker)
    for url in urls:
        resp = client.get(url)
        assert resp.status_code in (403, 404), (url, resp.status_code)
        assert "salt" not in resp.get_data(as_text=True)
    resp = client.post(f"/api/v1/tlog/communes/{victim.id}/checkpoints", json={"kind": "funding"})
    assert resp.status_code in (403, 404)
    assert _counts() == before


def test_own_commune_entries_come_with_their_proofs(any_app, world, client_for):
    unit = world.units["a"]
    from .test_incidents_evidence import _export

    chairman, police = client_for("chairman_a"), client_for("police_dist")
    _, export_id, _ = _export(police, world)  # logged as its manifest is signed
    with system_scope():
        tx_id = db.session.scalar(select(JournalTransaction.id).where(JournalTransaction.commune_id == unit.id).limit(1))
        event = audit.record("media.download", unit_id=unit.id, object_type="clip", object_id=3, reason="Gửi công an")
        db.session.commit()
        event_id = event.id
    assert chairman.get(f"/api/v1/tlog/communes/{unit.id}/funding/proof?id={tx_id}").status_code == 200
    assert police.get(f"/api/v1/tlog/exports/{export_id}/proof").status_code == 200
    resp = police.get(f"/api/v1/tlog/communes/{unit.id}/access/proof?id={event_id}")
    assert resp.status_code == 200 and "Gửi công an" in resp.get_json()["payload_text"]
    assert chairman.get(f"/api/v1/tlog/exports/{export_id}/proof").status_code in (403, 404)  # no media.view
    resp = chairman.post(f"/api/v1/tlog/communes/{unit.id}/checkpoints", json={"kind": "funding"})
    assert resp.status_code == 201
    audit_resp = chairman.get(f"/api/v1/tlog/communes/{unit.id}/audit?kind=funding")
    assert audit_resp.status_code == 200 and audit_resp.get_json()["ok"]


# ---- migration of existing chains ----------------------------------------------------------

def test_an_old_chain_becomes_the_first_leaves_with_a_checkpoint_naming_its_head(any_app, world):
    unit = world.units["a"]
    hooks = list(ledger.AFTER_POST)
    ledger.AFTER_POST.clear()  # a journal written before the logs existed
    try:
        with system_scope():
            for i in range(4):
                _post_receipt(unit.id, f"tlog-old-{i}")
            head_seq, head_hash = ledger.head(unit.id)
            size_before = _log(unit.id, "funding").size
            db.session.rollback()
    finally:
        ledger.AFTER_POST[:] = hooks
    assert size_before == head_seq - 4
    _post_receipt(unit.id, "tlog-after")  # the next posting backfills first
    with system_scope():
        conn = db.session.connection()
        log = services.get_log(conn, unit.id, "funding")
        assert log.size == head_seq + 1
        cp = services.checkpoint_at(conn, log.id, head_seq)
        parsed = parse_checkpoint(parse_note(cp.note).body)
        assert parsed.extensions == (f"{services.CHAIN_HEAD} {head_seq} {head_hash}",)
        assert services.audit(conn, log)["ok"]
        db.session.rollback()


# ---- tampering and witnesses ----------------------------------------------------------------

def test_audit_names_a_rewritten_leaf(app, world):
    """SQLite has no append-only trigger, so a direct UPDATE stands for an attacker with the database."""
    unit = world.units["a"]
    with system_scope():
        conn = db.session.connection()
        log = services.get_log(conn, unit.id, "funding")
        services.issue_checkpoint(conn, log, force=True)
        db.session.commit()
        db.session.execute(text("UPDATE tlog_leaves SET payload = :p WHERE log_id = :l AND idx = 0"),
                           {"p": b"camnet-ledger/1|rewritten", "l": log.id})
        db.session.commit()
        result = services.audit(db.session.connection(), log)
        db.session.rollback()
    assert not result["ok"] and "leaf 0" in result["problems"][0]


def test_postgres_refuses_to_rewrite_a_leaf(pg_app, world):
    # the application role holds no UPDATE on append-only tables; the trigger stands behind that
    with system_scope():
        with pytest.raises(Exception, match="append-only|permission denied"):
            db.session.execute(text("UPDATE tlog_leaves SET payload = 'x' WHERE idx = 0"))
        db.session.rollback()


def _forked_note(conn, log, size, rewrite_index):
    """The same log key signs a history where entry ``rewrite_index`` was changed: a fork."""
    hashes = [bytes(h) for h in conn.execute(select(LogLeaf.leaf_hash).where(LogLeaf.log_id == log.id)
                                             .order_by(LogLeaf.idx)).scalars()][:size]
    hashes[rewrite_index] = merkle.leaf_hash(b"rewritten history")
    from camnet.transparency.note import Checkpoint, sign_note

    root = merkle.root_of(hashes)
    return sign_note(Checkpoint(log.origin, size, root).body(), keys.signer(log.origin)), hashes


def test_witness_refuses_a_fork_and_an_old_checkpoint_detects_it(any_app, world, tmp_path):
    from camnet.transparency.witness import Witness, build_request

    unit = world.units["a"]
    witness = Witness.init(tmp_path / "w", "witness.congan-huyen.example")
    with system_scope():
        conn = db.session.connection()
        log = services.get_log(conn, unit.id, "funding")
        witness.trust(keys.verifier_key(log.origin))
        services.cosign(conn, log, witness.add_checkpoint, witness.verifier_key())
        db.session.commit()
        conn = db.session.connection()
        old_cp = services.latest_checkpoint(conn, log.id)
        old_note = services.served_note(conn, old_cp)
    # a verifier requiring one witness accepts the cosigned checkpoint, refuses without the witness
    log_key, w_key = Verifier.parse(keys.verifier_key(log.origin)), Verifier.parse(witness.verifier_key())
    assert open_checkpoint(old_note, log_key, [w_key], threshold=1).size == old_cp.size
    with pytest.raises(NoteError):
        open_checkpoint(old_cp.note, log_key, [w_key], threshold=1)
    for i in range(2):
        _post_receipt(unit.id, f"tlog-wit-{i}")
    with system_scope():
        conn = db.session.connection()
        result = services.cosign(conn, log, witness.add_checkpoint, witness.verifier_key())  # honest growth
        db.session.commit()
        conn = db.session.connection()
        assert result["size"] == old_cp.size + 2
        honest_size = result["size"]
        _post_receipt(unit.id, "tlog-wit-fork")
        conn = db.session.connection()
        # the fork: entry 0 rewritten, the whole log re-signed at a larger size
        forked, hashes = _forked_note(conn, log, honest_size + 1, 0)

        def node(level, idx):
            return merkle.root_of(hashes[idx << level:(idx + 1) << level])

        proof = [merkle.range_hash(lo, hi, node) for lo, hi in merkle.consistency_ranges(honest_size, honest_size + 1)]
        db.session.rollback()
    answer = witness.add_checkpoint(build_request(honest_size, proof, forked))
    assert answer.status == 422 and "consistency" in answer.body
    # same size, different root: refused too
    with system_scope():
        same, _h = _forked_note(db.session.connection(), log, honest_size, 1)
        db.session.rollback()
    assert witness.add_checkpoint(build_request(honest_size, [], same)).status == 422
    # the verifier holding the old cosigned checkpoint checks the forked log's proof: detected
    old = open_checkpoint(old_note, log_key)
    old_proof = [merkle.range_hash(lo, hi, node) for lo, hi in merkle.consistency_ranges(old.size, honest_size + 1)]
    with pytest.raises(merkle.ProofError, match="forked|old root"):
        merkle.verify_consistency(old.size, honest_size + 1, old.root, parse_checkpoint(parse_note(forked).body).root,
                                  old_proof)
    # a stale old size gets 409 and the witness's size
    stale = witness.add_checkpoint(build_request(1, [], forked))
    assert stale.status == 409 and stale.body.strip() == str(honest_size)


# ---- tiles -----------------------------------------------------------------------------------

def test_publish_writes_tiles_and_checkpoint_served_without_the_app_database(any_app, world):
    unit = world.units["a"]
    with system_scope():
        conn = db.session.connection()
        log = services.get_log(conn, unit.id, "access", create=True)
        store.append_many(conn, log.id, unit.id, ((i, f"tile {i}".encode()) for i in range(300)))
        db.session.commit()
    result = any_app.test_cli_runner().invoke(args=["tlog", "publish", "--kind", "access"])
    assert result.exit_code == 0, result.output
    with system_scope():
        conn = db.session.connection()
        log = services.get_log(conn, unit.id, "access")
        size = services.latest_checkpoint(conn, log.id).size
        hashes = b"".join(store.read_stored(conn, log.id, 0, 0, size))
        db.session.rollback()
    anon = any_app.test_client()
    full = anon.get(f"/transparency/{unit.id}/access/tile/0/000")
    assert full.status_code == 200 and full.data == hashes[:256 * 32]
    part = anon.get(f"/transparency/{unit.id}/access/tile/0/001.p/{size - 256}")
    assert part.status_code == 200 and part.data == hashes[256 * 32:]
    objects = any_app.extensions["camnet.storage"]
    assert objects.get(f"tlog/{unit.id}/access/checkpoint").decode().startswith(log.origin + "\n")
    assert anon.get(f"/transparency/{unit.id}/access/tile/0/../../secret").status_code == 404


def test_transparency_page_is_public_and_loads_its_script(any_app, world):
    unit = world.units["a"]
    resp = any_app.test_client().get(f"/transparency/{unit.id}")
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert "transparency/verify.js" in body and "<script>" not in body
