"""Transparency proofs checked in Debian's Chromium (issue #15, item 5): WebCrypto Ed25519 and
SHA-256 in ``static/transparency/verify.js``, on the receipt page, on the public transparency page
(a pasted bundle, and the addresses the printed QR codes lead to)."""
from __future__ import annotations

import base64
import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from camnet.extensions import db
from camnet.tenants.scope import system_scope

from ..conftest import _make_app
from .test_browser import CHROMIUM, SHOTS, _signed_in

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def server(request, tmp_path_factory, live_services):
    from camnet.billing_socialization import receipts
    from camnet.billing_socialization.models import Sponsor
    from camnet.billing_socialization.schemas import ReceiptIn
    from camnet.transparency import services
    from camnet.demo import load_all
    from camnet.tenants.models import AdminUnit

    app, cleanup = _make_app("sqlite", request, tmp_path_factory.mktemp("e2e-tlog"), live_services,
                             {"WTF_CSRF_ENABLED": True})
    with app.app_context():
        load_all()
        with system_scope():
            unit = db.session.execute(select(AdminUnit).where(AdminUnit.code == "NUIDOI")).scalar_one()
            conn = db.session.connection()
            # a checkpoint as a report printed it yesterday, then one more receipt: the log grew since
            old = services.issue_checkpoint(conn, services.get_log(conn, unit.id, "funding"), force=True)
            sponsor_id = db.session.scalar(select(Sponsor.id).where(Sponsor.commune_id == unit.id).limit(1))
            receipt, _ = receipts.record_receipt(unit.id, ReceiptIn(idempotency_key="e2e-tlog-1", amount=750_000,
                                                                    method="cash", sponsor_id=sponsor_id))
            db.session.commit()
            facts = {"unit_id": unit.id, "receipt_id": receipt.id, "old_size": old.size}
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{httpd.server_port}", "app": app, **facts}
    httpd.shutdown()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if cleanup:
        cleanup()


def _verdict(page, selector: str) -> str:
    page.wait_for_selector(f"{selector}[data-verdict]", timeout=20_000)
    return page.inner_text(selector)


def test_debians_chromium_has_webcrypto_ed25519(browser, server):
    """No vendored verifier needed: Chromium imports a raw Ed25519 key and checks a signature."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    sig = key.sign(b"camnet")
    context = browser.new_context()
    page = context.new_page()
    page.goto(server["url"] + f"/transparency/{server['unit_id']}")
    ok = page.evaluate("""async ([k, s]) => {
        const b = (x) => Uint8Array.from(atob(x), (c) => c.charCodeAt(0));
        const key = await crypto.subtle.importKey('raw', b(k), {name: 'Ed25519'}, false, ['verify']);
        return [await crypto.subtle.verify({name: 'Ed25519'}, key, b(s), new TextEncoder().encode('camnet')),
                await crypto.subtle.verify({name: 'Ed25519'}, key, b(s), new TextEncoder().encode('camnet!'))];
    }""", [base64.b64encode(raw).decode(), base64.b64encode(sig).decode()])
    assert ok == [True, False]
    context.close()


def test_a_real_receipt_is_valid_in_the_browser_and_a_tampered_proof_is_not(browser, server):
    context, page = _signed_in(browser, server, "chutich.nuidoi")
    page.goto(server["url"] + f"/funding/receipts/{server['receipt_id']}")
    page.click("#tlog-receipt-check")
    said = _verdict(page, "#tlog-receipt-result")
    page.screenshot(path=str(SHOTS / "tlog-receipt-valid.png"), full_page=True)
    assert "hợp lệ / valid" in said and "không hợp lệ" not in said, said

    bundle = page.request.get(server["url"] + f"/api/v1/tlog/receipts/{server['receipt_id']}/proof").json()
    page.goto(server["url"] + f"/transparency/{server['unit_id']}")
    page.fill("#tlog-bundle", json.dumps(bundle))
    page.click("#tlog-check")
    said = _verdict(page, "#tlog-result")
    assert "hợp lệ / valid" in said and "không hợp lệ" not in said, said

    proof = [bytearray(base64.b64decode(h)) for h in bundle["proof"]]
    assert proof, "the demo log has more than one entry"
    proof[0][0] ^= 1
    tampered = dict(bundle, proof=[base64.b64encode(bytes(h)).decode() for h in proof])
    page.goto(server["url"] + f"/transparency/{server['unit_id']}")
    page.fill("#tlog-bundle", json.dumps(tampered))
    page.click("#tlog-check")
    said = _verdict(page, "#tlog-result")
    page.screenshot(path=str(SHOTS / "tlog-tampered-invalid.png"), full_page=True)
    assert "không hợp lệ / invalid" in said, said

    # another amount under the same salt (a neighbour's guess) does not verify either
    guess = dict(bundle, payload=base64.b64encode(base64.b64decode(bundle["payload"]) + b" ").decode())
    page.goto(server["url"] + f"/transparency/{server['unit_id']}")
    page.fill("#tlog-bundle", json.dumps(guess))
    page.click("#tlog-check")
    assert "không hợp lệ / invalid" in _verdict(page, "#tlog-result")
    context.close()


def test_the_addresses_of_the_printed_qr_codes_check_themselves(browser, server):
    """A report's code: the log today extends the printed checkpoint (consistency); a receipt's
    code: its leaf is in the checkpoint (inclusion by leaf hash, public)."""
    context, page = _signed_in(browser, server, "chutich.nuidoi")
    bundle = page.request.get(server["url"] + f"/api/v1/tlog/receipts/{server['receipt_id']}/proof").json()
    leaf = base64.b64decode(bundle["leaf_hash"]).hex()
    anon = browser.new_context()
    public = anon.new_page()
    public.goto(server["url"] + f"/transparency/{server['unit_id']}?kind=funding&leaf={leaf}&size={bundle['size']}")
    said = _verdict(public, "#tlog-result")
    assert "hợp lệ / valid" in said and "không hợp lệ" not in said, said
    assert bundle["size"] > server["old_size"]
    public.goto(server["url"] + f"/transparency/{server['unit_id']}?kind=funding&size={server['old_size']}")
    said = _verdict(public, "#tlog-result")
    public.screenshot(path=str(SHOTS / "tlog-report-checkpoint.png"), full_page=True)
    assert "hợp lệ / valid" in said and "không hợp lệ" not in said, said
    anon.close()
    context.close()
