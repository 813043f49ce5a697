"""What reports and receipts carry of the funding log: the signed checkpoint they were made against
and a QR code leading to its proof (drawn into the PDF with reportlab, inline SVG on pages).

Billing sits below transparency, so it asks through hooks registered in ``init_app``:
``pdf.CHECKPOINT_BLOCKS`` (the flowables a PDF report appends) and ``receipts.RECEIPT_PROOFS``
(what the receipt page shows and checks in the browser).
"""
from __future__ import annotations

import segno
from flask import current_app, has_request_context, url_for
from reportlab.graphics.shapes import Drawing, Rect
from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Table, TableStyle
from sqlalchemy import select

from ..billing_socialization.pdf import FONT
from ..extensions import db
from ..tenants.scope import system_scope
from . import keys, services, store


def _url(endpoint: str, **values) -> str:
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    host = current_app.config.get("TLOG_ORIGIN_HOST") or "camnet.example"
    with current_app.test_request_context(base_url=f"https://{host}"):
        return url_for(endpoint, _external=True, **values)


def _at_least(conn, log, size: int):
    """The checkpoint at ``size``, or one signed now at the log's size (which contains it)."""
    cp = conn.execute(select(services.CPS).where(services.CPS.c.log_id == log.id,
                                                 services.CPS.c.size == size)).first()
    return cp if cp is not None else services.issue_checkpoint(conn, log, force=True)


def checkpoint_block(commune_id: int, size: int) -> dict | None:
    """The signed checkpoint a report covering the commune's first ``size`` transactions was made
    against, and the address of the page that checks it (None while the log lacks those entries)."""
    if size <= 0:
        return None
    with system_scope():
        conn = db.session.connection()
        log = store.find_log(conn, commune_id, "funding")
        if log is None or log.size < size:  # a chain not yet moved into its log (``camnet tlog migrate``)
            db.session.rollback()
            return None
        cp = _at_least(conn, log, size)
        note = services.served_note(conn, cp)
        db.session.commit()  # a checkpoint signed for this report is kept, so its QR code leads somewhere
    return {"origin": log.origin, "size": cp.size, "covers": size, "root": services.b64(bytes(cp.root)),
            "checkpoint": note, "key": keys.verifier_key(log.origin),
            "url": _url("transparency.page", unit_id=commune_id, kind="funding", size=cp.size)}


def receipt_proof(receipt, tx) -> dict | None:
    """The receipt's transaction in the funding log: index, leaf hash, checkpoint, the page checking it
    (public: the leaf hash reveals nothing), the bundle API (salt and payload, for the receipt's
    readers) and a QR code as inline SVG."""
    with system_scope():
        conn = db.session.connection()
        log = store.find_log(conn, receipt.commune_id, "funding")
        leaf = None if log is None else conn.execute(
            select(store.LEAVES.c.idx, store.LEAVES.c.leaf_hash)
            .where(store.LEAVES.c.log_id == log.id, store.LEAVES.c.ref_id == tx.id).limit(1)).first()
        if leaf is None:
            db.session.rollback()
            return None
        cp = services.checkpoint_covering(conn, log, leaf.idx, None)
        note = services.served_note(conn, cp)
        db.session.commit()
    leaf_hex = bytes(leaf.leaf_hash).hex()
    url = _url("transparency.page", unit_id=receipt.commune_id, kind="funding", leaf=leaf_hex, size=cp.size)
    return {"origin": log.origin, "index": leaf.idx, "size": cp.size, "leaf_hash": leaf_hex, "checkpoint": note,
            "key": keys.verifier_key(log.origin), "url": url,
            "bundle_url": url_for("tlog_api.receipt_proof", receipt_id=receipt.id, size=cp.size),
            "qr_svg": segno.make(url, error="m").svg_inline(scale=3, border=2, title="QR")}


# ---- PDF --------------------------------------------------------------------------------------

def qr_drawing(text: str, width: float = 30 * mm) -> Drawing:
    """A QR code as vector shapes (one rectangle per run of dark modules in a row)."""
    rows = [list(r) for r in segno.make(text, error="m").matrix_iter(scale=1, border=2)]
    n = len(rows)
    cell = width / n
    drawing = Drawing(width, width)
    for y, row in enumerate(rows):
        x = 0
        while x < n:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < n and row[x]:
                x += 1
            drawing.add(Rect(start * cell, (n - 1 - y) * cell, (x - start) * cell, cell,
                             fillColor=colors.black, strokeColor=None, strokeWidth=0))
    return drawing


def pdf_block(commune_id: int, size: int, lang: str = "vi") -> list:
    """Registered in ``pdf.CHECKPOINT_BLOCKS``: the checkpoint's text beside a QR code to its page."""
    block = checkpoint_block(commune_id, size)
    if block is None:
        return []
    en = lang == "en"
    small = ParagraphStyle("tlog", fontName=FONT, fontSize=7, leading=9, textColor=colors.black)
    head = (f"Made against checkpoint {block['size']} of the signed transparency log {block['origin']} "
            f"(this report covers its first {block['covers']} entries). Scan the code to check the log "
            f"still extends it." if en else
            f"Lập theo checkpoint {block['size']} của nhật ký minh bạch đã ký {block['origin']} "
            f"(báo cáo gồm {block['covers']} mục đầu). Quét mã để kiểm tra nhật ký vẫn nối tiếp checkpoint này.")
    note = "<br/>".join(line.replace("&", "&amp;").replace("<", "&lt;") for line in block["checkpoint"].splitlines())
    text = [Paragraph(head, small), Paragraph(note, small),
            Paragraph(block["url"].replace("&", "&amp;"), small)]
    table = Table([[qr_drawing(block["url"]), text]], colWidths=[34 * mm, None])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0)]))
    return [table]


def install() -> None:
    """Register the PDF block and the receipt's entry with billing (once per process)."""
    from ..billing_socialization import pdf, receipts

    if pdf_block not in pdf.CHECKPOINT_BLOCKS:
        pdf.CHECKPOINT_BLOCKS.append(pdf_block)
    if receipt_proof not in receipts.RECEIPT_PROOFS:
        receipts.RECEIPT_PROOFS.append(receipt_proof)
