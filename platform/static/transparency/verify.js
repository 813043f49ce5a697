// Kiểm tra bằng chứng nhật ký minh bạch trong trình duyệt / check transparency log proofs in the browser.
// WebCrypto only (Ed25519 + SHA-256): the checkpoint's signature by the log key published on the page,
// the leaf hash (from salt and payload, or the receipt's leaf hash), RFC 9162 inclusion and
// consistency proofs up to the checkpoint's root. Nothing the holder pastes is sent to the server.
(function () {
  "use strict";
  const enc = new TextEncoder();
  const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const hex = (a) => [...a].map((x) => x.toString(16).padStart(2, "0")).join("");
  const unhex = (s) => Uint8Array.from(s.match(/../g) || [], (h) => parseInt(h, 16));
  const cat = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let i = 0;
    for (const p of parts) { out.set(p, i); i += p.length; }
    return out;
  };
  const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const sha = async (data) => new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  const node = (l, r) => sha(cat(Uint8Array.of(1), l, r));
  const fail = (msg) => { throw new Error(msg); };
  const VALID = "Bằng chứng hợp lệ / valid: ";
  const INVALID = "Bằng chứng không hợp lệ / invalid: ";

  // A signed note (C2SP signed-note) checked with the log's verifier key "name+id+base64(0x01||key)";
  // returns the checkpoint {origin, size, root}.
  async function checkSignature(noteText, vkey) {
    const text = vkey.trim(), i = text.indexOf("+"), j = text.indexOf("+", i + 1);
    const name = text.slice(0, i), hexid = text.slice(i + 1, j), raw = b64(text.slice(j + 1));
    if (raw.length !== 33 || raw[0] !== 1) fail("khóa không phải Ed25519 / not an Ed25519 key");
    const id = (await sha(cat(enc.encode(name + "\n"), raw))).slice(0, 4);
    if (hex(id) !== hexid.toLowerCase()) fail("mã khóa không khớp / key id mismatch");
    const cut = noteText.indexOf("\n\n");
    if (cut < 0) fail("checkpoint không có chữ ký / unsigned checkpoint");
    const body = noteText.slice(0, cut + 1);
    const key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
    let ok = false;
    for (const line of noteText.slice(cut + 2).split("\n")) {
      const m = line.match(/^\u2014 (\S+) (\S+)$/);
      if (!m || m[1] !== name) continue;
      const sig = b64(m[2]);
      if (sig.length === 68 && eq(sig.slice(0, 4), id) &&
          await crypto.subtle.verify({ name: "Ed25519" }, key, sig.slice(4), enc.encode(body))) { ok = true; break; }
    }
    if (!ok) fail("chữ ký checkpoint không hợp lệ / checkpoint signature does not verify");
    const lines = body.split("\n");
    if (lines[0] !== name) fail("checkpoint của nhật ký khác / checkpoint of another log");
    if (!/^\d+$/.test(lines[1])) fail("kích thước sai / bad size");
    const root = b64(lines[2]);
    if (root.length !== 32) fail("gốc sai / bad root");
    return { origin: lines[0], size: Number(lines[1]), root };
  }

  async function checkInclusion(index, size, leaf, proof, root) {
    if (!(index >= 0 && index < size)) fail("mục nằm ngoài cây / index outside the tree");
    let fn = index, sn = size - 1, r = leaf;
    for (const p of proof) {
      if (sn === 0) fail("bằng chứng quá dài / proof too long");
      if (fn % 2 === 1 || fn === sn) {
        r = await node(p, r);
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = await node(r, p);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0 || !eq(r, root)) fail("bằng chứng không dẫn tới gốc / the proof does not lead to the root");
  }

  async function checkConsistency(m, n, oldRoot, newRoot, proof) {
    if (m > n) fail("kích thước cũ lớn hơn / old size larger");
    if (m === n) { if (proof.length || !eq(oldRoot, newRoot)) fail("nhật ký rẽ nhánh / the log forked"); return; }
    if (proof.length === 0) fail("bằng chứng trống / empty proof");
    if ((m & (m - 1)) === 0) proof = [oldRoot, ...proof];
    let fn = m - 1, sn = n - 1;
    while (fn % 2 === 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    let fr = proof[0], sr = proof[0];
    for (const c of proof.slice(1)) {
      if (sn === 0) fail("bằng chứng quá dài / proof too long");
      if (fn % 2 === 1 || fn === sn) {
        fr = await node(c, fr); sr = await node(c, sr);
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        sr = await node(sr, c);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0 || !eq(fr, oldRoot)) fail("không nối tiếp checkpoint cũ: nhật ký bị viết lại / does not extend the old checkpoint: history rewritten");
    if (!eq(sr, newRoot)) fail("không dẫn tới gốc mới / does not lead to the new root");
  }

  // A bundle from the API (salt + payload) or the public inclusion answer (leaf_hash only).
  async function checkBundle(bundle, vkey, expectLeafHex) {
    const cp = await checkSignature(bundle.checkpoint, vkey);
    if (cp.origin !== bundle.origin || cp.size !== bundle.size) fail("checkpoint khác gói / checkpoint mismatch");
    const leaf = bundle.salt !== undefined
      ? await sha(cat(Uint8Array.of(0), b64(bundle.salt), b64(bundle.payload)))
      : b64(bundle.leaf_hash);
    if (expectLeafHex && hex(leaf) !== expectLeafHex.toLowerCase()) fail("mục khác mục cần kiểm / another entry");
    await checkInclusion(bundle.index, cp.size, leaf, bundle.proof.map(b64), cp.root);
    return `mục #${bundle.index} nằm trong nhật ký ${cp.origin} tại checkpoint ${cp.size} / ` +
      `entry #${bundle.index} is in ${cp.origin} at checkpoint ${cp.size}`;
  }

  async function getText(url) {
    const r = await fetch(url, { credentials: "same-origin" });
    if (!r.ok) fail(`máy chủ trả lời ${r.status} / the server answered ${r.status}`);
    return r.text();
  }

  function show(out, ok, text) {
    out.textContent = (ok ? VALID : INVALID) + text;
    out.className = ok ? "ok" : "error";
    out.dataset.verdict = ok ? "valid" : "invalid";
  }

  function pageKey(origin) {
    const el = [...document.querySelectorAll(".tlog-key")].find((k) => k.textContent.trim().startsWith(origin + "+"));
    if (!el) fail("không có khóa cho nhật ký này trên trang / no key for this log on this page");
    return el.textContent.trim();
  }

  // What a QR code asked for: a receipt's leaf in a checkpoint, or that the log still extends a report's checkpoint.
  async function checkFocus(f) {
    const base = `/transparency/${f.dataset.unit}/${f.dataset.kind}`;
    const vkey = f.dataset.key;
    if (f.dataset.leaf) {
      const bundle = JSON.parse(await getText(`${base}/proof/inclusion?leaf=${encodeURIComponent(f.dataset.leaf)}&size=${f.dataset.size}`));
      return checkBundle(bundle, vkey, f.dataset.leaf.length === 64 ? f.dataset.leaf : null);
    }
    const old = await checkSignature(await getText(`${base}/checkpoints/${f.dataset.size}`), vkey);
    const now = await checkSignature(await getText(`${base}/checkpoint`), vkey);
    if (now.size > old.size) {
      const c = JSON.parse(await getText(`${base}/proof/consistency?old=${old.size}&new=${now.size}`));
      await checkConsistency(old.size, now.size, old.root, now.root, c.proof.map(b64));
    } else {
      await checkConsistency(old.size, now.size, old.root, now.root, []);
    }
    return `nhật ký ${now.origin} (${now.size} mục) nối tiếp checkpoint ${old.size} của báo cáo / ` +
      `the log (${now.size} entries) extends the report's checkpoint ${old.size}`;
  }

  async function run(out, work) {
    try { show(out, true, await work()); } catch (err) { show(out, false, err.message); }
  }

  window.camnetTlog = { checkBundle, checkSignature, checkInclusion, checkConsistency, unhex };
  document.addEventListener("DOMContentLoaded", () => {
    const out = document.getElementById("tlog-result");
    const pasted = document.getElementById("tlog-check");
    if (pasted) {
      pasted.addEventListener("click", () => run(out, async () => {
        const bundle = JSON.parse(document.getElementById("tlog-bundle").value);
        return checkBundle(bundle, pageKey(bundle.origin)); // the key published on this page, not the bundle's
      }));
    }
    const focus = document.getElementById("tlog-focus");
    if (focus && out) run(out, () => checkFocus(focus));
    // the receipt page: fetch the receipt's bundle, check it, and that its payload is this receipt's transaction
    const receipt = document.getElementById("tlog-receipt-check");
    if (receipt) {
      receipt.addEventListener("click", () => run(document.getElementById("tlog-receipt-result"), async () => {
        const bundle = JSON.parse(await getText(receipt.dataset.bundleUrl));
        const said = await checkBundle(bundle, receipt.dataset.key, receipt.dataset.leaf);
        if (hex(await sha(b64(bundle.payload))) !== receipt.dataset.txHash)
          fail("mục không phải bút toán của phiếu thu này / the entry is not this receipt's transaction");
        return said;
      }));
    }
  });
})();
