"""Password hashing with argon2id, and the rules a new password must meet."""
from __future__ import annotations

import functools
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import ValidationFailed

_hasher = PasswordHasher()
# Spent on unknown usernames too, so timing does not tell which accounts exist.
_DUMMY = _hasher.hash("camnet-dummy-password")
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "data" / "common_passwords.txt"
MAX_LENGTH = 200


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def common_passwords() -> frozenset[str]:
    """The most common passwords (lower case), read once per process."""
    with COMMON_PASSWORDS_FILE.open(encoding="utf-8") as f:
        return frozenset(line.strip().lower() for line in f if line.strip())


def check_new_password(password: str, *, username: str, staff: bool, min_staff: int = 12,
                       min_resident: int = 8, field: str = "password") -> None:
    """Refuse a password that is short for the account's kind (staff or resident), among the most
    common ones, or built on the username. The error names ``field``."""
    password = password or ""
    minimum = min_staff if staff else min_resident
    if len(password) < minimum:
        raise ValidationFailed(f"{field}: Mật khẩu quá ngắn, cần ít nhất {minimum} ký tự / "
                               f"Password too short, at least {minimum} characters", field=field)
    if len(password) > MAX_LENGTH:
        raise ValidationFailed(f"{field}: Mật khẩu quá dài (tối đa {MAX_LENGTH}) / "
                               f"Password too long (at most {MAX_LENGTH})", field=field)
    if password.lower() in common_passwords():
        raise ValidationFailed(f"{field}: Mật khẩu quá phổ biến, hãy chọn mật khẩu khác / "
                               "Password is too common, choose another", field=field)
    name = (username or "").strip().lower()
    if name and name in password.lower():
        raise ValidationFailed(f"{field}: Mật khẩu không được chứa tên đăng nhập / "
                               "Password must not contain the username", field=field)
