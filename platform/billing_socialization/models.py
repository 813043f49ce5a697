"""Funding (xã hội hóa): sponsors, pledges, receipts, shares, expenses, allocations and the ledger.

Ledger convention: every posting's ``amount`` is a signed integer number of đồng, debit
positive and credit negative, so a transaction balances when its postings sum to zero.
Accounts are per commune (see ``ledger.CHART``). ``JournalTransaction`` and ``Posting`` are
append-only (PostgreSQL triggers and an ORM guard); ``LedgerBalance`` is a cache of the sums
of postings per (account, phase) that ``ledger.check_balances`` proves equal to the postings.
"""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..append_only import AppendOnly
from ..clock import utc_now
from ..extensions import db
from ..tenants.models import UTCDateTime
from ..tenants.scope import Scoped

BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Money = sa.BigInteger  # integer đồng; never a float

SPONSOR_KINDS = ("company", "organisation", "household", "budget")
RECEIPT_METHODS = ("cash", "bank", "in_kind")
IN_KIND_TYPES = ("equipment", "service")
EXPENSE_KINDS = ("equipment", "installation", "repair", "connectivity", "other")
PLEDGE_STATUSES = ("open", "paid", "cancelled")


class Sponsor(Scoped, db.Model):
    """Nhà tài trợ: a company, organisation, household or a state budget line of one commune."""

    __tablename__ = "sponsors"
    __scope_column__ = "commune_id"
    __table_args__ = (sa.UniqueConstraint("commune_id", "name", name="uq_sponsors_commune_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(20))
    contact: Mapped[str | None] = mapped_column(sa.String(200))
    tax_code: Mapped[str | None] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    commune = relationship("AdminUnit", viewonly=True)


class FundingPhase(Scoped, db.Model):
    """Giai đoạn: a programme phase with its target (e.g. Hồ Xá phase 1: 20 cameras)."""

    __tablename__ = "funding_phases"
    __scope_column__ = "commune_id"
    __table_args__ = (sa.UniqueConstraint("commune_id", "name", name="uq_funding_phases_commune_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    target: Mapped[int] = mapped_column(Money, default=0)
    cameras_planned: Mapped[int] = mapped_column(default=0)
    starts_on: Mapped[date | None] = mapped_column(sa.Date)


class Pledge(Scoped, db.Model):
    """Cam kết tài trợ: a promised amount with a due date; closed once paid or cancelled."""

    __tablename__ = "pledges"
    __scope_column__ = "commune_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    sponsor_id: Mapped[int] = mapped_column(sa.ForeignKey("sponsors.id"), index=True)
    phase_id: Mapped[int | None] = mapped_column(sa.ForeignKey("funding_phases.id"))
    amount: Mapped[int] = mapped_column(Money)
    paid: Mapped[int] = mapped_column(Money, default=0)  # mirrors the receivable; checked by reports
    due_date: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(12), default="open")
    note: Mapped[str | None] = mapped_column(sa.String(500))
    transaction_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("journal_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    sponsor = relationship(Sponsor)


class ShareCampaign(Scoped, db.Model):
    """Vận động đóng góp hộ dân: an amount per household with a due date."""

    __tablename__ = "share_campaigns"
    __scope_column__ = "commune_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    phase_id: Mapped[int | None] = mapped_column(sa.ForeignKey("funding_phases.id"))
    name: Mapped[str] = mapped_column(sa.String(200))
    amount_per_household: Mapped[int] = mapped_column(Money)
    due_date: Mapped[date] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class HouseholdShare(Scoped, db.Model):
    """One household's share in a campaign; ``household_ref`` links a household user."""

    __tablename__ = "household_shares"
    __scope_column__ = "commune_id"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "household_ref", name="uq_household_shares_campaign_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("share_campaigns.id"), index=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    household_ref: Mapped[str] = mapped_column(sa.String(80), index=True)
    head_name: Mapped[str] = mapped_column(sa.String(200))  # personal data: never on public pages
    amount_due: Mapped[int] = mapped_column(Money)
    paid: Mapped[int] = mapped_column(Money, default=0)

    campaign = relationship(ShareCampaign)
    village = relationship("Village")


class Receipt(Scoped, db.Model):
    """Phiếu thu: money or goods received from a sponsor (maybe against a pledge) or a household."""

    __tablename__ = "receipts"
    __scope_column__ = "commune_id"
    __table_args__ = (
        sa.UniqueConstraint("commune_id", "idempotency_key", name="uq_receipts_commune_key"),
        sa.UniqueConstraint("commune_id", "number", name="uq_receipts_commune_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    number: Mapped[str] = mapped_column(sa.String(30))
    idempotency_key: Mapped[str] = mapped_column(sa.String(100))
    sponsor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sponsors.id"), index=True)
    pledge_id: Mapped[int | None] = mapped_column(sa.ForeignKey("pledges.id"), index=True)
    share_id: Mapped[int | None] = mapped_column(sa.ForeignKey("household_shares.id"), index=True)
    phase_id: Mapped[int | None] = mapped_column(sa.ForeignKey("funding_phases.id"))
    method: Mapped[str] = mapped_column(sa.String(10))
    amount: Mapped[int] = mapped_column(Money)
    in_kind_type: Mapped[str | None] = mapped_column(sa.String(12))
    description: Mapped[str | None] = mapped_column(sa.String(500))
    payer_name: Mapped[str] = mapped_column(sa.String(200))
    received_on: Mapped[date] = mapped_column(sa.Date)
    transaction_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("journal_transactions.id"))
    reversed_by_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("journal_transactions.id"))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class Expense(Scoped, db.Model):
    """Khoản chi: equipment, installation, repair, connectivity or other, with its invoice."""

    __tablename__ = "expenses"
    __scope_column__ = "commune_id"
    __table_args__ = (sa.UniqueConstraint("commune_id", "idempotency_key", name="uq_expenses_commune_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(sa.String(16))
    supplier: Mapped[str] = mapped_column(sa.String(200))
    invoice_no: Mapped[str] = mapped_column(sa.String(60))
    amount: Mapped[int] = mapped_column(Money)
    paid_from: Mapped[str] = mapped_column(sa.String(10))  # cash | bank
    spent_on: Mapped[date] = mapped_column(sa.Date)
    phase_id: Mapped[int | None] = mapped_column(sa.ForeignKey("funding_phases.id"))
    camera_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cameras.id"))
    description: Mapped[str | None] = mapped_column(sa.String(500))
    attachment_key: Mapped[str | None] = mapped_column(sa.String(300))
    attachment_name: Mapped[str | None] = mapped_column(sa.String(200))
    attachment_type: Mapped[str | None] = mapped_column(sa.String(100))
    transaction_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("journal_transactions.id"))
    reversed_by_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("journal_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class Allocation(Scoped, db.Model):
    """Phân bổ: a sponsor's money earmarked for a programme phase or one camera."""

    __tablename__ = "allocations"
    __scope_column__ = "commune_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    sponsor_id: Mapped[int] = mapped_column(sa.ForeignKey("sponsors.id"), index=True)
    phase_id: Mapped[int | None] = mapped_column(sa.ForeignKey("funding_phases.id"))
    camera_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cameras.id"), index=True)
    amount: Mapped[int] = mapped_column(Money)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    transaction_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("journal_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class Account(Scoped, db.Model):
    """One account of a commune's chart (cash, bank, receivable per sponsor, funds, assets, expenses)."""

    __tablename__ = "ledger_accounts"
    __scope_column__ = "commune_id"
    __table_args__ = (sa.UniqueConstraint("commune_id", "code", name="uq_ledger_accounts_commune_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(250))
    type: Mapped[str] = mapped_column(sa.String(12))  # money | receivable | fund | allocated | asset | expense
    kind: Mapped[str | None] = mapped_column(sa.String(16))  # expense kind for asset/expense accounts
    sponsor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sponsors.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(sa.ForeignKey("share_campaigns.id"))
    village_id: Mapped[int | None] = mapped_column(sa.ForeignKey("villages.id"))


class JournalTransaction(AppendOnly, Scoped, db.Model):
    """Bút toán: one money event, a link of the commune's hash chain (append-only)."""

    __tablename__ = "journal_transactions"
    __scope_column__ = "commune_id"
    __table_args__ = (
        sa.UniqueConstraint("commune_id", "seq", name="uq_journal_transactions_commune_seq"),
        sa.Index("ix_journal_transactions_ref", "commune_id", "ref_type", "ref_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"))
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    kind: Mapped[str] = mapped_column(sa.String(30))
    occurred_on: Mapped[date] = mapped_column(sa.Date)
    memo: Mapped[str] = mapped_column(sa.String(500), default="")
    phase_id: Mapped[int | None] = mapped_column(sa.ForeignKey("funding_phases.id"))
    ref_type: Mapped[str | None] = mapped_column(sa.String(20))
    ref_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    reverses_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("journal_transactions.id"))
    reverses_seq: Mapped[int | None] = mapped_column(sa.BigInteger)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    postings = relationship("Posting", lazy="selectin", order_by="Posting.line", viewonly=True)


class Posting(AppendOnly, Scoped, db.Model):
    """One line of a transaction: ``amount`` đồng on an account, debit > 0, credit < 0 (append-only)."""

    __tablename__ = "postings"
    __scope_column__ = "commune_id"
    __table_args__ = (
        sa.UniqueConstraint("transaction_id", "line", name="uq_postings_transaction_line"),
        sa.CheckConstraint("amount <> 0", name="nonzero"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("journal_transactions.id"))
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"))
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_accounts.id"), index=True)
    line: Mapped[int] = mapped_column()
    amount: Mapped[int] = mapped_column(Money)

    account = relationship(Account, lazy="joined")


class LedgerBalance(Scoped, db.Model):
    """Cache: the sum of postings per account and phase (phase_key 0 = none)."""

    __tablename__ = "ledger_balances"
    __scope_column__ = "commune_id"

    account_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_accounts.id"), primary_key=True)
    phase_key: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    amount: Mapped[int] = mapped_column(Money, default=0)


SCOPED_TABLES = ["sponsors", "funding_phases", "pledges", "share_campaigns", "household_shares", "receipts",
                 "expenses", "allocations", "ledger_accounts", "journal_transactions", "postings",
                 "ledger_balances"]
APPEND_ONLY_TABLES = ["journal_transactions", "postings"]
