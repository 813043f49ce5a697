"""Sign-in throttling per account and per address (QCVN 11:2026/BCA: 5 failures in 30 s lock 5 minutes)."""
from __future__ import annotations

from flask import current_app


def _store():
    return current_app.extensions["camnet.coord"]


def _keys(username: str, ip: str | None) -> list[tuple[str, int]]:
    cfg = current_app.config
    keys = [(f"login:{{acct:{username.lower()}}}", cfg["LOGIN_MAX_FAILURES"])]
    if ip:
        # An office behind one address has many people: a looser limit per address.
        keys.append((f"login:{{ip:{ip}}}", cfg["LOGIN_MAX_FAILURES"] * 4))
    return keys


def locked_for(username: str, ip: str | None) -> int:
    """Seconds left on a lockout of this account or address, 0 if none."""
    store = _store()
    return max([max(0, store.ttl(f"{key}:lock")) for key, _ in _keys(username, ip)] + [0])


def note_failure(username: str, ip: str | None) -> bool:
    """Count a failure; returns True when this failure starts a lockout."""
    cfg = current_app.config
    store = _store()
    started = False
    for key, limit in _keys(username, ip):
        count = store.incr(f"{key}:fail", cfg["LOGIN_FAILURE_WINDOW"])
        if count >= limit:
            started |= store.set(f"{key}:lock", "1", ttl=cfg["LOGIN_LOCKOUT_SECONDS"], nx=True)
    return started


def note_success(username: str) -> None:
    _store().delete(f"login:{{acct:{username.lower()}}}:fail")
