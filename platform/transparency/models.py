"""Transparency logs: one append-only Merkle tree per (commune, kind), its leaves, tile nodes and checkpoints.

Leaves keep their hash, the secret salt and the payload (``salt || payload`` is the leaf data);
``tlog_nodes`` keeps the hash of every complete 256-wide tile (levels 8, 16, 24 ...), so any
complete subtree is folded from at most 255 stored hashes and a proof reads a few tiles, never
the whole log. Leaves, nodes, checkpoints and cosignatures are append-only; the log row's
``size`` is the counter appends take under its row lock.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..append_only import AppendOnly
from ..clock import utc_now
from ..extensions import db
from ..tenants.models import UTCDateTime
from ..tenants.scope import Scoped

BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")
KINDS = ("funding", "evidence", "access")


class TransparencyLog(Scoped, db.Model):
    """Nhật ký minh bạch: one append-only log of a commune (funding journal, evidence exports, footage access)."""

    __tablename__ = "tlog_logs"
    __scope_column__ = "commune_id"
    __table_args__ = (
        sa.UniqueConstraint("commune_id", "kind", name="uq_tlog_logs_commune_kind"),
        sa.CheckConstraint("kind IN ('funding','evidence','access')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"))
    kind: Mapped[str] = mapped_column(sa.String(20))
    origin: Mapped[str] = mapped_column(sa.String(200), unique=True)
    size: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class LogLeaf(AppendOnly, Scoped, db.Model):
    """One entry: leaf hash = SHA-256(0x00 || salt || payload); ``ref_id`` names what it records."""

    __tablename__ = "tlog_leaves"
    __scope_column__ = "commune_id"
    __table_args__ = (
        sa.Index("ix_tlog_leaves_ref", "log_id", "ref_id"),
        sa.Index("ix_tlog_leaves_hash", "log_id", "leaf_hash"),
    )

    log_id: Mapped[int] = mapped_column(sa.ForeignKey("tlog_logs.id"), primary_key=True)
    idx: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"))
    ref_id: Mapped[int] = mapped_column(sa.BigInteger)
    leaf_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    salt: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    payload: Mapped[bytes] = mapped_column(sa.LargeBinary)


class LogNode(AppendOnly, Scoped, db.Model):
    """The hash of a complete subtree at a tile level (8, 16, ...): the root of a full 256-wide tile."""

    __tablename__ = "tlog_nodes"
    __scope_column__ = "commune_id"

    log_id: Mapped[int] = mapped_column(sa.ForeignKey("tlog_logs.id"), primary_key=True)
    level: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"))
    hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))


class LogCheckpoint(AppendOnly, Scoped, db.Model):
    """A signed checkpoint (C2SP tlog-checkpoint as a signed note) of the log at ``size``."""

    __tablename__ = "tlog_checkpoints"
    __scope_column__ = "commune_id"
    __table_args__ = (sa.UniqueConstraint("log_id", "size", name="uq_tlog_checkpoints_log_size"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    log_id: Mapped[int] = mapped_column(sa.ForeignKey("tlog_logs.id"))
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    root: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    note: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class LogCosignature(AppendOnly, Scoped, db.Model):
    """A witness's cosignature line (cosignature/v1) on a checkpoint."""

    __tablename__ = "tlog_cosignatures"
    __scope_column__ = "commune_id"
    __table_args__ = (sa.UniqueConstraint("checkpoint_id", "witness", name="uq_tlog_cosignatures_witness"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("tlog_checkpoints.id"))
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"))
    witness: Mapped[str] = mapped_column(sa.String(200))
    line: Mapped[str] = mapped_column(sa.String(400))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
