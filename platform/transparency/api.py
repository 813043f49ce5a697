"""Transparency API for signed-in users: proof bundles of one's own entries, checkpoints on demand, the audit.

The public side (checkpoints, consistency, inclusion of a known leaf hash, tiles) is in ``views``:
it needs no account and reveals no entry. A bundle here carries the entry's salt and payload,
so it is handed only to whoever may read the entry itself; another commune's ids answer 404.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..apispec import ApiBlueprint
from ..billing_socialization import access as funding_access
from ..billing_socialization import receipts
from ..billing_socialization.models import JournalTransaction
from ..errors import NotFoundError
from ..extensions import db
from ..incidents.models import EvidenceExport
from ..tenants.access import get_commune, get_scoped
from ..tenants.models import AuditEvent
from ..tenants.scope import system_scope
from . import services
from .schemas import CheckpointOut, EntryProofOut, LogAuditOut, ReceiptProofOut, SizeQuery, Strict

bp = ApiBlueprint("tlog_api", __name__, tag="transparency")

# who may read a log's entries (and so its salts), and who may ask for a checkpoint now
READ_PERM = {"funding": "funding.read", "evidence": "media.view", "access": "audit.read"}
ISSUE_PERM = {"funding": "funding.manage", "evidence": "incidents.manage", "access": "audit.read"}


class EntryQuery(SizeQuery):
    id: int = Field(ge=1, le=2**62, description="Mã bút toán / nhật ký truy cập — transaction or audit event id")


class KindQuery(Strict):
    kind: Literal["funding", "evidence", "access"]


class CheckpointIn(Strict):
    kind: Literal["funding", "evidence", "access"]


def _bundle(commune_id: int, kind: str, ref_id: int, size: int | None) -> dict:
    # authorised by the caller: the log's rows are read as the platform
    with system_scope():
        conn = db.session.connection()
        log = services.get_log(conn, commune_id, kind)
        out = services.leaf_bundle(conn, log, services.leaf_by_ref(conn, log, ref_id), size)
        db.session.commit()  # a checkpoint issued on demand for a new entry
    return out


@bp.operation("/tlog/communes/<int:unit_id>/funding/proof", summary="Bằng chứng bút toán trong nhật ký / "
              "Inclusion proof of a journal transaction", perm=READ_PERM["funding"], query=EntryQuery, response=EntryProofOut)
def funding_proof(unit_id: int, query: EntryQuery):
    get_commune(unit_id, READ_PERM["funding"])
    tx = get_scoped(JournalTransaction, query.id, READ_PERM["funding"])
    if tx.commune_id != unit_id:
        raise NotFoundError()
    return _bundle(unit_id, "funding", tx.id, query.size)


@bp.operation("/tlog/receipts/<int:receipt_id>/proof", summary="Bằng chứng phiếu thu trong nhật ký / "
              "Inclusion proof of a receipt", perm=(funding_access.READ, funding_access.SPONSOR_OWN,
                                                   funding_access.HOUSEHOLD_OWN), query=SizeQuery, response=ReceiptProofOut)
def receipt_proof(receipt_id: int, query: SizeQuery):
    receipt = receipts.get_receipt(receipt_id)  # the commune's readers, the sponsor or household itself
    if receipt.transaction_id is None:
        raise NotFoundError("Phiếu thu chưa ghi sổ / Receipt not posted")
    out = _bundle(receipt.commune_id, "funding", receipt.transaction_id, query.size)
    return {**out, "receipt_id": receipt.id, "receipt_number": receipt.number}


@bp.operation("/tlog/exports/<int:export_id>/proof", summary="Bằng chứng gói chứng cứ trong nhật ký / "
              "Inclusion proof of an evidence export", perm="media.view", query=SizeQuery, response=EntryProofOut)
def export_proof(export_id: int, query: SizeQuery):
    export = get_scoped(EvidenceExport, export_id, "media.view")
    return _bundle(export.commune_id, "evidence", export.id, query.size)


@bp.operation("/tlog/communes/<int:unit_id>/access/proof", summary="Bằng chứng lượt xem hình ảnh trong nhật ký / "
              "Inclusion proof of a footage access", perm=READ_PERM["access"], query=EntryQuery, response=EntryProofOut)
def access_proof(unit_id: int, query: EntryQuery):
    get_commune(unit_id, READ_PERM["access"])
    event = get_scoped(AuditEvent, query.id, READ_PERM["access"])
    if event.unit_id != unit_id:
        raise NotFoundError()
    return _bundle(unit_id, "access", event.id, query.size)


@bp.operation("/tlog/communes/<int:unit_id>/checkpoints", "POST", summary="Phát hành checkpoint ngay / "
              "Issue a checkpoint now", perm=tuple(sorted(set(ISSUE_PERM.values()))), body=CheckpointIn,
              example={"kind": "funding"}, response=CheckpointOut, status=201)
def issue_checkpoint(unit_id: int, body: CheckpointIn):
    get_commune(unit_id, ISSUE_PERM[body.kind])
    with system_scope():
        conn = db.session.connection()
        log = services.get_log(conn, unit_id, body.kind)
        cp = services.issue_checkpoint(conn, log, force=True)
        note = services.served_note(conn, cp) if cp is not None else None
        db.session.commit()
    return {"origin": log.origin, "size": cp.size if cp else 0, "checkpoint": note}, 201


@bp.operation("/tlog/communes/<int:unit_id>/audit", summary="Kiểm toán toàn bộ nhật ký / Full audit of a log",
              perm=tuple(sorted(set(READ_PERM.values()))), query=KindQuery, response=LogAuditOut)
def audit_log(unit_id: int, query: KindQuery):
    get_commune(unit_id, READ_PERM[query.kind])
    with system_scope():
        conn = db.session.connection()
        result = services.audit(conn, services.get_log(conn, unit_id, query.kind))
        db.session.rollback()
    return result
