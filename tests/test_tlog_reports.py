"""Reports and receipts carry the checkpoint they were made against (issue #15, item 2): the PDF
reports print the signed checkpoint and a QR code to the page that checks it, the receipt page shows
its entry, checkpoint and a QR code, and the page the code leads to is public."""
from __future__ import annotations

import base64
import io
import re
from html import unescape

from pypdf import PdfReader
from sqlalchemy import select

from camnet.billing_socialization import ledger
from camnet.extensions import db
from camnet.tenants.scope import system_scope
from camnet.transparency import embed, keys, services
from camnet.transparency.note import Verifier, open_checkpoint

from .test_tlog import _post_receipt


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _funding_log(unit_id):
    with system_scope():
        log = services.get_log(db.session.connection(), unit_id, "funding")
        db.session.rollback()
    return log


def test_chairman_and_sponsor_pdfs_print_the_checkpoint_they_were_made_against(any_app, world, client_for):
    a = world.id("a")
    _post_receipt(a, "tlog-report-1")
    with system_scope():
        head_seq, _ = ledger.head(a)
        db.session.rollback()
    log = _funding_log(a)
    for client, url in ((client_for("chairman_a"), f"/api/v1/funding/communes/{a}/report.pdf?lang=vi"),
                        (client_for("chairman_a"), f"/api/v1/funding/sponsors/{world.extra['sponsor']['a'][0].id}"
                                                   f"/report.pdf?lang=en")):
        resp = client.get(url)
        assert resp.status_code == 200 and resp.mimetype == "application/pdf"
        text = _pdf_text(resp.data).replace("\n", " ")
        assert log.origin in text and f"checkpoint {head_seq}" in text, text[-800:]
        with system_scope():  # the checkpoint printed is stored and served at that size
            cp = services.checkpoint_at(db.session.connection(), log.id, head_seq)
            db.session.rollback()
        assert services.b64(bytes(cp.root)) in text
        assert f"/transparency/{a}?kind=funding&size={head_seq}" in text
    # the page the QR code leads to is public and checks the printed checkpoint in the browser
    page = any_app.test_client().get(f"/transparency/{a}?kind=funding&size={head_seq}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="tlog-focus"' in html and f'data-size="{head_seq}"' in html and "transparency/verify.js" in html


def test_the_qr_code_drawn_into_the_pdf_is_the_proof_address(any_app, world):
    """The code is vector shapes from segno's matrix: redrawn here module by module it equals segno's."""
    import segno

    url = "https://camnet.example/transparency/4?kind=funding&size=12"
    drawing = embed.qr_drawing(url, width=100)
    rows = [list(r) for r in segno.make(url, error="m").matrix_iter(scale=1, border=2)]
    cell = 100 / len(rows)
    dark = set()
    for rect in drawing.contents:
        y = len(rows) - 1 - round(rect.y / cell)
        for x in range(round(rect.x / cell), round((rect.x + rect.width) / cell)):
            dark.add((x, y))
    assert dark == {(x, y) for y, row in enumerate(rows) for x, v in enumerate(row) if v}


def test_the_receipt_page_shows_its_entry_checkpoint_and_a_qr_code(any_app, world, client_for):
    a = world.id("a")
    receipt_id = _post_receipt(a, "tlog-receipt-page", 1_200_000).id
    log = _funding_log(a)
    resp = client_for("chairman_a").get(f"/funding/receipts/{receipt_id}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "<svg" in html and 'id="tlog-receipt-check"' in html and "transparency/verify.js" in html
    note = unescape(re.search(r'<pre class="tlog-checkpoint muted">(.*?)</pre>', html, re.S).group(1))
    cp = open_checkpoint(note, Verifier.parse(keys.verifier_key(log.origin)))
    leaf = re.search(r'data-leaf="([0-9a-f]{64})"', html).group(1)
    bundle_url = unescape(re.search(r'data-bundle-url="([^"]+)"', html).group(1))
    bundle = client_for("chairman_a").get(bundle_url).get_json()
    assert bundle["size"] == cp.size and bytes.fromhex(leaf) == base64.b64decode(bundle["leaf_hash"])
    # the QR code's address: the public page, by leaf hash (no salt, no payload, no amount in it)
    page = any_app.test_client().get(f"/transparency/{a}?kind=funding&leaf={leaf}&size={cp.size}")
    assert page.status_code == 200 and f'data-leaf="{leaf}"' in page.get_data(as_text=True)
    assert "1200000" not in page.get_data(as_text=True)


def test_a_report_of_a_chain_not_yet_in_its_log_prints_no_checkpoint(any_app, world):
    """A commune whose chain was never moved into a log: no block, nothing written."""
    from camnet.transparency.models import LogCheckpoint

    with system_scope():
        before = db.session.scalar(select(db.func.count()).select_from(LogCheckpoint))
        assert embed.checkpoint_block(world.id("a"), 10**9) is None
        assert embed.checkpoint_block(world.id("a"), 0) is None
        assert db.session.scalar(select(db.func.count()).select_from(LogCheckpoint)) == before
        db.session.rollback()


def test_bad_focus_on_the_public_page_is_ignored(any_app, world):
    a = world.id("a")
    client = any_app.test_client()
    for query in ("kind=nonsense&size=3", "size=-1", "size=abc", "leaf=zz&size=3", f"size={2**70}"):
        resp = client.get(f"/transparency/{a}?{query}")
        assert resp.status_code == 200 and 'id="tlog-focus"' not in resp.get_data(as_text=True)
