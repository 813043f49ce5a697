"""Sign-in throttling per account and per real client address (QCVN 11:2026/BCA: 5 failures in 30 s
lock the account 5 minutes)."""
from __future__ import annotations

import ipaddress
import logging

from flask import current_app

from ..coord import InProcessStore

log = logging.getLogger(__name__)
_fallback = InProcessStore()


class _Resilient:
    """While Redis is unreachable (a master failing over), count in this process instead:
    sign-in keeps working and stays throttled per process rather than failing outright."""

    def __init__(self, store):
        self.store = store

    def __getattr__(self, name):
        method = getattr(self.store, name)

        def call(*args, **kwargs):
            try:
                return method(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - redis-py raises many kinds on failover
                log.warning("coordination store unavailable, counting in process: %s", type(exc).__name__)
                return getattr(_fallback, name)(*args, **kwargs)

        return call

    def incr(self, key: str, ttl: int) -> int:
        """Redis's count plus what this process counted while Redis was away (within the same
        window): failures either side of a failover add up instead of each side starting over."""
        try:
            count = self.store.incr(key, ttl)
        except Exception as exc:  # noqa: BLE001 - as above
            log.warning("coordination store unavailable, counting in process: %s", type(exc).__name__)
            return _fallback.incr(key, ttl)
        return count + int(_fallback.get(key) or 0)

    def delete(self, *keys: str) -> None:
        """Forget a count on both sides (a sign-in that succeeds starts the account afresh)."""
        _fallback.delete(*keys)
        try:
            self.store.delete(*keys)
        except Exception as exc:  # noqa: BLE001 - as above
            log.warning("coordination store unavailable, counting in process: %s", type(exc).__name__)


def _store():
    store = current_app.extensions["camnet.coord"]
    return store if isinstance(store, InProcessStore) else _Resilient(store)


def address_key(ip: str | None) -> str | None:
    """The address a limit counts against: the real client (``auth.RealClientAddress``), an IPv6
    client by its /64, which one subscriber holds whole."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _keys(username: str, ip: str | None) -> list[tuple[str, int]]:
    """Per account (QCVN: 5 in 30 s) and per real client address (looser: many people can share a
    commune office's address). Neither is per proxy: behind the Ingress each client is its own."""
    cfg = current_app.config
    keys = [(f"login:{{acct:{username.lower()[:80]}}}", cfg["LOGIN_MAX_FAILURES"])]
    address = address_key(ip)
    if address:
        keys.append((f"login:{{ip:{address}}}", cfg.get("LOGIN_ADDRESS_MAX_FAILURES", cfg["LOGIN_MAX_FAILURES"] * 4)))
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
    _store().delete(f"login:{{acct:{username.lower()[:80]}}}:fail")
