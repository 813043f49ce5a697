"""The deployment's log signing key: ``TLOG_SIGNING_KEY`` or a key generated into the instance folder."""
from __future__ import annotations

import base64
import os
from pathlib import Path

from flask import current_app

from .note import ALG_ED25519, NoteError, Signer, signer_from_seed

KEY_FILE = "tlog-signing.key"


def parse_seed(text: str) -> bytes:
    """A 32-byte Ed25519 seed from base64, or from Go's ``PRIVATE+KEY+name+id+base64(0x01||seed)``."""
    text = text.strip()
    if text.startswith("PRIVATE+KEY+"):
        raw = base64.b64decode(text.split("+", 4)[4])
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("TLOG_SIGNING_KEY: not an Ed25519 note key")
        return raw[1:]
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise NoteError("TLOG_SIGNING_KEY: expected base64 of a 32-byte Ed25519 seed") from None
    if len(raw) != 32:
        raise NoteError("TLOG_SIGNING_KEY: expected base64 of a 32-byte Ed25519 seed")
    return raw


def load_or_create_seed(instance_dir: str) -> bytes:
    path = Path(instance_dir) / KEY_FILE
    if path.exists():
        return parse_seed(path.read_text())
    seed = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, base64.b64encode(seed) + b"\n")
    finally:
        os.close(fd)
    return seed


def seed(app=None) -> bytes:
    app = app or current_app
    cached = app.extensions.get("camnet.tlog_seed")
    if cached is None:
        configured = app.config.get("TLOG_SIGNING_KEY")
        cached = parse_seed(configured) if configured else load_or_create_seed(app.config["INSTANCE_DIR"])
        app.extensions["camnet.tlog_seed"] = cached
    return cached


def signer(origin: str) -> Signer:
    """The log key under the log's origin as key name (C2SP: the checkpoint's origin line)."""
    return signer_from_seed(origin, seed())


def verifier_key(origin: str) -> str:
    return signer(origin).verifier_key()
