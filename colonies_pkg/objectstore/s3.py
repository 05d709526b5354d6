"""`S3Store`: CFS object storage on any S3-compatible endpoint (layer L1).

MinIO, AWS, moto: path-style addressing, configured from the `AWS_S3_*` variables like pycolonies
and the Go CLI. The MinIO SDK is imported lazily inside `S3Store`, so the server and the rest of
the CLI run without it. Shares the protocol, errors and verified streaming of the package.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..config import env_bool
from ..models.file import Reference, S3Object
from . import (
    CHUNK,
    AccessDenied,
    BucketNotFound,
    ChecksumMismatch,
    HashingReader,
    ObjectNotFound,
    ObjectStoreError,
    Progress,
    Stored,
    StoreUnavailable,
    expected_sha,
    sha256_file,
    write_verified,
)

_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
           "AuthorizationHeaderMalformed"}


def parse_endpoint(endpoint: str, tls: bool | None) -> tuple[str, int, bool]:
    """`host:port`, `host` or `http(s)://host[:port]` → (host, port, tls)."""
    text = endpoint.strip().rstrip("/")
    if "://" in text:
        scheme, text = text.split("://", 1)
        if tls is None:
            tls = scheme.lower() == "https"
    tls = bool(tls)
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and "]" not in port:
        return host, int(port), tls
    return text, 443 if tls else 80, tls


def _tls_flag(value: str | None) -> bool | None:
    """AWS_S3_TLS: unset or empty leaves the choice to the endpoint's scheme."""
    return None if value is None or value.strip() == "" else env_bool(value)


@dataclass(frozen=True)
class S3Config:
    host: str
    port: int
    tls: bool
    accesskey: str
    secretkey: str
    region: str
    bucket: str
    skipverify: bool = False

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> S3Config:
        endpoint = env.get("AWS_S3_ENDPOINT", "")
        if not endpoint:
            raise ObjectStoreError("AWS_S3_ENDPOINT is not set")
        host, port, tls = parse_endpoint(endpoint, _tls_flag(env.get("AWS_S3_TLS")))
        bucket = env.get("AWS_S3_BUCKET", "")
        if not bucket:
            raise ObjectStoreError("AWS_S3_BUCKET is not set (AWS_S3_ENDPOINT is)")
        return cls(host, port, tls, env.get("AWS_S3_ACCESSKEY", ""), env.get("AWS_S3_SECRETKEY", ""),
                   env.get("AWS_S3_REGION") or env.get("AWS_S3_REGION_KEY") or "", bucket,
                   env_bool(env.get("AWS_S3_SKIPVERIFY")))

    @classmethod
    def for_ref(cls, ref: Reference, env: Mapping[str, str]) -> S3Config:
        """The endpoint and bucket of a stored "s3" reference, with credentials from `env`."""
        o = ref.s3object
        if o.port > 0:
            host, port, tls = o.server, o.port, o.tls
        else:  # the Go CLI writes server "host:port" and port -1
            host, port, tls = parse_endpoint(o.server, o.tls)
        return cls(host, port, tls, env.get("AWS_S3_ACCESSKEY", ""), env.get("AWS_S3_SECRETKEY", ""),
                   o.region or env.get("AWS_S3_REGION") or env.get("AWS_S3_REGION_KEY") or "", o.bucket,
                   env_bool(env.get("AWS_S3_SKIPVERIFY")))


class S3Store:
    """An S3-compatible bucket; the object name is the content's SHA-256 (multipart for big files)."""

    protocol = "s3"
    # Multipart uploads hold about two parts in memory per parallel upload. Measured on a 64 MiB
    # upload: 5 MiB parts one at a time add ~10 MiB of peak RSS, 8 MiB parts ~16 MiB, two 5 MiB
    # parts in parallel ~20 MiB (for ~15% more throughput against a local endpoint).
    MIN_PART_SIZE = 5 * 1024 * 1024
    MAX_PARTS = 10_000

    def __init__(self, config: S3Config, connect_timeout: float = 10.0, read_timeout: float = 120.0,
                 parallel_uploads: int = 1) -> None:
        self.config = config
        self.parallel_uploads = max(1, parallel_uploads)
        self._connect_timeout, self._read_timeout = connect_timeout, read_timeout
        self._client: Any = None
        self._bucket_checked = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> S3Store:
        return cls(S3Config.from_env(os.environ if env is None else env))

    def ref(self, sha256: str) -> Reference:
        c = self.config
        return Reference(protocol=self.protocol, s3object=S3Object(
            server=c.host, port=c.port, tls=c.tls, region=c.region, bucket=c.bucket, object=sha256))

    def owns(self, ref: Reference) -> bool:
        if ref.protocol != self.protocol or ref.s3object.bucket != self.config.bucket:
            return False
        other = S3Config.for_ref(ref, {})
        return (other.host, other.port) == (self.config.host, self.config.port)

    # plumbing
    def _minio(self) -> Any:
        if self._client is None:
            try:
                import certifi
                import urllib3
                from minio import Minio
            except ImportError as exc:
                raise ObjectStoreError("S3 support needs the 'minio' package: pip install minio") from exc
            c = self.config
            http = urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=self._connect_timeout, read=self._read_timeout),
                maxsize=4, cert_reqs="CERT_NONE" if c.skipverify else "CERT_REQUIRED",
                ca_certs=None if c.skipverify else certifi.where(),
                # never retry a refused connection: an unreachable endpoint fails at once
                retries=urllib3.Retry(total=3, connect=0, backoff_factor=0.2,
                                      status_forcelist=[500, 502, 503, 504]))
            if c.skipverify:
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            self._client = Minio(c.endpoint, access_key=c.accesskey or None, secret_key=c.secretkey or None,
                                 secure=c.tls, region=c.region or None, http_client=http)
        return self._client

    def _translate(self, exc: BaseException, obj: str = "") -> ObjectStoreError:
        c = self.config
        where = f"S3 endpoint {c.endpoint}"
        code = getattr(exc, "code", None)
        if code == "NoSuchBucket":
            return BucketNotFound(f"bucket {c.bucket!r} does not exist on {where} (AWS_S3_BUCKET)")
        if code in ("NoSuchKey", "NoSuchObject"):
            return ObjectNotFound(f"object {obj} not found in bucket {c.bucket!r} on {where}")
        if code in _DENIED:
            return AccessDenied(f"{where} refused access to bucket {c.bucket!r} ({code}): check AWS_S3_ACCESSKEY "
                                f"and AWS_S3_SECRETKEY")
        if code is not None:
            return ObjectStoreError(f"{where}: {code}: {getattr(exc, 'message', '') or exc}")
        reason = getattr(exc, "reason", None) or exc
        if "ssl" in type(reason).__name__.lower() or "SSL" in str(reason):
            return StoreUnavailable(f"TLS error talking to {where}: {reason} (AWS_S3_TLS, AWS_S3_SKIPVERIFY)")
        text = str(reason)
        if "refused" in text.lower():
            text = "connection refused"
        return StoreUnavailable(f"cannot reach {where}: {text} (AWS_S3_ENDPOINT)")

    def _call(self, fn: Callable[[], Any], obj: str = "") -> Any:
        from minio.error import MinioException
        from urllib3.exceptions import HTTPError

        try:
            return fn()
        except ObjectStoreError:
            raise
        except (MinioException, HTTPError, ValueError) as exc:
            raise self._translate(exc, obj) from exc

    def _ready(self) -> Any:
        client = self._minio()
        if not self._bucket_checked:  # one clear error for a missing bucket or wrong credentials
            if not self._call(lambda: client.bucket_exists(self.config.bucket)):
                raise BucketNotFound(f"bucket {self.config.bucket!r} does not exist on S3 endpoint "
                                     f"{self.config.endpoint} (AWS_S3_BUCKET)")
            self._bucket_checked = True
        return client

    def _stat(self, obj: str) -> bool:
        client = self._ready()
        try:
            self._call(lambda: client.stat_object(self.config.bucket, obj), obj)
            return True
        except ObjectNotFound:
            return False

    @classmethod
    def part_size(cls, size: int) -> int:
        """The smallest whole-MiB part size (>= S3's 5 MiB minimum) that fits `size` in 10 000 parts."""
        mib = 1024 * 1024
        per_part = -(-size // cls.MAX_PARTS)  # ceil
        return max(cls.MIN_PART_SIZE, -(-per_part // mib) * mib)

    # protocol
    def exists(self, ref: Reference) -> bool:
        return self._stat(ref.s3object.object)

    def delete(self, ref: Reference) -> None:
        client = self._ready()
        self._call(lambda: client.remove_object(self.config.bucket, ref.s3object.object), ref.s3object.object)

    def put_file(self, path: str, progress: Progress | None = None) -> Stored:
        sha, size = sha256_file(path)  # the key names the content, so hash first
        ref = self.ref(sha)
        if self._stat(sha):
            if progress:
                progress(size)
            return Stored(ref, sha, size, False)
        client = self._ready()
        with open(path, "rb") as f:
            reader = HashingReader(f, progress)
            self._call(lambda: client.put_object(self.config.bucket, sha, reader, size,
                                                 content_type="application/octet-stream",
                                                 part_size=self.part_size(size),
                                                 num_parallel_uploads=self.parallel_uploads), sha)
        if reader.size != size or reader.hash.hexdigest() != sha:
            self.delete(ref)
            raise ChecksumMismatch(f"{path} changed while it was uploaded")
        return Stored(ref, sha, size, True)

    def get_file(self, ref: Reference, dest: str, sha256: str | None = None,
                 progress: Progress | None = None) -> str:
        client = self._ready()
        obj = ref.s3object.object
        resp = self._call(lambda: client.get_object(ref.s3object.bucket or self.config.bucket, obj), obj)
        try:
            def chunks() -> Iterator[bytes]:
                stream = resp.stream(CHUNK)
                while True:
                    chunk = self._call(lambda: next(stream, b""), obj)
                    if not chunk:
                        return
                    yield chunk

            return write_verified(chunks(), dest, expected_sha(ref, sha256), progress, obj)
        finally:
            resp.close()
            resp.release_conn()
