"""Safe stream sources: only camera protocols, only addresses inside the install's allowed networks.

A tenant must not be able to point a "camera" at the platform's own services, at loopback or
at a cloud metadata address (server-side request forgery). ``validate_stream_url`` runs when a
camera is saved; ``check_connect_target`` runs again right before each connection, because DNS
answers can change between the two.

``CAMERA_ALLOWED_NETWORKS`` entries: ``10.0.0.0/8`` (any port), ``10.1.2.3:554`` or
``10.1.0.0/16:554`` (only that port), ``cam.example.vn:554`` (what that name resolves to, that port).
An entry with a port may open a loopback address or one of the platform's own service
addresses; link-local (169.254.0.0/16, incl. 169.254.169.254), unspecified and multicast
addresses are refused whatever the list says.
"""
from __future__ import annotations

import ipaddress
import re
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app

from ..errors import ValidationFailed

SCHEMES = {"rtsp": ("rtsp", "rtsps"), "http": ("http", "https")}
KIND_SCHEMES = {"rtsp_main": "rtsp", "rtsp_sub": "rtsp", "snapshot_url": "http", "mjpeg_url": "http",
                "rtsp": "rtsp", "http": "http", "snapshot": "http", "mjpeg": "http"}
DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
_DOTTED_QUAD = re.compile(r"^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$")
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+))*\.?$", re.I)


class UnsafeURL(ValueError):
    """The URL may not be used as a camera source; the message says why."""


@dataclass(frozen=True)
class Target:
    """Where a connection may go: connect to ``ip`` (not the name again) on ``port``."""

    scheme: str
    host: str
    ip: str
    port: int


@dataclass(frozen=True)
class _Rule:
    network: ipaddress._BaseNetwork | None
    host: str | None
    port: int | None


def _parse_rules(entries) -> list[_Rule]:
    rules = []
    for entry in entries or []:
        entry = entry.strip()
        if not entry:
            continue
        port = None
        body = entry
        if entry.startswith("["):  # [v6]:port or [v6/len]:port
            inner, _, rest = entry[1:].partition("]")
            body, port = inner, int(rest[1:]) if rest.startswith(":") else None
        elif entry.count(":") == 1:
            body, _, p = entry.partition(":")
            port = int(p)
        try:
            rules.append(_Rule(ipaddress.ip_network(body, strict=False), None, port))
        except ValueError:
            rules.append(_Rule(None, body.lower().rstrip("."), port))
    return rules


def _ip(value: str):
    addr = ipaddress.ip_address(value.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _always_refused(addr) -> str | None:
    if addr.is_unspecified:
        return "unspecified address"
    if addr.is_link_local:
        return "link-local address (cloud metadata)"
    if addr.is_multicast:
        return "multicast address"
    if isinstance(addr, ipaddress.IPv4Address) and addr in ipaddress.ip_network("255.255.255.255/32"):
        return "broadcast address"
    return None


# The capture worker checks every camera address right before connecting; looking the platform's
# own service names up again each time cost three DNS look-ups per snapshot. Their addresses are
# kept this long (per set of service URLs).
SERVICE_ADDRESSES_TTL = 30.0
_service_cache: dict[tuple, tuple[float, set]] = {}


def _service_addresses(config) -> set:
    """The platform's own services (database, Redis, object store): never a camera by default."""
    key = (config.get("SQLALCHEMY_DATABASE_URI"), config.get("S3_ENDPOINT"), config.get("REDIS_URL"))
    now = time.monotonic()
    hit = _service_cache.get(key)
    if hit is not None and now - hit[0] < SERVICE_ADDRESSES_TTL:
        return hit[1]
    found = _look_up_services(*key)
    _service_cache[key] = (now, found)
    return found


def _look_up_services(database_url, s3_endpoint, redis_url) -> set:
    found = set()
    urls = [database_url, s3_endpoint]
    redis_url = redis_url or ""
    if "://" in redis_url:
        scheme, rest = redis_url.split("://", 1)
        urls += [f"{scheme}://{part}" for part in rest.split("/", 1)[0].split(",")]
    for url in urls:
        if not url or url.startswith("sqlite"):
            continue
        host = urlsplit(url if "://" in url else "x://" + url).hostname
        if not host:
            continue
        try:
            for info in socket.getaddrinfo(host, None):
                found.add(_ip(info[4][0]))
        except (OSError, ValueError):
            continue
    return found


def _resolve(host: str, port: int) -> list:
    try:
        return [_ip(host)]  # an address already (most cameras are written so): nothing to look up
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeURL(f"host {host!r} does not resolve") from None
    return sorted({_ip(info[4][0]) for info in infos}, key=str)


def _port_rule_allows(rules, addr, port, host) -> bool:
    for rule in rules:
        if rule.port is None or rule.port != port:
            continue
        if rule.network is not None and addr.version == rule.network.version and addr in rule.network:
            return True
        if rule.host is not None and (rule.host == host or _matches_name(rule.host, addr)):
            return True
    return False


def _matches_name(name: str, addr) -> bool:
    try:
        return addr in {_ip(i[4][0]) for i in socket.getaddrinfo(name, None)}
    except OSError:
        return False


def _check(url: str, kind: str | None, config) -> list[Target]:
    if not isinstance(url, str) or not url.strip():
        raise UnsafeURL("empty URL")
    if any(ch in url for ch in "\r\n\t \\") or len(url) > 500:
        raise UnsafeURL("URL contains spaces, control characters or backslashes, or is too long")
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    allowed = SCHEMES[KIND_SCHEMES[kind]] if kind else SCHEMES["rtsp"] + SCHEMES["http"]
    if scheme not in allowed:
        raise UnsafeURL(f"scheme {scheme or '(none)'!r} not allowed here; use {' or '.join(allowed)}")
    if "@" in parts.netloc:
        raise UnsafeURL("credentials in the URL are not allowed; use the username and password fields")
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeURL("URL has no host")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise UnsafeURL("invalid port") from None
    if ":" not in host and _NUMERIC_HOST.match(host) and not _DOTTED_QUAD.match(host.rstrip(".")):
        # 2130706433, 0x7f.1, 017700000001: parsers disagree about these; accept only a.b.c.d
        raise UnsafeURL(f"non-standard numeric address {host!r}; write it as a.b.c.d")
    rules = _parse_rules(config.get("CAMERA_ALLOWED_NETWORKS"))
    services = _service_addresses(config)
    targets = []
    for addr in _resolve(host, port):
        refused = _always_refused(addr)
        if refused:
            raise UnsafeURL(f"{host} resolves to a {refused} ({addr})")
        explicit = _port_rule_allows(rules, addr, port, host)
        if addr.is_loopback and not explicit:
            raise UnsafeURL(f"{host} resolves to a loopback address ({addr})")
        if addr in services and not explicit:
            raise UnsafeURL(f"{host} is one of the platform's own service addresses")
        in_network = any(r.port is None and r.network is not None and addr.version == r.network.version
                         and addr in r.network for r in rules)
        if not (explicit or in_network):
            raise UnsafeURL(f"{host} ({addr}) port {port} is outside CAMERA_ALLOWED_NETWORKS")
        targets.append(Target(scheme, host, str(addr), port))
    if not targets:
        raise UnsafeURL(f"host {host!r} does not resolve")
    return targets


def validate_stream_url(url: str | None, kind: str, config=None, field: str | None = None) -> str | None:
    """Check a camera source URL when it is saved; raise ValidationFailed (422) naming the field.

    ``kind``: ``rtsp_main``/``rtsp_sub``/``rtsp`` (rtsp, rtsps) or ``snapshot_url``/``mjpeg_url``/``http``
    (http, https). Every address the host resolves to must be allowed.
    """
    if url in (None, ""):
        return None
    config = config if config is not None else current_app.config
    try:
        _check(url, kind, config)
    except UnsafeURL as exc:
        name = field or kind
        raise ValidationFailed(f"{name}: {exc}", field=name) from None
    return url.strip()


def check_connect_target(url: str, config=None) -> Target:
    """For the capture worker and the live proxy, right before connecting: re-resolve and re-check.

    Returns the first allowed ``Target`` (connect to ``target.ip``/``target.port``, sending
    ``target.host`` as the Host header) or raises ``UnsafeURL``.
    """
    config = config if config is not None else current_app.config
    return _check(url, None, config)[0]
