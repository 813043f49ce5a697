"""C2SP signed-note and tlog-checkpoint text, Ed25519 log signatures and cosignature/v1 witness signatures.

A checkpoint body is ``origin\\nsize\\nbase64(root)\\n`` plus optional extension lines; a signed
note is the body, a blank line and one ``— <key name> <base64(key id || signature)>`` line per
signer. Key ids: the first 4 bytes of SHA-256(name || 0x0A || alg || public key), alg 0x01 for
Ed25519 note signatures, 0x04 for cosignature/v1 (the signed message is then
``cosignature/v1\\ntime <t>\\n`` + body and the line carries the 8-byte time before the signature).
"""
from __future__ import annotations

import base64
import binascii
import struct
import time
from dataclasses import dataclass, field
from hashlib import sha256

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
DASH = "\u2014 "


class NoteError(ValueError):
    """A note, key or checkpoint is malformed or its signature does not verify."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"not base64: {text[:40]!r}") from None


def valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_id(name: str, alg: int, public: bytes) -> bytes:
    return sha256(name.encode() + b"\n" + bytes([alg]) + public).digest()[:4]


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Signer:
    """An Ed25519 private key under a key name; ``alg`` 0x01 signs notes, 0x04 cosigns checkpoints."""

    name: str
    key: Ed25519PrivateKey
    alg: int = ALG_ED25519

    def __post_init__(self):
        if not valid_name(self.name):
            raise NoteError(f"key name {self.name!r}: no spaces or '+'")

    @property
    def public(self) -> bytes:
        return public_bytes(self.key.public_key())

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.alg, self.public)

    def verifier_key(self) -> str:
        """``name+hex id+base64(alg || public key)``: what a verifier is configured with."""
        return f"{self.name}+{self.id.hex()}+{b64(bytes([self.alg]) + self.public)}"

    def sign_line(self, body: str, timestamp: int | None = None) -> str:
        if self.alg == ALG_COSIGNATURE_V1:
            ts = int(time.time()) if timestamp is None else timestamp
            sig = struct.pack(">Q", ts) + self.key.sign(cosigned_message(body, ts))
        else:
            sig = self.key.sign(body.encode())
        return f"{DASH}{self.name} {b64(self.id + sig)}\n"


@dataclass(frozen=True)
class Verifier:
    name: str
    alg: int
    public: bytes
    id: bytes = field(default=b"")

    @classmethod
    def parse(cls, vkey: str) -> "Verifier":
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3 or not valid_name(parts[0]):
            raise NoteError("verifier key: expected name+id+base64key")
        name, hexid, raw = parts
        data = unb64(raw)
        if len(data) != 33 or data[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
            raise NoteError("verifier key: not an Ed25519 key (alg 0x01 or 0x04)")
        want = key_id(name, data[0], data[1:])
        if hexid.lower() != want.hex():
            raise NoteError("verifier key: key id does not match the key")
        return cls(name, data[0], data[1:], want)

    def __str__(self) -> str:
        return f"{self.name}+{self.id.hex()}+{b64(bytes([self.alg]) + self.public)}"

    def verify(self, body: str, sig: bytes) -> int | None:
        """Check a signature line's bytes (after the key id); the cosignature's time, or None."""
        key = Ed25519PublicKey.from_public_bytes(self.public)
        try:
            if self.alg == ALG_COSIGNATURE_V1:
                if len(sig) != 72:
                    raise NoteError("cosignature: wrong length")
                (ts,) = struct.unpack(">Q", sig[:8])
                key.verify(sig[8:], cosigned_message(body, ts))
                return ts
            if len(sig) != 64:
                raise NoteError("signature: wrong length")
            key.verify(sig, body.encode())
            return None
        except InvalidSignature:
            raise NoteError(f"signature by {self.name} does not verify") from None


def cosigned_message(body: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def signer_from_seed(name: str, seed: bytes, alg: int = ALG_ED25519) -> Signer:
    return Signer(name, Ed25519PrivateKey.from_private_bytes(seed), alg)


# ---- notes ----------------------------------------------------------------------------------

@dataclass
class Note:
    body: str
    sigs: list[tuple[str, bytes, bytes]]  # (key name, key id, signature bytes)

    def lines_for(self, name: str) -> list[tuple[bytes, bytes]]:
        return [(kid, sig) for n, kid, sig in self.sigs if n == name]


def parse_note(text: str) -> Note:
    if not text.endswith("\n"):
        raise NoteError("note: must end with a newline")
    body, sep, sigblock = text.rpartition("\n\n")
    if not sep:
        raise NoteError("note: no signature block")
    body += "\n"
    sigs = []
    for line in sigblock.splitlines():
        if not line.startswith(DASH):
            raise NoteError("note: malformed signature line")
        name, _, value = line[len(DASH):].partition(" ")
        raw = unb64(value)
        if not valid_name(name) or len(raw) < 5:
            raise NoteError("note: malformed signature line")
        sigs.append((name, raw[:4], raw[4:]))
    if not sigs:
        raise NoteError("note: no signatures")
    return Note(body, sigs)


def sign_note(body: str, *signers: Signer) -> str:
    if not body.endswith("\n"):
        raise NoteError("note body must end with a newline")
    return body + "\n" + "".join(s.sign_line(body) for s in signers)


def verified_by(note: Note, verifier: Verifier) -> bool:
    """Whether the note carries a valid signature (or cosignature) by ``verifier``."""
    for kid, sig in note.lines_for(verifier.name):
        if kid != verifier.id:
            continue
        try:
            verifier.verify(note.body, sig)
        except NoteError:
            return False
        return True
    return False


# ---- checkpoints ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        ext = "".join(line + "\n" for line in self.extensions)
        return f"{self.origin}\n{self.size}\n{b64(self.root)}\n{ext}"


def parse_checkpoint(body: str) -> Checkpoint:
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(line == "" for line in lines[:-1]):
        raise NoteError("checkpoint: expected origin, size, root hash and extension lines")
    origin, size, root = lines[0], lines[1], lines[2]
    if not size.isdigit() or (size != "0" and size.startswith("0")):
        raise NoteError("checkpoint: size is not a decimal number")
    raw = unb64(root)
    if len(raw) != 32:
        raise NoteError("checkpoint: root is not a SHA-256 hash")
    return Checkpoint(origin, int(size), raw, tuple(lines[3:-1]))


def open_checkpoint(text: str, log: Verifier, witnesses: list[Verifier] = (), threshold: int = 0) -> Checkpoint:
    """Parse a signed checkpoint and require the log's signature and ``threshold`` witness cosignatures."""
    note = parse_note(text)
    if log.alg != ALG_ED25519 or not verified_by(note, log):
        raise NoteError(f"checkpoint: no valid signature by the log key {log.name}")
    cp = parse_checkpoint(note.body)
    if cp.origin != log.name:
        raise NoteError(f"checkpoint: origin {cp.origin!r} is not the log key's name {log.name!r}")
    good = sum(1 for w in witnesses if w.alg == ALG_COSIGNATURE_V1 and verified_by(note, w))
    if good < threshold:
        raise NoteError(f"checkpoint: {good} witness cosignatures, {threshold} required")
    return cp
