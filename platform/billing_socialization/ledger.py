"""The double-entry ledger: chart of accounts, posting under a per-commune lock, the hash chain and its check.

Sign convention: debit > 0, credit < 0; a transaction's postings sum to zero. Each
commune's transactions form a chain: ``hash = SHA-256(canonical(content, postings, prev_hash))``
with ``seq`` 1, 2, 3 ... unique per commune. On PostgreSQL the chain head is serialised with
``pg_advisory_xact_lock`` taken inside the posting transaction; SQLite's single writer
does the same there, and the unique (commune_id, seq) refuses any fork.
"""
from __future__ import annotations

import functools
import hashlib
import os
from collections import defaultdict
from datetime import date

from sqlalchemy import bindparam, func, literal_column, select, text

from ..errors import ValidationFailed
from ..extensions import db
from ..tenants.rls_session import SET_SCOPE_SQL, rls_settings
from ..tenants.scope import current_scope
from .models import Account, JournalTransaction, LedgerBalance, Posting

GENESIS = "0" * 64
MAX_AMOUNT = 10_000_000_000_000  # 10 nghìn tỷ đồng: anything larger is a typing error
LOCK_CLASS = 4611  # first key of the advisory lock pair: the ledger's namespace

# code -> (Vietnamese name, English name, type, kind)
CHART = {
    "1111": ("Tiền mặt", "Cash", "money", None),
    "1121": ("Tiền gửi ngân hàng", "Bank", "money", None),
    "211": ("Tài sản camera (thiết bị)", "Camera assets (equipment)", "asset", "equipment"),
    "642.installation": ("Chi phí lắp đặt", "Installation", "expense", "installation"),
    "642.repair": ("Chi phí sửa chữa", "Repair", "expense", "repair"),
    "642.connectivity": ("Chi phí đường truyền", "Connectivity", "expense", "connectivity"),
    "642.other": ("Chi phí khác", "Other expenses", "expense", "other"),
}
EXPENSE_ACCOUNT = {"equipment": "211", "installation": "642.installation", "repair": "642.repair",
                   "connectivity": "642.connectivity", "other": "642.other"}
MONEY_ACCOUNT = {"cash": "1111", "bank": "1121"}
# Called as hook(transaction, canonical bytes) inside the posting transaction, the chain lock held:
# the transparency log appends its leaf here (registered by ``camnet.transparency.init_app``).
AFTER_POST: list = []


# ---- chart of accounts ---------------------------------------------------------------------

def account(commune_id: int, code: str, *, name: str | None = None, type: str | None = None,
            kind: str | None = None, sponsor_id: int | None = None, campaign_id: int | None = None,
            village_id: int | None = None) -> Account:
    """The account ``code`` of a commune, created on first use (standard codes come from CHART)."""
    row = db.session.execute(
        select(Account).where(Account.commune_id == commune_id, Account.code == code)
    ).scalar_one_or_none()
    if row is not None:
        return row
    if code in CHART:
        vi, _en, type, kind = CHART[code]
        name = vi
    if not name or not type:
        raise ValidationFailed(f"account: unknown account {code!r}", field="account")
    row = Account(commune_id=commune_id, code=code, name=name[:250], type=type, kind=kind,
                  sponsor_id=sponsor_id, campaign_id=campaign_id, village_id=village_id)
    db.session.add(row)
    db.session.flush()
    return row


def sponsor_accounts(sponsor) -> dict[str, Account]:
    c = sponsor.commune_id
    return {
        "receivable": account(c, f"131.S{sponsor.id}", name=f"Phải thu cam kết — {sponsor.name}",
                              type="receivable", sponsor_id=sponsor.id),
        "fund": account(c, f"4611.S{sponsor.id}", name=f"Quỹ tài trợ — {sponsor.name}",
                        type="fund", sponsor_id=sponsor.id),
        "allocated": account(c, f"4619.S{sponsor.id}", name=f"Quỹ đã phân bổ — {sponsor.name}",
                             type="allocated", sponsor_id=sponsor.id),
    }


def share_fund(campaign, village) -> Account:
    return account(campaign.commune_id, f"4612.C{campaign.id}.V{village.id}",
                   name=f"Đóng góp hộ dân — {campaign.name} — {village.name}", type="fund",
                   campaign_id=campaign.id, village_id=village.id)


# ---- posting -------------------------------------------------------------------------------

def lock_chain(commune_id: int) -> None:
    """Serialise writers of one commune's chain until the end of the current transaction."""
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k, :c)"), {"k": LOCK_CLASS, "c": commune_id})


# Escapes inside a canonical field: the backslash, the field separator and six control
# characters, exactly as PostgreSQL's COPY text format writes them with DELIMITER '|', so the
# database can hand the verifier canonical bytes ready to hash (see ``_verify_copy``).
_ESCAPES = str.maketrans({"\\": "\\\\", "|": "\\|", "\b": "\\b", "\f": "\\f", "\n": "\\n",
                          "\r": "\\r", "\t": "\\t", "\v": "\\v"})


def _esc(value: str) -> str:
    return value.translate(_ESCAPES)


def canonical(commune_id, seq, kind, occurred_on, memo, phase_id, ref_type, ref_id, reverses_seq,
              postings, prev_hash) -> bytes:
    """The bytes a transaction's hash covers; ``postings`` is [(account code, amount), ...] in line order."""
    day = occurred_on.isoformat() if isinstance(occurred_on, date) else str(occurred_on)
    lines = ";".join(f"{code}={amount}" for code, amount in postings)
    return (f"camnet-ledger/1|{commune_id}|{seq}|{kind}|{day}|{phase_id or ''}|{ref_type or ''}|"
            f"{ref_id or ''}|{reverses_seq or ''}|{_esc(memo or '')}|{lines}|{prev_hash}").encode()


def head(commune_id: int) -> tuple[int, str]:
    """(seq, hash) of the commune's last transaction; (0, GENESIS) before the first."""
    seq, digest = db.session.execute(_head_statement(), {"commune_id": commune_id}).one()
    return seq, digest


@functools.cache
def _head_statement():
    return select(*head_columns(bindparam("commune_id")))


def head_columns(commune_id) -> tuple:
    """The chain head of the commune ``commune_id`` (a column of the caller's statement, or a
    parameter) as two scalar subqueries, labelled head_seq and head_hash, so a report can read it
    in the statement it already runs."""
    # LIMIT 1 written into the SQL, not bound: with the limit a parameter, PostgreSQL's generic plan
    # must assume the subquery reads the whole chain, judges it dearer than planning afresh, and
    # planned the report's statement again on every execution (1.1 ms each)
    def last(column):
        return (select(column).where(JournalTransaction.commune_id == commune_id)
                .order_by(JournalTransaction.seq.desc()).limit(literal_column("1")).scalar_subquery())

    return (func.coalesce(last(JournalTransaction.seq), 0).label("head_seq"),
            func.coalesce(last(JournalTransaction.hash), GENESIS).label("head_hash"))


def validate_lines(commune_id: int, lines: list[tuple[Account, int]], field: str = "postings") -> None:
    if len(lines) < 2:
        raise ValidationFailed(f"{field}: a transaction needs at least two postings", field=field)
    for i, (acct, amount) in enumerate(lines):
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise ValidationFailed(f"{field}.{i}.amount: whole đồng only", field=f"{field}.{i}.amount")
        if amount == 0 or abs(amount) > MAX_AMOUNT:
            raise ValidationFailed(f"{field}.{i}.amount: must be non-zero and at most {MAX_AMOUNT}",
                                   field=f"{field}.{i}.amount")
        if acct.commune_id != commune_id:
            raise ValidationFailed(f"{field}.{i}.account: unknown account", field=f"{field}.{i}.account")
    if sum(a for _, a in lines) != 0:
        raise ValidationFailed(f"{field}: debits and credits do not balance", field=field)


def post(commune_id: int, kind: str, lines: list[tuple[Account, int]], *, occurred_on: date,
         memo: str = "", phase_id: int | None = None, ref_type: str | None = None,
         ref_id: int | None = None, reverses: JournalTransaction | None = None,
         created_by_id: int | None = None) -> JournalTransaction:
    """Append one balanced transaction to the commune's chain (the caller commits)."""
    validate_lines(commune_id, lines)
    lock_chain(commune_id)
    seq, prev = head(commune_id)
    seq += 1
    reverses_seq = reverses.seq if reverses is not None else None
    content = canonical(commune_id, seq, kind, occurred_on, memo[:500], phase_id, ref_type, ref_id, reverses_seq,
                        [(a.code, n) for a, n in lines], prev)
    tx = JournalTransaction(
        commune_id=commune_id, seq=seq, kind=kind, occurred_on=occurred_on, memo=memo[:500],
        phase_id=phase_id, ref_type=ref_type, ref_id=ref_id,
        reverses_id=reverses.id if reverses is not None else None, reverses_seq=reverses_seq,
        prev_hash=prev, created_by_id=created_by_id,
        hash=hashlib.sha256(content).hexdigest(),
    )
    db.session.add(tx)
    db.session.flush()
    sums: dict[int, int] = defaultdict(int)
    for line, (acct, amount) in enumerate(lines, start=1):
        db.session.add(Posting(transaction_id=tx.id, commune_id=commune_id, account_id=acct.id,
                               line=line, amount=amount))
        sums[acct.id] += amount
    db.session.flush()
    _bump_balances(commune_id, phase_id or 0, sums)
    for hook in AFTER_POST:
        hook(tx, content)
    return tx


def _bump_balances(commune_id: int, phase_key: int, sums: dict[int, int]) -> None:
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = LedgerBalance.__table__
    for account_id, amount in sums.items():
        stmt = insert(table).values(account_id=account_id, phase_key=phase_key, commune_id=commune_id,
                                    amount=amount)
        stmt = stmt.on_conflict_do_update(index_elements=["account_id", "phase_key"],
                                          set_={"amount": table.c.amount + stmt.excluded.amount})
        db.session.execute(stmt)


def reverse(tx: JournalTransaction, *, occurred_on: date, memo: str, created_by_id: int | None = None) -> JournalTransaction:
    """Cancel a transaction with its mirror image; the original stays as it was."""
    lines = [(p.account, -p.amount) for p in tx.postings]
    return post(tx.commune_id, "reversal", lines, occurred_on=occurred_on, memo=memo, phase_id=tx.phase_id,
                ref_type=tx.ref_type, ref_id=tx.ref_id, reverses=tx, created_by_id=created_by_id)


# ---- verification --------------------------------------------------------------------------

def verify(commune_id: int) -> dict:
    """Recompute the chain of one commune; name the first transaction that does not match.

    On PostgreSQL the database writes each transaction's canonical bytes itself (COPY, in
    parallel seq ranges) and Python only hashes and compares them. Anything that does not
    match there, including an unexpected row order, goes to the row-by-row check, which is
    the authority and names the first broken transaction and why."""
    if db.session.connection().dialect.name == "postgresql":
        result = _verify_copy(commune_id)
        if result is not None:
            return result
    return _verify_rows(commune_id)


# One seq range of a commune's chain as canonical lines: everything up to the prev_hash is
# exactly ``canonical(...)`` (COPY's text escapes are ``_esc``'s), then |hash|balanced flag.
# Rows come in id order, which the chain lock makes seq order, so the merge join needs no
# sort; were it ever otherwise the link check fails and the row check decides.
_COPY_CHAIN = """COPY (
  SELECT 'camnet-ledger/1', t.commune_id, t.seq, t.kind, to_char(t.occurred_on, 'YYYY-MM-DD'), t.phase_id,
         t.ref_type, t.ref_id, t.reverses_seq, t.memo, l.lines, t.prev_hash, t.hash,
         (l.total = 0 AND l.n >= 2)
  FROM journal_transactions t
  LEFT JOIN (
    SELECT o.transaction_id, string_agg(o.line, ';') AS lines, sum(o.amount) AS total, count(*) AS n
    FROM (SELECT p.transaction_id, a.code || '=' || p.amount AS line, p.amount
          FROM postings p JOIN ledger_accounts a ON a.id = p.account_id
          WHERE p.commune_id = %(c)s AND p.transaction_id BETWEEN %(lo_id)s AND %(hi_id)s
          ORDER BY p.transaction_id, p.line) o
    GROUP BY o.transaction_id) l ON l.transaction_id = t.id
  WHERE t.commune_id = %(c)s AND t.seq BETWEEN %(lo)s AND %(hi)s
  ORDER BY t.id) TO STDOUT WITH (DELIMITER '|', NULL '')"""
_FAST_MIN = 20_000  # below this many transactions one range is enough


def _chain_range(engine, commune_id: int, lo: int, hi: int, settings: tuple) -> tuple | None:
    """Check seq lo..hi on a connection of its own: (prev_hash of lo, hash of hi) or None."""
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            # a raw cursor in a thread of its own: the scope is sent here, not by the session hook
            cur.execute(SET_SCOPE_SQL, settings)
            cur.execute("SELECT seq, id FROM journal_transactions WHERE commune_id = %s AND seq IN (%s, %s)",
                        (commune_id, lo, hi))
            ids = dict(cur.fetchall())
            if lo not in ids or hi not in ids:
                return None
            chunks = []
            with cur.copy(_COPY_CHAIN, {"c": commune_id, "lo": lo, "hi": hi,
                                        "lo_id": ids[lo], "hi_id": ids[hi]}) as copy:
                for chunk in copy:
                    chunks.append(bytes(chunk))
        conn.rollback()
    lines = b"".join(chunks).split(b"\n")
    lines.pop()  # after the last newline
    if len(lines) != hi - lo + 1 or not all(line.endswith(b"|t") for line in lines):
        return None  # a gap, an unbalanced or postingless transaction: the row check names it
    sha256 = hashlib.sha256
    computed = "".join([sha256(line[:-67]).hexdigest() for line in lines])
    stored = b"".join([line[-66:-2] for line in lines]).decode("ascii")
    if computed != stored:
        return None
    prevs = b"".join([line[-131:-67] for line in lines]).decode("ascii")
    if prevs[64:] != stored[:-64]:
        return None
    return prevs[:64], stored[-64:]


def _verify_copy(commune_id: int) -> dict | None:
    """The fast path on PostgreSQL: a verdict when the whole chain is intact, else None."""
    from concurrent.futures import ThreadPoolExecutor

    settings = rls_settings(current_scope())
    head_seq, head_hash = head(commune_id)
    postings = db.session.scalar(select(func.count()).select_from(Posting).where(Posting.commune_id == commune_id))
    if head_seq == 0:
        return None
    parts = max(1, min(4, os.cpu_count() or 1, head_seq // _FAST_MIN))
    step = -(-head_seq // parts)
    bounds = [(lo, min(head_seq, lo + step - 1)) for lo in range(1, head_seq + 1, step)]
    engine = db.engine
    with ThreadPoolExecutor(max_workers=len(bounds)) as pool:
        ends = list(pool.map(lambda b: _chain_range(engine, commune_id, b[0], b[1], settings), bounds))
    if any(e is None for e in ends):
        return None
    expect = GENESIS
    for first_prev, last_hash in ends:
        if first_prev != expect:
            return None
        expect = last_hash
    if expect != head_hash:
        return None
    return {"commune_id": commune_id, "ok": True, "transactions": head_seq, "postings": postings,
            "head_seq": head_seq, "head_hash": head_hash, "first_broken": None}


def _verify_rows(commune_id: int, batch: int = 5000) -> dict:
    """Row by row: the authority, which names the first transaction that does not match."""
    codes = dict(db.session.execute(
        select(Account.id, Account.code).where(Account.commune_id == commune_id)).all())
    stmt = (select(JournalTransaction.id, JournalTransaction.seq, JournalTransaction.kind,
                   JournalTransaction.occurred_on, JournalTransaction.memo, JournalTransaction.phase_id,
                   JournalTransaction.ref_type, JournalTransaction.ref_id, JournalTransaction.reverses_seq,
                   JournalTransaction.prev_hash, JournalTransaction.hash,
                   Posting.line, Posting.account_id, Posting.amount)
            .outerjoin(Posting, Posting.transaction_id == JournalTransaction.id)
            .where(JournalTransaction.commune_id == commune_id)
            .order_by(JournalTransaction.seq, Posting.line)
            .execution_options(yield_per=batch))
    state = {"prev": GENESIS, "expect": 1, "count": 0, "postings": 0}
    broken = None
    current = None
    lines: list = []

    def close(cur, lines):
        (tid, seq, kind, day, memo, phase, rtype, rid, rseq, prev, stored) = cur
        if seq != state["expect"]:
            return {"seq": seq, "id": tid, "reason": f"sequence gap: expected {state['expect']}"}
        if prev != state["prev"]:
            return {"seq": seq, "id": tid, "reason": "prev_hash does not match the previous transaction"}
        if len(lines) < 2 or sum(a for _, a in lines) != 0:
            return {"seq": seq, "id": tid, "reason": "postings do not balance"}
        digest = hashlib.sha256(canonical(commune_id, seq, kind, day, memo, phase, rtype, rid, rseq,
                                          lines, prev)).hexdigest()
        if digest != stored:
            return {"seq": seq, "id": tid, "reason": "hash does not match content"}
        state["prev"], state["expect"] = stored, seq + 1
        state["count"] += 1
        state["postings"] += len(lines)
        return None

    for row in db.session.execute(stmt):
        key = row[:11]
        if current is None or key[0] != current[0]:
            if current is not None:
                broken = close(current, lines)
                if broken:
                    break
            current, lines = key, []
        if row[11] is not None:
            lines.append((codes.get(row[12], f"?{row[12]}"), row[13]))
    if broken is None and current is not None:
        broken = close(current, lines)
    return {"commune_id": commune_id, "ok": broken is None, "transactions": state["count"],
            "postings": state["postings"], "head_seq": state["expect"] - 1, "head_hash": state["prev"],
            "first_broken": broken}


def check_balances(commune_id: int) -> list[dict]:
    """Differences between the balance cache and the postings (empty when the cache is right)."""
    truth = {(a, p or 0): s for a, p, s in db.session.execute(
        select(Posting.account_id, JournalTransaction.phase_id, func.sum(Posting.amount))
        .join(JournalTransaction, JournalTransaction.id == Posting.transaction_id)
        .where(Posting.commune_id == commune_id)
        .group_by(Posting.account_id, JournalTransaction.phase_id)).all()}
    cached = {(a, p): s for a, p, s in db.session.execute(
        select(LedgerBalance.account_id, LedgerBalance.phase_key, LedgerBalance.amount)
        .where(LedgerBalance.commune_id == commune_id)).all()}
    diffs = []
    for key in set(truth) | set(cached):
        if int(truth.get(key, 0) or 0) != int(cached.get(key, 0) or 0):
            diffs.append({"account_id": key[0], "phase_key": key[1], "postings": int(truth.get(key, 0) or 0),
                          "cache": int(cached.get(key, 0) or 0)})
    return diffs


SPONSOR_ACCOUNT_TYPES = ("receivable", "fund", "allocated")


def sponsor_balances(sponsor_id: int) -> dict[str, int]:
    """Account type (receivable, fund, allocated) -> balance of one sponsor's accounts, from the cache."""
    row = db.session.execute(_sponsor_balances_statement(), {"sponsor_id": sponsor_id}).one()
    return balances_by_type(row)


@functools.cache
def _sponsor_balances_statement():
    return select(*sponsor_balance_columns(bindparam("sponsor_id")))


def sponsor_balance_columns(sponsor_id) -> tuple:
    """The balances of the sponsor ``sponsor_id``'s accounts (a column of the caller's statement, or
    a parameter) as scalar subqueries labelled by account type; ``balances_by_type`` reads them."""
    def of(kind: str):
        return (select(func.coalesce(func.sum(LedgerBalance.amount), 0))
                .join(Account, Account.id == LedgerBalance.account_id)
                .where(Account.sponsor_id == sponsor_id, Account.type == literal_column(f"'{kind}'"))
                .scalar_subquery().label(f"balance_{kind}"))

    return tuple(of(kind) for kind in SPONSOR_ACCOUNT_TYPES)


def balances_by_type(row) -> dict[str, int]:
    """Account type -> balance from a row carrying ``sponsor_balance_columns``."""
    values = row._mapping
    return {kind: int(values[f"balance_{kind}"] or 0) for kind in SPONSOR_ACCOUNT_TYPES}


def balances(commune_id: int) -> dict[tuple[int, int], int]:
    """(account id, phase key) -> balance, from the cache."""
    return {(a, p): int(s) for a, p, s in db.session.execute(
        select(LedgerBalance.account_id, LedgerBalance.phase_key, LedgerBalance.amount)
        .where(LedgerBalance.commune_id == commune_id)).all()}
