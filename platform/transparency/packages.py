"""Evidence packages and the evidence log: the package's entry sealed into it (``transparency.json``:
salt, payload, inclusion proof and the signed checkpoint), and the check of an uploaded package
against that entry, the platform's stored log and its signed checkpoints.

The entry is appended when the manifest is signed, before the archive is closed, so the package can
carry its own proof: the entry names the export, its incident, the manifest's SHA-256 (which lists
every file's SHA-256) and the manifest's signature; the archive's own SHA-256 is the platform's
record (``EvidenceExport.sha256``), checked by ``incidents.evidence.verify_archive``.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json

from sqlalchemy import select

from ..extensions import db
from ..incidents import evidence
from ..tenants.scope import system_scope
from . import keys, merkle, services, store
from .note import NoteError, Verifier, open_checkpoint

FORMAT = "camnet-evidence/2"
TLOG = evidence.TLOG
_ESCAPES = str.maketrans({"\\": "\\\\", "|": "\\|", "\b": "\\b", "\f": "\\f", "\n": "\\n",
                          "\r": "\\r", "\t": "\\t", "\v": "\\v"})
_UNESCAPE = {"\\": "\\", "|": "|", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def field(value) -> str:
    return "" if value is None else str(value).translate(_ESCAPES)


def split_fields(text: str) -> list[str]:
    """The fields of a ``|``-joined payload, escapes undone."""
    out, cur, chars = [], [], iter(text)
    for c in chars:
        if c == "\\":
            cur.append(_UNESCAPE.get(next(chars, ""), ""))
        elif c == "|":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    out.append("".join(cur))
    return out


def evidence_payload(export) -> bytes:
    """An export's entry: commune, export id, incident, the manifest's SHA-256, its Ed25519 signature
    and the signing key's id."""
    fields = [FORMAT, export.commune_id, export.id, export.incident_id, export.manifest_sha256, export.signature,
              export.signing_key_id]
    return "|".join(field(f) for f in fields).encode()


def seal(export, manifest_bytes: bytes, signature: str) -> dict[str, bytes]:
    """Append the export's entry to the commune's evidence log and return ``transparency.json``
    (registered in ``incidents.evidence.SEALS``; runs in the build's transaction, as the platform)."""
    conn = db.session.connection()
    services.append_entry(conn, export.commune_id, "evidence", export.id, evidence_payload(export))
    log = services.get_log(conn, export.commune_id, "evidence")
    bundle = services.leaf_bundle(conn, log, services.leaf_by_ref(conn, log, export.id))
    bundle.pop("payload_text", None)
    return {TLOG: json.dumps({"format": "camnet-tlog-entry/1", **bundle}, indent=1).encode()}


# ---- checking a package ---------------------------------------------------------------------

def _unb64(value) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None


def _read_bundle(entry: bytes) -> dict:
    bundle = json.loads(entry)
    if not isinstance(bundle, dict):
        raise ValueError("not an object")
    out = {"origin": bundle["origin"], "checkpoint": bundle["checkpoint"]}
    if not isinstance(out["origin"], str) or not isinstance(out["checkpoint"], str):
        raise ValueError("origin, checkpoint")
    for name in ("index", "size"):
        if not isinstance(bundle[name], int) or isinstance(bundle[name], bool) or not 0 <= bundle[name] < 2**62:
            raise ValueError(name)
        out[name] = bundle[name]
    out["salt"], out["payload"] = _unb64(bundle["salt"]), _unb64(bundle["payload"])
    if not isinstance(bundle["proof"], list) or len(bundle["proof"]) > 64:
        raise ValueError("proof")
    out["proof"] = [_unb64(h) for h in bundle["proof"]]
    return out


def _compare_payload(payload: bytes, export_id, manifest_bytes: bytes, signature, where: str) -> list[str]:
    """What of the package differs from a log entry's payload, naming the file."""
    fields = split_fields(payload.decode("utf-8", "replace"))
    if len(fields) < 6 or fields[0] not in (FORMAT, "camnet-evidence/1"):
        return [f"{where}: mục nhật ký không phải gói chứng cứ / the log entry is not an evidence export"]
    problems = []
    if fields[2] != str(export_id):
        problems.append(f"manifest.json: lần xuất #{export_id} khác mục nhật ký (#{fields[2]}) / names another "
                        f"export than its log entry")
    if fields[0] == FORMAT:
        manifest_sha, logged_sig = fields[4], fields[5]
    else:  # entries of the first format: ..., sha256, size, object key, manifest sha256, signature
        manifest_sha, logged_sig = fields[7] if len(fields) > 7 else "", fields[8] if len(fields) > 8 else ""
    if manifest_sha and hashlib.sha256(manifest_bytes).hexdigest() != manifest_sha:
        problems.append(f"manifest.json: SHA-256 khác mục nhật ký ({where}) / differs from its log entry")
    if logged_sig and signature != logged_sig:
        problems.append(f"manifest.sig: chữ ký khác mục nhật ký ({where}) / differs from its log entry")
    return problems


def check_package(export, export_id, manifest_bytes: bytes, signature, entry: bytes | None) -> tuple[str, list]:
    """Registered in ``incidents.evidence.LOG_CHECKS``: ("match" | "mismatch" | "unlogged", problems).

    With ``transparency.json``: its checkpoint must be signed by this platform's key for the
    commune's evidence log, its entry must hash into that checkpoint's root through the proof, the
    platform's own log must hold the same entry at that index under a checkpoint with the same root,
    and the entry must name this export, this manifest's SHA-256 and this signature. Without it, the
    platform's stored entry of the export is compared. Nothing of the log beyond the verdict is told."""
    problems: list[str] = []
    bundle = None
    if entry is not None:
        try:
            bundle = _read_bundle(entry)
        except (ValueError, KeyError, TypeError):
            return "mismatch", [f"{TLOG}: không đọc được bằng chứng nhật ký / not a readable log proof"]
    with system_scope():
        conn = db.session.connection()
        log = None
        if export is not None:
            log = store.find_log(conn, export.commune_id, "evidence")
        elif bundle is not None:
            log = conn.execute(select(store.LOGS.c.id, store.LOGS.c.size, store.LOGS.c.origin)
                               .where(store.LOGS.c.origin == bundle["origin"], store.LOGS.c.kind == "evidence")).first()
        stored = None
        if log is not None and isinstance(export_id, int) and not isinstance(export_id, bool) and 0 < export_id < 2**62:
            stored = conn.execute(select(store.LEAVES.c.idx, store.LEAVES.c.leaf_hash, store.LEAVES.c.payload)
                                  .where(store.LEAVES.c.log_id == log.id, store.LEAVES.c.ref_id == export_id)
                                  .order_by(store.LEAVES.c.idx.desc()).limit(1)).first()
        platform_root = None
        if bundle is not None and log is not None:
            cp = conn.execute(select(services.CPS.c.root).where(services.CPS.c.log_id == log.id,
                                                                services.CPS.c.size == bundle["size"])).first()
            platform_root = bytes(cp.root) if cp is not None else None
        db.session.rollback()
    if bundle is None:
        if stored is None:
            return "unlogged", []  # exported before the logs existed: the record alone vouches for it
        problems += _compare_payload(bytes(stored.payload), export_id, manifest_bytes, signature,
                                     "nhật ký của nền tảng / the platform's log")
        return ("mismatch" if problems else "match"), problems
    if log is None:
        return "mismatch", [f"{TLOG}: nhật ký {bundle['origin'][:80]} không thuộc nền tảng này / "
                            f"the log is not one of this platform's"]
    if bundle["origin"] != log.origin:
        problems.append(f"{TLOG}: nhật ký khác nhật ký của xã / names another log than the commune's")
    try:
        cp = open_checkpoint(bundle["checkpoint"], Verifier.parse(keys.verifier_key(log.origin)))
    except NoteError:
        return "mismatch", problems + [f"{TLOG}: checkpoint không có chữ ký hợp lệ của nhật ký / the checkpoint "
                                       f"is not signed by the log's key"]
    if cp.size != bundle["size"]:
        problems.append(f"{TLOG}: kích thước khác checkpoint / size differs from the checkpoint")
    leaf = merkle.leaf_hash(bundle["salt"] + bundle["payload"])
    try:
        merkle.verify_inclusion(bundle["index"], cp.size, leaf, bundle["proof"], cp.root)
    except merkle.ProofError as exc:
        problems.append(f"{TLOG}: bằng chứng không dẫn tới gốc của checkpoint / the inclusion proof does not "
                        f"lead to the checkpoint's root ({exc})")
    if platform_root is None:
        problems.append(f"{TLOG}: nền tảng không có checkpoint ở kích thước {cp.size} / the platform has no "
                        f"checkpoint at that size")
    elif platform_root != cp.root:
        problems.append(f"{TLOG}: checkpoint khác checkpoint của nền tảng: nhật ký bị rẽ nhánh / the checkpoint "
                        f"differs from the platform's: a forked log")
    if stored is None:
        problems.append(f"{TLOG}: nhật ký của nền tảng không có lần xuất này / the platform's log has no entry "
                        f"for this export")
    elif stored.idx != bundle["index"] or bytes(stored.leaf_hash) != leaf:
        problems.append(f"{TLOG}: mục nhật ký khác mục nền tảng lưu / the entry differs from the platform's log")
    problems += _compare_payload(bundle["payload"], export_id, manifest_bytes, signature, TLOG)
    return ("mismatch" if problems else "match"), problems


def install() -> None:
    """Register the seal and the check with the evidence export (once per process)."""
    if seal not in evidence.SEALS:
        evidence.SEALS.append(seal)
    if check_package not in evidence.LOG_CHECKS:
        evidence.LOG_CHECKS.append(check_package)
