"""The funding ledger: balanced transactions, the hash chain, tamper evidence, append-only, reversals."""
from __future__ import annotations

from datetime import date

import psycopg
import pytest
from sqlalchemy import func, select, text

from camnet.billing_socialization import ledger
from camnet.billing_socialization.models import JournalTransaction, Posting
from camnet.extensions import db
from camnet.tenants.scope import system_scope

from . import services


def _receipt(client, unit_id, key, amount=2_000_000, **extra):
    body = {"idempotency_key": key, "amount": amount, "method": "cash", **extra}
    return client.post(f"/api/v1/funding/communes/{unit_id}/receipts", json=body)


def test_every_transaction_balances_and_the_chain_verifies(any_app, world, client_for):
    a = world.id("a")
    sponsor = world.extra["sponsor"]["a"][0]
    client = client_for("chairman_a")
    assert _receipt(client, a, "ledger-test-1", sponsor_id=sponsor.id).status_code == 201
    with system_scope():
        txs = db.session.execute(select(JournalTransaction).where(JournalTransaction.commune_id == a)
                                 .order_by(JournalTransaction.seq)).scalars().all()
        assert [t.seq for t in txs] == list(range(1, len(txs) + 1))
        for prev, tx in zip([None] + txs[:-1], txs, strict=True):
            assert len(tx.postings) >= 2 and sum(p.amount for p in tx.postings) == 0
            assert tx.prev_hash == (prev.hash if prev else ledger.GENESIS)
        assert ledger.check_balances(a) == []
    result = client.get(f"/api/v1/funding/communes/{a}/verify").get_json()
    assert result["ok"] and result["transactions"] == len(txs) and result["head_hash"] == txs[-1].hash
    old = client.get(f"/api/v1/funding/communes/{a}/verify?seq=2&hash={txs[1].hash}").get_json()
    assert old["checked"]["matches"] is True


def test_reversal_points_at_what_it_reverses_and_cancels_it(app, world, client_for):
    a = world.id("a")
    client = client_for("chairman_a")
    receipt = _receipt(client, a, "ledger-rev-1", 3_000_000, sponsor_id=world.extra["sponsor"]["a"][0].id).get_json()
    before = client.get(f"/api/v1/funding/communes/{a}/report").get_json()
    resp = client.post(f"/api/v1/funding/receipts/{receipt['id']}/reverse", json={"reason": "ghi nhầm"})
    assert resp.status_code == 200 and resp.get_json()["reversed"]
    assert client.post(f"/api/v1/funding/receipts/{receipt['id']}/reverse", json={"reason": "lần hai"}).status_code == 409
    after = client.get(f"/api/v1/funding/communes/{a}/report").get_json()
    assert after["raised"] == before["raised"] - 3_000_000 and after["cash"] == before["cash"] - 3_000_000
    last = client.get(f"/api/v1/funding/communes/{a}/transactions?limit=1").get_json()[0]
    original = next(t for t in client.get(f"/api/v1/funding/communes/{a}/transactions").get_json()
                    if t["id"] == receipt["transaction_id"])
    assert last["kind"] == "reversal" and last["reverses_seq"] == original["seq"]
    assert sorted(p["amount"] for p in last["postings"]) == sorted(-p["amount"] for p in original["postings"])
    assert client.get(f"/api/v1/funding/communes/{a}/verify").get_json()["ok"]


def test_a_posting_edited_behind_the_apps_back_is_caught_sqlite(app, world, runner):
    a = world.id("a")
    with system_scope():
        victim = db.session.execute(select(Posting).where(Posting.commune_id == a).order_by(Posting.id)
                                    .offset(4).limit(2)).scalars().all()
        tx_id = victim[0].transaction_id
        seq = db.session.get(JournalTransaction, tx_id).seq
        # Both lines of the transaction change, so it still balances: only the hash can tell.
        for p in db.session.execute(select(Posting).where(Posting.transaction_id == tx_id)).scalars():
            db.session.execute(text("UPDATE postings SET amount = :v WHERE id = :i"),
                               {"v": p.amount * 2, "i": p.id})
        db.session.commit()
        result = ledger.verify(a)
    assert not result["ok"]
    assert result["first_broken"]["seq"] == seq and "hash" in result["first_broken"]["reason"]
    out = runner.invoke(args=["ledger", "verify", "--commune", "A"])
    assert out.exit_code == 1 and f"seq {seq}" in out.output
    assert runner.invoke(args=["ledger", "verify", "--commune", "B"]).exit_code == 0


def test_postgres_refuses_changes_to_postings_and_catches_a_superuser_edit(pg_app, world, client_for, live_services):
    a = world.id("a")
    with system_scope():
        posting = db.session.execute(select(Posting).where(Posting.commune_id == a).order_by(Posting.id)
                                     .limit(1)).scalar_one()
        seq = db.session.get(JournalTransaction, posting.transaction_id).seq
        posting_id, tx_id = posting.id, posting.transaction_id
    db.session.rollback()
    # The application's role cannot change or delete journal rows: the database refuses.
    for sql in ("UPDATE postings SET amount = amount + 1 WHERE id = :i", "DELETE FROM postings WHERE id = :i",
                "UPDATE journal_transactions SET memo = 'x' WHERE id = (SELECT transaction_id FROM postings WHERE id = :i)"):
        with system_scope():  # no UPDATE/DELETE grant (migration 0008), and the trigger behind it
            with pytest.raises(Exception, match="append-only|permission denied"):
                db.session.execute(text(sql), {"i": posting_id})
            db.session.rollback()
    # A superuser who switches the trigger off can; verification names the transaction.
    dbname = db.engine.url.database
    dsn = services.pg_admin_dsn(live_services["CAMNET_TEST_PG_URL"]).rsplit("/", 1)[0] + f"/{dbname}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE postings DISABLE TRIGGER ALL")
        conn.execute("UPDATE postings SET amount = amount * 3 WHERE transaction_id = %s", (tx_id,))
        conn.execute("ALTER TABLE postings ENABLE TRIGGER ALL")
    result = client_for("chairman_a").get(f"/api/v1/funding/communes/{a}/verify").get_json()
    assert result["ok"] is False and result["first_broken"]["seq"] == seq
    assert result["cache_differences"], "the balance cache no longer equals the postings either"


def test_balance_cache_equals_postings_and_counts_match(any_app, world):
    with system_scope():
        for key in ("a", "b", "c", "d"):
            assert ledger.check_balances(world.id(key)) == []
            assert ledger.verify(world.id(key))["ok"]
        total = db.session.execute(select(func.sum(Posting.amount))).scalar()
    assert total == 0


def test_manual_journal_must_balance_and_name_known_accounts(app, world, client_for):
    a = world.id("a")
    client = client_for("chairman_a")
    url = f"/api/v1/funding/communes/{a}/journal"
    ok = client.post(url, json={"memo": "chuyển tiền mặt vào ngân hàng",
                                "postings": [{"account": "1121", "amount": 100_000}, {"account": "1111", "amount": -100_000}]})
    assert ok.status_code == 201 and ok.get_json()["kind"] == "adjustment"
    n = len(client.get(f"/api/v1/funding/communes/{a}/transactions?limit=1000").get_json())
    bad = [({"memo": "lệch", "postings": [{"account": "1121", "amount": 5}, {"account": "1111", "amount": -4}]}, "postings"),
           ({"memo": "tài khoản lạ", "postings": [{"account": "9999", "amount": 5}, {"account": "1111", "amount": -5}]}, "postings.0.account"),
           ({"memo": "một dòng", "postings": [{"account": "1111", "amount": 5}]}, "postings"),
           ({"memo": "số lẻ", "postings": [{"account": "1121", "amount": 1.5}, {"account": "1111", "amount": -1.5}]}, "postings.0.amount")]
    for body, field in bad:
        resp = client.post(url, json=body)
        assert resp.status_code == 422 and resp.get_json()["field"] == field, (body, resp.get_json())
    assert len(client.get(f"/api/v1/funding/communes/{a}/transactions?limit=1000").get_json()) == n


def test_postgres_fast_check_matches_the_row_check_over_awkward_memos(pg_app, world, live_services, monkeypatch):
    """The database writes the canonical bytes on PostgreSQL; they must equal canonical() to the
    byte, memo escapes included, across parallel seq ranges, and any edit must send the check to
    the row-by-row path that names it."""
    a = world.id("a")
    memos = ["tiền | mặt", "dấu \\ gạch", "hai\ndòng", "tab\tở giữa", "về\r\nđầu", "\b\f\v", "Đặng Thị Hường",
             "\\|\\n", ""]
    with system_scope():
        cash, bank = ledger.account(a, "1111"), ledger.account(a, "1121")
        for i, memo in enumerate(memos * 3):
            ledger.post(a, "adjustment", [(bank, 1000 + i), (cash, -1000 - i)], occurred_on=date(2026, 1, 1 + i % 28),
                        memo=memo)
        db.session.commit()
        monkeypatch.setattr(ledger, "_FAST_MIN", 5)  # several ranges, each on its own connection
        fast = ledger._verify_copy(a)
        rows = ledger._verify_rows(a)
        assert fast is not None, "an intact chain must pass the fast check"
        assert rows["ok"] and {k: fast[k] for k in ("transactions", "postings", "head_seq", "head_hash")} == \
            {k: rows[k] for k in ("transactions", "postings", "head_seq", "head_hash")}
        victim = db.session.execute(select(JournalTransaction).where(JournalTransaction.commune_id == a,
                                                                     JournalTransaction.memo == "hai\ndòng")
                                    .order_by(JournalTransaction.seq)).scalars().first()
        seq, tx_id = victim.seq, victim.id
    db.session.rollback()
    dsn = services.pg_admin_dsn(live_services["CAMNET_TEST_PG_URL"]).rsplit("/", 1)[0] + f"/{db.engine.url.database}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE journal_transactions DISABLE TRIGGER ALL")
        conn.execute("UPDATE journal_transactions SET memo = 'hai dòng' WHERE id = %s", (tx_id,))
        conn.execute("ALTER TABLE journal_transactions ENABLE TRIGGER ALL")
    with system_scope():
        assert ledger._verify_copy(a) is None
        result = ledger.verify(a)
    assert result["ok"] is False and result["first_broken"]["seq"] == seq
    assert "hash" in result["first_broken"]["reason"]


def test_the_orm_refuses_to_change_or_delete_journal_and_audit_rows(app, world):
    """One guard for every append-only model (SQLite has no trigger: this is all there is there)."""
    from camnet.tenants.models import AuditEvent

    with system_scope():
        posting = db.session.execute(select(Posting).limit(1)).scalar_one()
        posting.amount += 1
        with pytest.raises(RuntimeError, match="postings is append-only"):
            db.session.flush()
        db.session.rollback()
        tx = db.session.execute(select(JournalTransaction).limit(1)).scalar_one()
        db.session.delete(tx)
        with pytest.raises(RuntimeError, match="journal_transactions is append-only"):
            db.session.flush()
        db.session.rollback()
        event = db.session.execute(select(AuditEvent).limit(1)).scalar_one()
        event.reason = "sửa lén"
        with pytest.raises(RuntimeError, match="audit_events is append-only"):
            db.session.flush()
        db.session.rollback()
