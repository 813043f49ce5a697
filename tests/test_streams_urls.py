"""Safe stream sources: only camera protocols to allowed networks; SSRF targets refused."""
import socket

import pytest

from camnet.errors import ValidationFailed
from camnet.streams import urls

BASE = {"CAMERA_ALLOWED_NETWORKS": ["10.0.0.0/8", "192.168.0.0/16", "127.0.0.1:8090"],
        "REDIS_URL": "redis://127.0.0.1:6379", "S3_ENDPOINT": "http://127.0.0.1:9000",
        "SQLALCHEMY_DATABASE_URI": "sqlite://"}


def _loopback_name():
    for name in (socket.gethostname(), "localhost"):
        try:
            if all(i[4][0].startswith("127.") or i[4][0] == "::1" for i in socket.getaddrinfo(name, 80)):
                return name
        except OSError:
            continue
    return "localhost"


@pytest.mark.parametrize("url, kind", [
    ("http://169.254.169.254/latest/meta-data/", "snapshot_url"),
    ("http://[fe80::1]/", "snapshot_url"),
    ("http://127.0.0.1:6379/", "snapshot_url"),
    ("rtsp://127.0.0.1:6379/", "rtsp_main"),
    ("http://localhost/", "snapshot_url"),
    ("http://[::1]/", "snapshot_url"),
    ("http://[::ffff:127.0.0.1]/", "snapshot_url"),
    ("http://2130706433/", "snapshot_url"),
    ("http://0x7f000001/", "snapshot_url"),
    ("http://0x7f.0.0.1/", "snapshot_url"),
    ("http://017700000001/", "snapshot_url"),
    ("http://127.1/", "snapshot_url"),
    ("http://0.0.0.0/", "snapshot_url"),
    ("http://224.0.0.251/", "snapshot_url"),
    ("file:///etc/passwd", "snapshot_url"),
    ("ftp://10.0.0.1/x.jpg", "snapshot_url"),
    ("gopher://10.0.0.1:70/_", "snapshot_url"),
    ("http://admin:12345@10.0.0.1/snap.jpg", "snapshot_url"),
    ("rtsp://10.0.0.1/stream", "snapshot_url"),
    ("http://10.0.0.1/x", "rtsp_main"),
    ("http://8.8.8.8/snap.jpg", "snapshot_url"),
    ("http://no-such-host.invalid/x.jpg", "snapshot_url"),
    ("http://10.0.0.1/a b", "snapshot_url"),
])
def test_unsafe_sources_are_refused(url, kind):
    with pytest.raises(ValidationFailed) as err:
        urls.validate_stream_url(url, kind, BASE)
    assert err.value.field == kind


def test_a_dns_name_resolving_to_loopback_is_refused():
    with pytest.raises(ValidationFailed, match="loopback"):
        urls.validate_stream_url(f"http://{_loopback_name()}/snap.jpg", "snapshot_url", BASE)


@pytest.mark.parametrize("url, kind", [
    ("http://10.1.2.3/ISAPI/Streaming/channels/101/picture", "snapshot_url"),
    ("https://192.168.1.64:8443/snap.jpg", "snapshot_url"),
    ("rtsp://10.1.2.3:554/Streaming/Channels/101", "rtsp_main"),
    ("rtsps://10.1.2.3/live", "rtsp_sub"),
    ("http://127.0.0.1:8090/cam/NUIDOI-001/snapshot.jpg", "snapshot_url"),
])
def test_cameras_in_allowed_networks_are_accepted(url, kind):
    assert urls.validate_stream_url(url, kind, BASE) == url


def test_port_entries_allow_only_that_port():
    config = {**BASE, "CAMERA_ALLOWED_NETWORKS": ["10.5.0.0/16:554", "127.0.0.1:9000"]}
    assert urls.validate_stream_url("rtsp://10.5.1.1/live", "rtsp_main", config)
    with pytest.raises(ValidationFailed):
        urls.validate_stream_url("rtsp://10.5.1.1:8554/live", "rtsp_main", config)
    with pytest.raises(ValidationFailed, match="outside"):
        urls.validate_stream_url("http://10.6.0.1/x.jpg", "snapshot_url", config)
    # the platform's own object store (127.0.0.1:9000): refused, even listed with its port ...
    with pytest.raises(ValidationFailed):
        urls.validate_stream_url("http://127.0.0.1:9000/bucket/x", "snapshot_url", BASE)
    with pytest.raises(ValidationFailed, match="own service"):
        urls.validate_stream_url("http://127.0.0.1:9000/bucket/x", "snapshot_url", config)
    # ... while another port of that host may be listed (the simulators in development)
    assert urls.validate_stream_url("http://127.0.0.1:8090/cam/1/snapshot.jpg", "snapshot_url", BASE)


def test_own_service_addresses_are_refused_even_inside_allowed_networks():
    config = {**BASE, "REDIS_URL": "redis+cluster://10.9.9.9:7000,10.9.9.10:7000"}
    with pytest.raises(ValidationFailed, match="own service"):
        urls.validate_stream_url("http://10.9.9.9/x.jpg", "snapshot_url", config)


def test_metadata_address_is_refused_even_if_listed():
    config = {**BASE, "CAMERA_ALLOWED_NETWORKS": ["169.254.0.0/16", "169.254.169.254:80"]}
    with pytest.raises(ValidationFailed, match="link-local"):
        urls.validate_stream_url("http://169.254.169.254/", "snapshot_url", config)


def test_connect_check_returns_the_checked_address_for_the_worker():
    target = urls.check_connect_target("rtsp://10.1.2.3/live", BASE)
    assert (target.ip, target.port, target.scheme) == ("10.1.2.3", 554, "rtsp")
    with pytest.raises(urls.UnsafeURL):
        urls.check_connect_target("http://169.254.169.254/", BASE)


def test_development_allows_the_simulators_and_production_does_not():
    from camnet import settings

    dev = settings.from_env(env={})
    assert "127.0.0.1:8554" in dev["CAMERA_ALLOWED_NETWORKS"] and "127.0.0.1:8090" in dev["CAMERA_ALLOWED_NETWORKS"]
    prod = settings.from_env(env={"CAMNET_ENV": "production"})
    assert not any(e.startswith("127.") for e in prod["CAMERA_ALLOWED_NETWORKS"])
    explicit = settings.from_env(env={"CAMERA_ALLOWED_NETWORKS": "10.0.0.0/8"})
    assert explicit["CAMERA_ALLOWED_NETWORKS"] == ["10.0.0.0/8"]


def test_service_addresses_are_looked_up_once_per_ttl_and_config(monkeypatch):
    """The capture worker checks every address right before connecting: the platform's own
    service names are resolved again only after SERVICE_ADDRESSES_TTL, or for other settings."""
    config = {**BASE, "S3_ENDPOINT": "http://localhost:9000"}
    first = urls._service_addresses(config)
    assert urls._ip("127.0.0.1") in first.addresses and (urls._ip("127.0.0.1"), 9000) in first.endpoints
    assert urls._service_addresses(config) is first  # remembered
    assert urls._service_addresses({**config, "REDIS_URL": "redis://10.9.9.9:6379"}) is not first
    monkeypatch.setattr(urls, "SERVICE_ADDRESSES_TTL", 0.0)
    again = urls._service_addresses(config)
    assert again == first and again is not first  # looked up afresh once the time is up
    # a camera written as an address is checked without a look-up, with the same verdicts
    with pytest.raises(ValidationFailed, match="own service"):
        urls.validate_stream_url("http://10.9.9.9/x.jpg", "snapshot_url",
                                 {**BASE, "REDIS_URL": "redis://10.9.9.9:6379"})
    assert urls.check_connect_target("http://10.1.2.3/snap.jpg", BASE).ip == "10.1.2.3"


# ---- finding 3: one strict parse; finding 12: addresses refused whatever the lists say -----------

@pytest.mark.parametrize("url", [
    "http://10.0.0.1%25.attacker.example/snap.jpg",   # was checked as 10.0.0.1, fetched by name
    "http://10.0.0.1%2e.attacker.example/snap.jpg",
    "rtsp://10.0.0.1%25eth0/live",
    "http://10.0.0.1%/x.jpg",
    "http://cam_1.example.vn%00/x.jpg",
    "http://cam!.example.vn/x.jpg",
    "http://xn--cam-.example.vn:80:81/x.jpg",
    "http://fe80::1/x.jpg",                            # IPv6 without brackets
    "http://[10.0.0.1]/x.jpg",
    "http://[::ffff:10.0.0.1/x.jpg",
    "http://10.0.0.1:0/x.jpg",
    "http://10.0.0.1:+80/x.jpg",
    "http://camera.example.vn/x.jpg\u00a0",
])
def test_hosts_two_parsers_could_read_differently_are_refused_naming_the_field(url):
    with pytest.raises(ValidationFailed) as err:
        urls.validate_stream_url(url, "snapshot_url" if url.startswith("http") else "rtsp_main", BASE,
                                 field="snapshot_url")
    assert err.value.field == "snapshot_url"


def test_percent_is_refused_with_a_message_saying_where_it_may_stand():
    with pytest.raises(ValidationFailed, match="bracketed IPv6") as err:
        urls.validate_stream_url("http://10.0.0.1%25.attacker.example/", "snapshot_url", BASE)
    assert err.value.field == "snapshot_url"
    with pytest.raises(urls.UnsafeURL):
        urls.check_connect_target("http://10.0.0.1%25.attacker.example/", BASE)


def test_a_zone_is_taken_only_from_a_bracketed_ipv6_literal():
    source = urls.parse_source("http://[fe80::1%25eth0]:8080/x.jpg", "snapshot_url")
    assert (source.host, source.port, source.host_header) == ("fe80::1", 8080, "[fe80::1]:8080")
    with pytest.raises(ValidationFailed, match="link-local"):  # and a zoned address is link-local
        urls.validate_stream_url("http://[fe80::1%25eth0]/x.jpg", "snapshot_url", BASE)
    assert urls._ip("fe80::1%eth0") == urls._ip("fe80::1")
    with pytest.raises(ValueError):
        urls._ip("10.0.0.1%eth0")  # never stripped from anything else


def test_parse_keeps_the_name_for_host_header_and_the_path_as_written():
    source = urls.parse_source("http://Cam-1.Example.VN:8080/a/b.jpg?ch=1&x=%20", "snapshot_url")
    assert source == urls.Source("http", "cam-1.example.vn", 8080, "/a/b.jpg?ch=1&x=%20",
                                 "cam-1.example.vn:8080", False)
    assert urls.parse_source("rtsp://10.1.2.3", "rtsp_main").path == "/"


@pytest.mark.parametrize("address", ["169.254.169.254", "100.100.100.200", "168.63.129.16", "192.0.0.192",
                                     "[fd00:ec2::254]", "[64:ff9b::a9fe:a9fe]", "169.254.170.2",
                                     "[::ffff:169.254.169.254]"])
def test_metadata_addresses_are_refused_even_when_listed(address):
    host = address.strip("[]")
    config = {**BASE, "CAMERA_ALLOWED_NETWORKS": ["0.0.0.0/0", "::/0", f"{address}:80", "100.64.0.0/10",
                                                  "fd00::/8", "64:ff9b::/96"]}
    with pytest.raises(ValidationFailed, match="metadata|link-local"):
        urls.validate_stream_url(f"http://{address}/latest/meta-data/", "snapshot_url", config)
    with pytest.raises(urls.UnsafeURL):
        urls.check_connect_target(f"http://{address}/", config)
    assert host  # the same address through every spelling


def test_kubernetes_api_and_denied_networks_are_refused_whatever_the_allowed_list_says(monkeypatch):
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    config = {**BASE, "CAMERA_ALLOWED_NETWORKS": ["10.0.0.0/8", "10.96.0.1:443", "10.96.0.1:80"]}
    for url in ("https://10.96.0.1/api/v1/secrets", "http://10.96.0.1/"):
        with pytest.raises(ValidationFailed, match="Kubernetes"):
            urls.validate_stream_url(url, "snapshot_url", config)
    config = {**BASE, "CAMERA_DENIED_NETWORKS": ["10.20.0.0/16", "10.1.2.3:554"]}
    with pytest.raises(ValidationFailed, match="CAMERA_DENIED_NETWORKS"):
        urls.validate_stream_url("http://10.20.1.1/x.jpg", "snapshot_url", config)
    with pytest.raises(ValidationFailed, match="CAMERA_DENIED_NETWORKS"):
        urls.validate_stream_url("rtsp://10.1.2.3/live", "rtsp_main", config)
    assert urls.validate_stream_url("http://10.1.2.3/x.jpg", "snapshot_url", config)  # port 80: not denied


def test_default_allowed_networks_are_the_documented_private_ranges():
    from camnet import settings

    prod = settings.from_env(env={"CAMNET_ENV": "production"})
    assert prod["CAMERA_ALLOWED_NETWORKS"] == ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"]
    assert prod["CAMERA_DENIED_NETWORKS"] == []
    assert settings.from_env(env={"CAMERA_DENIED_NETWORKS": "10.9.0.0/16, 10.8.0.1:80"})[
        "CAMERA_DENIED_NETWORKS"] == ["10.9.0.0/16", "10.8.0.1:80"]
    # 100.64.0.0/10 (carrier-grade NAT, VPN overlays) is allowed, Alibaba's metadata inside it is not
    config = {**BASE, "CAMERA_ALLOWED_NETWORKS": prod["CAMERA_ALLOWED_NETWORKS"]}
    assert urls.validate_stream_url("rtsp://100.70.1.2/live", "rtsp_main", config)
    with pytest.raises(ValidationFailed, match="metadata"):
        urls.validate_stream_url("http://100.100.100.200/latest/meta-data/", "snapshot_url", config)
