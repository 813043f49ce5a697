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
    # the platform's own object store: refused unless listed with its port
    with pytest.raises(ValidationFailed):
        urls.validate_stream_url("http://127.0.0.1:9000/bucket/x", "snapshot_url", BASE)
    assert urls.validate_stream_url("http://127.0.0.1:9000/bucket/x", "snapshot_url", config)


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
    assert urls._ip("127.0.0.1") in first
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
