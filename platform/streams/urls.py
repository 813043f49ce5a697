"""Safe stream sources: only camera protocols, only addresses inside the install's allowed networks.

A tenant must not be able to point a "camera" at the platform's own services, at loopback or
at a cloud metadata address (server-side request forgery). ``validate_stream_url`` runs when a
camera is saved; right before each connection ``connector.plan`` parses the URL once more, resolves
it once and checks that answer, and the connection then goes to the checked address only.

``CAMERA_ALLOWED_NETWORKS`` entries: ``10.0.0.0/8`` (any port), ``10.1.2.3:554`` or
``10.1.0.0/16:554`` (only that port), ``cam.example.vn:554`` (what that name resolves to, that port).
An entry with a port may open a loopback address, or another port of a host running one of the
platform's own services. Refused whatever the list says: link-local (169.254.0.0/16, fe80::/10),
the cloud metadata addresses (``METADATA_ADDRESSES``), unspecified, multicast and broadcast
addresses, the platform's own service endpoints (database, Redis, object store: address and
port), the Kubernetes API (``KUBERNETES_SERVICE_HOST``) and ``CAMERA_DENIED_NETWORKS`` (same syntax).

The host is parsed once, here, and strictly: a name is letters, digits, ``-``, ``_`` and dots; an
address is a.b.c.d or a bracketed IPv6 literal; a ``%`` zone is accepted only inside the brackets.
"""
from __future__ import annotations

import ipaddress
import os
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
SERVICE_PORTS = {"postgresql": 5432, "postgres": 5432, "mysql": 3306, "redis": 6379, "rediss": 6379,
                 "http": 80, "https": 443}
# Cloud metadata and host-agent addresses outside link-local (those are refused as a range):
# AWS IMDS over IPv6, Alibaba Cloud, Azure WireServer, Oracle Cloud.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "fd00:ec2::254", "100.100.100.200", "168.63.129.16", "192.0.0.192"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_DOTTED_QUAD = re.compile(r"^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$")
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+))*\.?$", re.I)
_NAME = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*\.?$")


class UnsafeURL(ValueError):
    """The URL may not be used as a camera source; the message says why."""


@dataclass(frozen=True)
class Source:
    """A camera URL parsed once: everything any later step needs, nothing parsed again."""

    scheme: str
    host: str          # lower case; an IPv6 address without brackets or zone
    port: int
    path: str          # path and query, as written ("/" if empty)
    host_header: str   # what the camera expects in Host: (name, and port when not the default)
    is_address: bool   # written as an address: nothing to look up


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
    """An address from getaddrinfo or a rule; a ``%zone`` is dropped only from an IPv6 address."""
    if ":" in value:
        value = value.split("%", 1)[0]
    addr = ipaddress.ip_address(value)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _checked_form(addr):
    """The address the rules judge: a NAT64 address (64:ff9b::a.b.c.d) reaches a.b.c.d."""
    if addr.version == 6 and addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return addr


def _always_refused(addr) -> str | None:
    if addr.is_unspecified:
        return "địa chỉ không xác định / unspecified address"
    if addr in METADATA_ADDRESSES:
        return "địa chỉ metadata của đám mây / cloud metadata address (link-local or listed)"
    if addr.is_link_local:
        return "địa chỉ link-local / link-local address (cloud metadata)"
    if addr.is_multicast:
        return "địa chỉ multicast / multicast address"
    if isinstance(addr, ipaddress.IPv4Address) and addr == ipaddress.IPv4Address("255.255.255.255"):
        return "địa chỉ broadcast / broadcast address"
    return None


# ---- parsing: once, strictly ------------------------------------------------------------------

def parse_source(url, kind: str | None = None) -> Source:
    """Split a camera URL into what a connection needs, refusing anything two parsers could read
    differently (``10.0.0.1%25.attacker.example``, ``0x7f.1``, an unbracketed IPv6 address)."""
    if not isinstance(url, str) or not url.strip():
        raise UnsafeURL("URL trống / empty URL")
    if any(ch in url for ch in "\r\n\t \\") or any(ord(ch) < 32 or ord(ch) == 127 for ch in url) \
            or len(url) > 500:
        raise UnsafeURL("URL có khoảng trắng, ký tự điều khiển hoặc gạch chéo ngược, hoặc quá dài / "
                        "URL contains spaces, control characters or backslashes, or is too long")
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        raise UnsafeURL("URL viết sai / malformed URL") from None
    scheme = parts.scheme.lower()
    allowed = SCHEMES[KIND_SCHEMES[kind]] if kind else SCHEMES["rtsp"] + SCHEMES["http"]
    if scheme not in allowed:
        raise UnsafeURL(f"scheme {scheme or '(none)'!r} not allowed here; use {' or '.join(allowed)}")
    netloc = parts.netloc
    if "@" in netloc:
        raise UnsafeURL("credentials in the URL are not allowed; use the username and password fields")
    if netloc.startswith("["):
        inner, closed, rest = netloc[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise UnsafeURL("địa chỉ IPv6 viết sai / malformed IPv6 address")
        text = inner.split("%", 1)[0]  # a zone (fe80::1%25eth0) only here, only on an IPv6 literal
        try:
            addr = ipaddress.IPv6Address(text)
        except ValueError:
            raise UnsafeURL(f"địa chỉ IPv6 viết sai / malformed IPv6 address {inner!r}") from None
        host, port_text, is_address = str(addr), rest[1:] if rest else "", True
        shown = f"[{host}]"
    else:
        host, colon, port_text = netloc.rpartition(":") if ":" in netloc else (netloc, "", "")
        if colon and not port_text:
            port_text = "x"  # "host:" : no port after the colon
        host = host.lower()
        if not host:
            raise UnsafeURL("URL không có máy chủ / URL has no host")
        if "%" in host:
            raise UnsafeURL("host: '%' chỉ được dùng trong địa chỉ IPv6 đặt trong [] / "
                            "'%' is allowed only as the zone of a bracketed IPv6 address")
        if ":" in host:
            raise UnsafeURL("host: địa chỉ IPv6 phải đặt trong [] / an IPv6 address must be in brackets")
        if _NUMERIC_HOST.match(host) and not _DOTTED_QUAD.match(host.rstrip(".")):
            # 2130706433, 0x7f.1, 017700000001: parsers disagree about these; accept only a.b.c.d
            raise UnsafeURL(f"non-standard numeric address {host!r}; write it as a.b.c.d")
        if not _NAME.match(host) or len(host) > 253:
            raise UnsafeURL(f"host: tên máy chủ có ký tự không hợp lệ / the host name {host!r} has "
                            "characters a host name cannot have (write international names as xn--)")
        is_address = bool(_DOTTED_QUAD.match(host.rstrip(".")))
        host = host.rstrip(".") if is_address else host
        shown = host
    if port_text and not (port_text.isdigit() and 0 < int(port_text) < 65536):
        raise UnsafeURL("cổng không hợp lệ / invalid port")
    port = int(port_text) if port_text else DEFAULT_PORTS[scheme]
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not path.startswith("/"):
        raise UnsafeURL("đường dẫn phải bắt đầu bằng / / the path must start with /")
    header = shown if port == DEFAULT_PORTS[scheme] else f"{shown}:{port}"
    return Source(scheme, host, port, path, header, is_address)


# ---- the platform's own addresses -------------------------------------------------------------

@dataclass(frozen=True)
class Services:
    """The platform's own services: ``endpoints`` (address, port) are never a camera; other ports
    of ``addresses`` only with an explicit ``addr:port`` entry. ``always`` is refused on any port."""

    addresses: frozenset
    endpoints: frozenset
    always: frozenset


# The capture worker checks every camera address right before connecting; looking the platform's
# own service names up again each time cost three DNS look-ups per snapshot. Their addresses are
# kept this long (per set of service URLs).
SERVICE_ADDRESSES_TTL = 30.0
_service_cache: dict[tuple, tuple[float, Services]] = {}


def _service_addresses(config) -> Services:
    """The platform's own services (database, Redis, object store, Kubernetes API)."""
    key = (config.get("SQLALCHEMY_DATABASE_URI"), config.get("S3_ENDPOINT"), config.get("REDIS_URL"),
           os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT"))
    now = time.monotonic()
    hit = _service_cache.get(key)
    if hit is not None and now - hit[0] < SERVICE_ADDRESSES_TTL:
        return hit[1]
    found = _look_up_services(*key)
    _service_cache[key] = (now, found)
    return found


def _addresses_of(host: str) -> set:
    try:
        return {_ip(host)}
    except ValueError:
        pass
    try:
        return {_ip(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError, ValueError):
        return set()


def _look_up_services(database_url, s3_endpoint, redis_url, k8s_host=None, k8s_port=None) -> Services:
    urls = [database_url, s3_endpoint]
    redis_url = redis_url or ""
    if "://" in redis_url:
        scheme, rest = redis_url.split("://", 1)
        scheme = "redis" if scheme.startswith("redis") and not scheme.startswith("rediss") else scheme
        urls += [f"{scheme}://{part}" for part in rest.split("@")[-1].split("/", 1)[0].split(",")]
    addresses, endpoints = set(), set()
    for url in urls:
        if not url or url.startswith("sqlite"):
            continue
        try:
            parts = urlsplit(url if "://" in url else "http://" + url)
            host, port = parts.hostname, parts.port
        except ValueError:
            continue
        if not host:
            continue
        scheme = parts.scheme.split("+", 1)[0]
        port = port or SERVICE_PORTS.get(scheme)
        for addr in _addresses_of(host):
            addresses.add(addr)
            if port:
                endpoints.add((addr, port))
    # The cluster's API server: a Service address that is never a camera, on any port.
    always = _addresses_of(k8s_host) if k8s_host else set()
    return Services(frozenset(addresses), frozenset(endpoints), frozenset(always))


# ---- the rules ---------------------------------------------------------------------------------

def _resolve(source: Source) -> list:
    if source.is_address or ":" in source.host:
        return [_ip(source.host)]  # an address already (most cameras are written so): nothing to look up
    try:
        infos = socket.getaddrinfo(source.host, source.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeURL(f"host {source.host!r} does not resolve") from None
    return sorted({_ip(info[4][0]) for info in infos}, key=str)


def _rule_matches(rule: _Rule, addr, port, host) -> bool:
    if rule.port is not None and rule.port != port:
        return False
    if rule.network is not None:
        return addr.version == rule.network.version and addr in rule.network
    return rule.host is not None and (rule.host == host or _matches_name(rule.host, addr))


def _port_rule_allows(rules, addr, port, host) -> bool:
    return any(rule.port is not None and _rule_matches(rule, addr, port, host) for rule in rules)


def _matches_name(name: str, addr) -> bool:
    try:
        return addr in {_ip(i[4][0]) for i in socket.getaddrinfo(name, None)}
    except OSError:
        return False


def check_address(addr, port: int, host: str, config) -> None:
    """Raise ``UnsafeURL`` unless a connection to ``addr``:``port`` is allowed (``host``: the name
    it was written as, for name entries). Nothing is looked up for ``addr`` itself."""
    judged = _checked_form(addr)
    refused = _always_refused(judged)
    if refused:
        raise UnsafeURL(f"{host}: {refused} ({addr})")
    services = _service_addresses(config)
    if judged in services.always:
        raise UnsafeURL(f"{host} là API của cụm Kubernetes / is the cluster's Kubernetes API")
    if (judged, port) in services.endpoints:
        raise UnsafeURL(f"{host} là dịch vụ của chính nền tảng / is one of the platform's own service "
                        "addresses")
    denied = _parse_rules(config.get("CAMERA_DENIED_NETWORKS"))
    if any(_rule_matches(rule, judged, port, host) for rule in denied):
        raise UnsafeURL(f"{host} ({addr}) nằm trong CAMERA_DENIED_NETWORKS / is inside CAMERA_DENIED_NETWORKS")
    rules = _parse_rules(config.get("CAMERA_ALLOWED_NETWORKS"))
    explicit = _port_rule_allows(rules, judged, port, host)
    if judged.is_loopback and not explicit:
        raise UnsafeURL(f"{host}: địa chỉ loopback / resolves to a loopback address ({addr})")
    if judged in services.addresses and not explicit:
        raise UnsafeURL(f"{host} là dịch vụ của chính nền tảng / is one of the platform's own service "
                        "addresses")
    in_network = any(r.port is None and r.network is not None and judged.version == r.network.version
                     and judged in r.network for r in rules)
    if not (explicit or in_network):
        raise UnsafeURL(f"{host} ({addr}) cổng {port} nằm ngoài mạng được phép / port {port} is outside "
                        "CAMERA_ALLOWED_NETWORKS")


def check_source(source: Source, config) -> list[Target]:
    """Resolve ``source`` once and check every answer; the targets to connect to, in order."""
    targets = []
    for addr in _resolve(source):
        check_address(addr, source.port, source.host, config)
        targets.append(Target(source.scheme, source.host, str(addr), source.port))
    if not targets:
        raise UnsafeURL(f"host {source.host!r} does not resolve")
    return targets


def _check(url: str, kind: str | None, config) -> list[Target]:
    return check_source(parse_source(url, kind), config)


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
    """Parse, resolve once and check; the first allowed ``Target``. Connections go through
    ``connector.plan``, which pins this address; this is for callers that only need the verdict."""
    config = config if config is not None else current_app.config
    return _check(url, None, config)[0]
