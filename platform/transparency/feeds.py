"""What feeds the logs: the funding journal (a hook in ``ledger.post``), evidence exports (a seal in
``incidents.evidence``, see ``packages``), footage access (a mapper event on audit rows), and the
backfill that moves an existing hash chain into the log."""
from __future__ import annotations

from sqlalchemy import event, select

from ..billing_socialization import ledger
from ..billing_socialization.models import Account, JournalTransaction, Posting
from ..extensions import db
from ..tenants.models import AuditEvent
from . import packages, services, store

# Audit actions that are a view or download of camera media (streams.media, capture.live,
# incidents.services, incidents.evidence write them through ``audit.media_access``).
ACCESS_ACTIONS = frozenset({"media.view", "media.download", "media.live", "evidence.download"})


def access_payload(ev) -> bytes:
    """A footage access entry: who (user id and name), what (object), when, why, from where, outcome."""
    at = ev.at.isoformat() if ev.at is not None else ""
    fields = ["camnet-access/1", ev.unit_id, ev.id, at, ev.actor_id, ev.actor_name, ev.action, ev.object_type,
              ev.object_id, ev.outcome, ev.reason, ev.ip]
    return "|".join(packages.field(f) for f in fields).encode()


# ---- funding --------------------------------------------------------------------------------

def on_journal_post(tx, content: bytes) -> None:
    """Append the transaction's canonical bytes as leaf ``seq - 1`` of the commune's funding log."""
    conn = db.session.connection()
    cache = services.log_ids()
    key = (tx.commune_id, "funding")
    log_id = cache.get(key)
    if log_id is not None and store.append(conn, log_id, tx.commune_id, tx.id, content, expect_index=tx.seq - 1):
        return
    log = services.get_log(conn, tx.commune_id, "funding", create=True)
    cache[key] = log.id
    if log.size < tx.seq - 1:  # a chain older than the log: its transactions become the first leaves
        backfill_funding(conn, log, tx.seq - 1, (tx.seq - 1, tx.prev_hash))
    if store.append(conn, log.id, tx.commune_id, tx.id, content, expect_index=tx.seq - 1) is None:
        raise store.LogError(f"funding log of commune {tx.commune_id} does not match its journal at seq {tx.seq}")


def journal_entries(conn, commune_id: int, after_seq: int, upto_seq: int, batch: int = 20_000):
    """(transaction id, canonical bytes) of seq after_seq+1 .. upto_seq, in order, as the chain hashes them."""
    t, p, a = JournalTransaction.__table__, Posting.__table__, Account.__table__
    stmt = (select(t.c.id, t.c.seq, t.c.kind, t.c.occurred_on, t.c.memo, t.c.phase_id, t.c.ref_type, t.c.ref_id,
                   t.c.reverses_seq, t.c.prev_hash, a.c.code, p.c.amount)
            .join(p, p.c.transaction_id == t.c.id).join(a, a.c.id == p.c.account_id)
            .where(t.c.commune_id == commune_id, t.c.seq > after_seq, t.c.seq <= upto_seq)
            .order_by(t.c.seq, p.c.line).execution_options(yield_per=batch))
    current, lines = None, []
    expect = after_seq + 1
    for row in conn.execute(stmt):
        if current is None or row[0] != current[0]:
            if current is not None:
                yield current[0], ledger.canonical(commune_id, *current[1:9], lines, current[9])
            current, lines = row, []
            if row[1] != expect:
                raise store.LogError(f"journal of commune {commune_id}: seq {expect} missing")
            expect += 1
        lines.append((row[10], row[11]))
    if current is not None:
        yield current[0], ledger.canonical(commune_id, *current[1:9], lines, current[9])


def backfill_funding(conn, log, upto_seq: int, chain_head: tuple[int, str]) -> None:
    """Move transactions log.size+1 .. upto_seq into the log, then checkpoint naming the old chain head."""
    commune_id = conn.execute(select(store.LOGS.c.commune_id).where(store.LOGS.c.id == log.id)).scalar_one()
    size = store.append_many(conn, log.id, commune_id, journal_entries(conn, commune_id, log.size, upto_seq))
    if size != upto_seq:
        raise store.LogError(f"funding log of commune {commune_id}: backfill reached {size}, expected {upto_seq}")
    seq, head_hash = chain_head
    services.issue_checkpoint(conn, log, force=True, extensions=(f"{services.CHAIN_HEAD} {seq} {head_hash}",))


def migrate_chain(commune_id: int) -> dict:
    """Backfill a commune's whole journal into its funding log now (``camnet tlog migrate``)."""
    conn = db.session.connection()
    ledger.lock_chain(commune_id)
    seq, head_hash = ledger.head(commune_id)
    log = services.get_log(conn, commune_id, "funding", create=True)
    if log.size < seq:
        backfill_funding(conn, log, seq, (seq, head_hash))
    return {"commune_id": commune_id, "transactions": seq, "chain_head": head_hash,
            "log_size": services.get_log(conn, commune_id, "funding").size}


# ---- access --------------------------------------------------------------------------

def _access_recorded(mapper, connection, target) -> None:
    if target.action in ACCESS_ACTIONS and target.unit_id is not None:
        services.append_entry(connection, target.unit_id, "access", target.id, access_payload(target))


def install() -> None:
    """Register the feeds once per process (mapper events and the ledger hook are global)."""
    if on_journal_post not in ledger.AFTER_POST:
        ledger.AFTER_POST.append(on_journal_post)
    packages.install()  # evidence exports: sealed into the log as their manifest is signed
    if not event.contains(AuditEvent, "after_insert", _access_recorded):
        event.listen(AuditEvent, "after_insert", _access_recorded)
