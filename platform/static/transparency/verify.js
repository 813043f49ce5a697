// Kiểm tra gói bằng chứng trong trình duyệt / check a transparency proof bundle in the browser.
// WebCrypto only (Ed25519 + SHA-256): the checkpoint's signature by the log key, the leaf hash
// from salt and payload, and the RFC 9162 inclusion proof up to the checkpoint's root.
(function () {
  "use strict";
  const enc = new TextEncoder();
  const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const cat = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let i = 0;
    for (const p of parts) { out.set(p, i); i += p.length; }
    return out;
  };
  const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const sha = async (data) => new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  const node = (l, r) => sha(cat(Uint8Array.of(1), l, r));

  async function checkSignature(noteText, vkey) {
    const text = vkey.trim(), i = text.indexOf("+"), j = text.indexOf("+", i + 1);
    const name = text.slice(0, i), hexid = text.slice(i + 1, j), keyb64 = text.slice(j + 1);
    const raw = b64(keyb64);
    if (raw.length !== 33 || raw[0] !== 1) throw new Error("khóa không phải Ed25519 / not an Ed25519 key");
    const id = (await sha(cat(enc.encode(name + "\n"), raw))).slice(0, 4);
    if ([...id].map((x) => x.toString(16).padStart(2, "0")).join("") !== hexid.toLowerCase())
      throw new Error("mã khóa không khớp / key id mismatch");
    const cut = noteText.lastIndexOf("\n\n");
    const body = noteText.slice(0, cut + 1);
    const key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
    for (const line of noteText.slice(cut + 2).split("\n")) {
      const m = line.match(/^\u2014 (\S+) (\S+)$/);
      if (!m || m[1] !== name) continue;
      const sig = b64(m[2]);
      if (eq(sig.slice(0, 4), id) && await crypto.subtle.verify({ name: "Ed25519" }, key, sig.slice(4), enc.encode(body)))
        return body.split("\n");
    }
    throw new Error("chữ ký checkpoint không hợp lệ / checkpoint signature does not verify");
  }

  async function checkInclusion(index, size, leaf, proof, root) {
    if (index < 0 || index >= size) throw new Error("index outside the tree");
    let fn = index, sn = size - 1, r = leaf;
    for (const p of proof) {
      if (sn === 0) throw new Error("proof too long");
      if (fn % 2 === 1 || fn === sn) {
        r = await node(p, r);
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = await node(r, p);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0 || !eq(r, root)) throw new Error("bằng chứng không dẫn tới gốc / proof does not reach the root");
  }

  async function checkBundle(bundle, vkey) {
    const lines = await checkSignature(bundle.checkpoint, vkey);
    const size = Number(lines[1]);
    if (lines[0] !== vkey.split("+")[0] || size !== bundle.size) throw new Error("checkpoint khác gói / checkpoint mismatch");
    const leaf = await sha(cat(Uint8Array.of(0), b64(bundle.salt), b64(bundle.payload)));
    await checkInclusion(bundle.index, size, leaf, bundle.proof.map(b64), b64(lines[2]));
    return `Hợp lệ: mục #${bundle.index} nằm trong nhật ký ${lines[0]} (kích thước ${size}) / ` +
      `Valid: entry #${bundle.index} is in ${lines[0]} at size ${size}`;
  }

  window.camnetTlog = { checkBundle, checkSignature, checkInclusion };
  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("tlog-check");
    if (!button) return;
    button.addEventListener("click", async () => {
      const out = document.getElementById("tlog-result");
      try {
        const bundle = JSON.parse(document.getElementById("tlog-bundle").value);
        // the key published on this page for that log, not the one inside the bundle
        const keyEl = [...document.querySelectorAll("[data-tlog-kind]")]
          .map((s) => s.querySelector(".tlog-key")).find((k) => k && k.textContent.startsWith(bundle.origin + "+"));
        if (!keyEl) throw new Error("không có khóa cho nhật ký này / no key for this log on this page");
        out.textContent = await checkBundle(bundle, keyEl.textContent);
        out.className = "ok";
      } catch (err) {
        out.textContent = "Không khớp / Does not verify: " + err.message;
        out.className = "error";
      }
    });
  });
})();
