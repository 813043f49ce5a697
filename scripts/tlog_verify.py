#!/usr/bin/env python3
"""Verify camnet transparency logs without camnet: signed checkpoints (C2SP signed-note, Ed25519,
cosignature/v1 witnesses with a threshold), inclusion of an entry (a proof bundle) and consistency
between two checkpoints (RFC 6962 / RFC 9162). Python standard library plus ``cryptography`` only.

    tlog_verify.py checkpoint --key LOGKEY [--witness KEY ... --threshold N] checkpoint.txt
    tlog_verify.py bundle --key LOGKEY bundle.json            (a receipt's, export's or access entry's proof)
    tlog_verify.py consistency --key LOGKEY old.txt new.json   (new.json: the consistency endpoint's answer)

Exit status 0 and "OK ..." when everything checks; 1 and "FAIL: ..." otherwise.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import json
import struct
import sys
from hashlib import sha256

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

DASH = "\u2014 "


class Fail(Exception):
    pass


def unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Fail(f"not base64: {text[:40]!r}") from None


def node(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right).digest()


def leaf(data: bytes) -> bytes:
    return sha256(b"\x00" + data).digest()


class Key:
    def __init__(self, vkey: str):
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise Fail("verifier key: expected name+id+base64key")
        self.name, hexid, raw = parts
        data = unb64(raw)
        if len(data) != 33 or data[0] not in (1, 4):
            raise Fail("verifier key: not Ed25519 (alg 0x01) or cosignature/v1 (alg 0x04)")
        self.alg, self.public = data[0], data[1:]
        self.id = sha256(self.name.encode() + b"\n" + data).digest()[:4]
        if self.id.hex() != hexid.lower():
            raise Fail("verifier key: id does not match")

    def check(self, body: str, sig: bytes) -> bool:
        key = Ed25519PublicKey.from_public_bytes(self.public)
        try:
            if self.alg == 4:
                if len(sig) != 72:
                    return False
                (ts,) = struct.unpack(">Q", sig[:8])
                key.verify(sig[8:], f"cosignature/v1\ntime {ts}\n{body}".encode())
            else:
                key.verify(sig, body.encode())
            return True
        except InvalidSignature:
            return False


def open_note(text: str):
    if not text.endswith("\n"):
        raise Fail("note: does not end with a newline")
    body, sep, block = text.rpartition("\n\n")
    if not sep:
        raise Fail("note: no signatures")
    sigs = []
    for line in block.splitlines():
        if not line.startswith(DASH):
            raise Fail("note: malformed signature line")
        name, _, value = line[len(DASH):].partition(" ")
        raw = unb64(value)
        sigs.append((name, raw[:4], raw[4:]))
    return body + "\n", sigs


def signed_by(body: str, sigs, key: Key) -> bool:
    return any(n == key.name and kid == key.id and key.check(body, s) for n, kid, s in sigs)


def checkpoint(text: str, log: Key, witnesses=(), threshold: int = 0):
    body, sigs = open_note(text)
    if log.alg != 1 or not signed_by(body, sigs, log):
        raise Fail(f"checkpoint: not signed by the log key {log.name}")
    lines = body.split("\n")
    if len(lines) < 4 or lines[0] != log.name or not lines[1].isdigit():
        raise Fail("checkpoint: origin, size or root malformed (or origin is not the key's name)")
    root = unb64(lines[2])
    if len(root) != 32:
        raise Fail("checkpoint: root is not 32 bytes")
    good = [w.name for w in witnesses if w.alg == 4 and signed_by(body, sigs, w)]
    if len(good) < threshold:
        raise Fail(f"checkpoint: {len(good)} witness cosignatures, {threshold} required")
    return int(lines[1]), root, lines[3:-1], good


def verify_inclusion(index: int, size: int, h: bytes, proof, root: bytes) -> None:
    if not 0 <= index < size:
        raise Fail("inclusion: index outside the tree")
    fn, sn, r = index, size - 1, h
    for p in proof:
        if sn == 0:
            raise Fail("inclusion: proof too long")
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or r != root:
        raise Fail("inclusion: the proof does not lead to the checkpoint's root")


def verify_consistency(m: int, n: int, old: bytes, new: bytes, proof) -> None:
    if not 0 < m <= n:
        raise Fail("consistency: sizes out of order")
    if m == n:
        if proof or old != new:
            raise Fail("consistency: same size, different roots (a fork)")
        return
    if not proof:
        raise Fail("consistency: empty proof")
    if m & (m - 1) == 0:
        proof = [old, *proof]
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise Fail("consistency: proof too long")
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != old or sr != new:
        raise Fail("consistency: the new checkpoint does not extend the old one (history rewritten)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("checkpoint", "bundle", "consistency"):
        p = sub.add_parser(name)
        p.add_argument("--key", required=True, help="the log's verifier key (name+id+base64)")
        p.add_argument("--witness", action="append", default=[], help="a witness verifier key (repeat)")
        p.add_argument("--threshold", type=int, default=0, help="witness cosignatures required")
        p.add_argument("files", nargs="+")
    args = ap.parse_args(argv)
    try:
        log = Key(args.key)
        witnesses = [Key(w) for w in args.witness]

        def read(path):
            with open(path, encoding="utf-8") as f:
                return f.read()

        if args.cmd == "checkpoint":
            size, root, ext, good = checkpoint(read(args.files[0]), log, witnesses, args.threshold)
            print(f"OK checkpoint {log.name} size {size} root {base64.b64encode(root).decode()}"
                  + (f" witnesses {','.join(good)}" if good else "") + "".join(f"\n  {e}" for e in ext))
        elif args.cmd == "bundle":
            b = json.loads(read(args.files[0]))
            size, root, _ext, good = checkpoint(b["checkpoint"], log, witnesses, args.threshold)
            if b["size"] != size:
                raise Fail("bundle: its size is not the checkpoint's")
            h = leaf(unb64(b["salt"]) + unb64(b["payload"]))
            if "leaf_hash" in b and unb64(b["leaf_hash"]) != h:
                raise Fail("bundle: salt and payload do not hash to the leaf hash")
            verify_inclusion(b["index"], size, h, [unb64(p) for p in b["proof"]], root)
            print(f"OK entry {b['index']} is in {log.name} at size {size}: {unb64(b['payload']).decode('utf-8', 'replace')}")
        else:
            old_size, old_root, _e, _g = checkpoint(read(args.files[0]), log)
            c = json.loads(read(args.files[1]))
            new_size, new_root, _e2, good = checkpoint(c["checkpoint"], log, witnesses, args.threshold)
            if c["old"] != old_size or c["new"] != new_size:
                raise Fail("consistency: the proof is for other sizes")
            verify_consistency(old_size, new_size, old_root, new_root, [unb64(p) for p in c["proof"]])
            print(f"OK {log.name}: size {new_size} extends size {old_size}")
    except (Fail, KeyError, ValueError, TypeError, OSError) as exc:
        print(f"FAIL: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
