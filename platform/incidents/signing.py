"""The platform's evidence signing key (Ed25519): signs each export's manifest.json so that a package
can be checked against the platform and not only against itself.

The key comes from ``EVIDENCE_SIGNING_KEY`` (a PEM private key, or the 32-byte seed in base64) or is
generated once into ``instance/evidence-signing.key`` (mode 0600), as the camera key is. Several web
processes must share one key: set the setting (or share the instance folder) when running more than one.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import current_app

KEY_FILE = "evidence-signing.key"
EXTENSION = "camnet.evidence_signing_key"


class SigningKeyError(RuntimeError):
    """EVIDENCE_SIGNING_KEY is set but is not an Ed25519 private key."""


def _parse(raw: str) -> Ed25519PrivateKey:
    text = raw.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise SigningKeyError("EVIDENCE_SIGNING_KEY: not an Ed25519 private key (PEM, or the 32-byte seed "
                              "in base64)") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError("EVIDENCE_SIGNING_KEY: the PEM key is not an Ed25519 key")
    return key


def _embedded(instance_dir: str) -> Ed25519PrivateKey:
    path = Path(instance_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process of the same instance wrote it first
            pass
        else:
            try:
                os.write(fd, pem)
            finally:
                os.close(fd)
    return _parse(path.read_text())


def private_key(app=None) -> Ed25519PrivateKey:
    app = app or current_app._get_current_object()
    key = app.extensions.get(EXTENSION)
    if key is None:
        raw = app.config.get("EVIDENCE_SIGNING_KEY")
        key = _parse(raw) if raw else _embedded(app.config["INSTANCE_DIR"])
        app.extensions[EXTENSION] = key
    return key


def public_key(app=None) -> Ed25519PublicKey:
    return private_key(app).public_key()


def public_raw(app=None) -> bytes:
    return public_key(app).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(app=None) -> str:
    return public_key(app).public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def key_id(app=None) -> str:
    """The first 16 hex digits of SHA-256 over the raw public key: short enough to read aloud."""
    return hashlib.sha256(public_raw(app)).hexdigest()[:16]


def sign(data: bytes) -> str:
    return base64.b64encode(private_key().sign(data)).decode()


def verify(data: bytes, signature_b64: str) -> bool:
    try:
        public_key().verify(base64.b64decode(signature_b64, validate=True), data)
        return True
    except (InvalidSignature, ValueError, TypeError, binascii.Error):
        return False
