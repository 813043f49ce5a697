"""Object storage: one interface, an S3/MinIO implementation (minio client) and a local folder.

Only portable S3 calls are used (no MinIO-only admin APIs), so Ceph RGW, SeaweedFS,
Garage or AWS work as well. Objects are private; media leaves through presigned URLs of
at most five minutes or through the app.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, NamedTuple
from urllib.parse import urlsplit

# What S3 stores answer when object lock (a legal hold or retention) forbids a delete.
LOCKED_CODES = ("AccessDenied", "ObjectLocked")


class StorageError(RuntimeError):
    """The store could not be reached or refused the operation."""


class ObjectLockedError(StorageError):
    """The store refused to delete an object under legal hold (or retention)."""


class StoredObject(NamedTuple):
    key: str
    last_modified: datetime  # aware, UTC


class LocalStore:
    """A folder under instance/: the embedded default."""

    kind = "local"

    def __init__(self, root: str, secret: str):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._secret = secret.encode()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise StorageError(f"bad object key {key!r}")
        return path

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise StorageError(f"no object {key!r}") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every file whose key starts with ``prefix``, in key order (a ``.part`` left by a put
        that was killed is listed too: it is a file in the store nobody will finish)."""
        root = self.root.resolve()
        start = (root / prefix.rsplit("/", 1)[0]).resolve() if "/" in prefix else root
        if start != root and root not in start.parents:
            raise StorageError(f"bad prefix {prefix!r}")
        for folder, dirs, files in os.walk(start):
            dirs.sort()
            base = Path(folder).relative_to(root).as_posix()
            for name in sorted(files):
                key = name if base == "." else f"{base}/{name}"
                if not key.startswith(prefix):
                    continue
                try:
                    mtime = os.stat(os.path.join(folder, name)).st_mtime
                except FileNotFoundError:  # deleted while we walked
                    continue
                yield StoredObject(key, datetime.fromtimestamp(mtime, timezone.utc))

    def set_legal_hold(self, key: str, on: bool) -> bool:
        return False  # the database hold is the only one here

    def sign(self, key: str, expires: int) -> str:
        """A signature for the app's own download route (the local analogue of presigning)."""
        until = int(time.time()) + expires
        mac = hmac.new(self._secret, f"{key}:{until}".encode(), hashlib.sha256).hexdigest()
        return f"{until}:{mac}"

    def check_signature(self, key: str, signature: str) -> bool:
        try:
            until, mac = signature.split(":", 1)
            good = hmac.new(self._secret, f"{key}:{until}".encode(), hashlib.sha256).hexdigest()
            return int(until) >= time.time() and hmac.compare_digest(mac, good)
        except ValueError:
            return False

    def presigned_url(self, key: str, expires: int = 300) -> str | None:
        return None  # served by the app after its own checks

    def ping(self) -> bool:
        return self.root.is_dir()


class S3Store:
    """S3/MinIO through the ``minio`` client."""

    kind = "s3"

    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str,
                 region: str = "us-east-1", secure: bool = False, object_lock: bool = True):
        from minio import Minio
        from urllib3 import PoolManager, Retry, Timeout

        parts = urlsplit(endpoint if "://" in endpoint else f"{'https' if secure else 'http'}://{endpoint}")
        # As many kept connections as a capture worker has captures in flight (64): with fewer,
        # every PUT beyond them opened a connection and dropped it after one request.
        http = PoolManager(timeout=Timeout(connect=2, read=10), maxsize=64,
                           retries=Retry(total=1, backoff_factor=0.1))
        self.client = Minio(parts.netloc, access_key=access_key, secret_key=secret_key,
                            secure=parts.scheme == "https", region=region, http_client=http)
        self.bucket = bucket
        self.object_lock = object_lock
        self._ready = False

    def ensure_bucket(self) -> None:
        if self._ready:
            return
        try:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket, object_lock=self.object_lock)
        except Exception as exc:  # noqa: BLE001 - any transport error means unreachable
            raise StorageError(f"object store unreachable: {exc}") from exc
        self._ready = True

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.ensure_bucket()
        try:
            self.client.put_object(self.bucket, key, io.BytesIO(data), len(data), content_type=content_type)
        except Exception as exc:  # noqa: BLE001
            self._ready = False  # the store may have come back empty: check the bucket again
            raise StorageError(f"put {key!r} failed: {exc}") from exc

    def get(self, key: str) -> bytes:
        self.ensure_bucket()
        try:
            resp = self.client.get_object(self.bucket, key)
            try:
                return resp.read()
            finally:
                resp.close()
                resp.release_conn()
        except Exception as exc:  # noqa: BLE001
            raise StorageError(f"get {key!r} failed: {exc}") from exc

    def exists(self, key: str) -> bool:
        from minio.error import S3Error

        self.ensure_bucket()
        try:
            self.client.stat_object(self.bucket, key)
            return True
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return False
            raise StorageError(str(exc)) from exc
        except Exception as exc:  # noqa: BLE001
            raise StorageError(str(exc)) from exc

    def delete(self, key: str) -> None:
        """Delete every version of an object (a plain DELETE would only add a delete marker).
        Raises ``ObjectLockedError`` when object lock (a legal hold) forbids it."""
        from minio.error import S3Error

        self.ensure_bucket()
        try:
            versions = [o.version_id for o in self.client.list_objects(
                self.bucket, prefix=key, include_version=True) if o.object_name == key]
            for version in versions or [None]:
                self.client.remove_object(self.bucket, key, version_id=version)
        except S3Error as exc:
            if exc.code in LOCKED_CODES:
                raise ObjectLockedError(f"delete {key!r} refused ({exc.code}): object locked") from exc
            raise StorageError(f"delete {key!r} failed: {exc}") from exc
        except Exception as exc:  # noqa: BLE001
            raise StorageError(f"delete {key!r} failed: {exc}") from exc

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every object (latest version) whose key starts with ``prefix``, in key order."""
        self.ensure_bucket()
        try:
            for obj in self.client.list_objects(self.bucket, prefix=prefix or None, recursive=True):
                if not obj.is_dir:
                    yield StoredObject(obj.object_name, obj.last_modified)
        except Exception as exc:  # noqa: BLE001
            raise StorageError(f"list {prefix!r} failed: {exc}") from exc

    def set_legal_hold(self, key: str, on: bool) -> bool:
        self.ensure_bucket()
        try:
            if on:
                self.client.enable_object_legal_hold(self.bucket, key)
            else:
                self.client.disable_object_legal_hold(self.bucket, key)
            return True
        except Exception as exc:  # noqa: BLE001
            raise StorageError(f"legal hold on {key!r} failed: {exc}") from exc

    def presigned_url(self, key: str, expires: int = 300) -> str:
        self.ensure_bucket()
        return self.client.presigned_get_object(self.bucket, key, expires=timedelta(seconds=min(expires, 300)))

    def ping(self) -> bool:
        try:
            self.client.bucket_exists(self.bucket)
            return True
        except Exception:  # noqa: BLE001
            return False


def store_for(config):
    if config.get("S3_ENDPOINT"):
        return S3Store(config["S3_ENDPOINT"], config["S3_ACCESS_KEY"], config["S3_SECRET_KEY"],
                       config["S3_BUCKET"], config["S3_REGION"], config["S3_SECURE"])
    return LocalStore(config["OBJECT_DIR"], config["SECRET_KEY"])
