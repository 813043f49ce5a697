"""Camera passwords encrypted at rest (Fernet), keyed by CAMERA_SECRET_KEY or instance/camera.key."""
from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

KEY_FILE = "camera.key"


def _fernet_key(raw: str) -> bytes:
    """A Fernet key as given, or one derived from any other secret string."""
    try:
        Fernet(raw.encode())
        return raw.encode()
    except (ValueError, TypeError):
        return base64.urlsafe_b64encode(hashlib.sha256(raw.encode()).digest())


def _embedded_key(instance_dir: str) -> str:
    """The embedded default: a key generated once into instance/camera.key (mode 0600)."""
    path = Path(instance_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, Fernet.generate_key())
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    return path.read_text().strip()


def cipher(config=None) -> MultiFernet:
    """CAMERA_SECRET_KEY may list several keys (comma-separated): the first encrypts, all decrypt,
    so keys can be rotated without re-entering every password."""
    config = config if config is not None else current_app.config
    raw = config.get("CAMERA_SECRET_KEY") or _embedded_key(config["INSTANCE_DIR"])
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    return MultiFernet([Fernet(_fernet_key(k)) for k in keys])


def encrypt(plaintext: str | None, config=None) -> str | None:
    if plaintext in (None, ""):
        return None
    return cipher(config).encrypt(plaintext.encode()).decode()


def decrypt(token: str | None, config=None) -> str | None:
    if not token:
        return None
    try:
        return cipher(config).decrypt(token.encode()).decode()
    except InvalidToken:
        raise RuntimeError("camera password cannot be decrypted: wrong CAMERA_SECRET_KEY?") from None


def decrypt_password(camera, config=None) -> str | None:
    """The camera's password in clear, for the capture worker only (never for a response)."""
    return decrypt(camera.password_enc, config)
