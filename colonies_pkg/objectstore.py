"""Object stores for CFS file contents (layer L1): the `ObjectStore` protocol and its backends.

Imports only `errors`, `crypto` and `models.file` from the package (never server code); the
MinIO SDK is imported lazily inside `S3Store`, so the server and the rest of the CLI run without it.

* `LocalDirStore`   a directory (tests, examples, the reference implementation);
* `HttpObjectStore` the embedded store of a Colonies server: `PUT/GET/HEAD/DELETE /cfs/{colony}/{sha256}`,
  signed with the caller's key; the server checks membership and the SHA-256 name;
* `S3Store`         any S3-compatible endpoint (MinIO, AWS, moto), path-style addressing, configured
  from `AWS_S3_*` variables like pycolonies and the Go CLI (in `s3store.py`);
* `StoreRouter`     writes to one store and reads/deletes through whichever store a reference names;
  `store_from_env(...)` builds it (S3 when AWS_S3_ENDPOINT is set, else the Colonies server).

Objects are content-addressed: the object name is the SHA-256 hex of the content, so uploading
the same content twice stores it once, and every download is verified (streamed to a temporary
file next to the destination, hashed on the way, renamed into place only when the hash matches).
Nothing here reads a whole file into memory except the explicit `put_bytes`/`get_bytes` helpers.
"""
from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, Protocol, runtime_checkable

from .crypto import sign
from .errors import ColoniesError
from .models.file import Reference, S3Object

CHUNK = 1024 * 1024
TMP_PREFIX = ".cfs-tmp-"  # partial downloads; sync never uploads files with this prefix
_SHA256 = re.compile(r"[0-9a-f]{64}")

Progress = Callable[[int], None]  # called with the number of bytes just transferred


# --- errors ----------------------------------------------------------------------------------
class ObjectStoreError(ColoniesError):
    """Object store error"""


class ObjectNotFound(ObjectStoreError):
    """The stored object does not exist"""

    status = 404


class ChecksumMismatch(ObjectStoreError):
    """The content does not match its SHA-256 checksum"""


class StoreUnavailable(ObjectStoreError):
    """Cannot reach the object store"""

    status = 503


class AccessDenied(ObjectStoreError):
    """The object store refused the credentials"""

    status = 403


class BucketNotFound(ObjectStoreError):
    """The bucket does not exist"""

    status = 404


class UnsupportedReference(ObjectStoreError):
    """No configured object store can serve this reference"""


# --- protocol --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stored:
    """The result of a put: where the content is, its SHA-256 and size, and whether this put
    created the object (False when identical content was already stored)."""

    ref: Reference
    sha256: str
    size: int
    created: bool


@runtime_checkable
class ObjectStore(Protocol):
    def put_file(self, path: str, progress: Progress | None = None) -> Stored: ...

    def get_file(self, ref: Reference, dest: str, sha256: str | None = None,
                 progress: Progress | None = None) -> str: ...

    def exists(self, ref: Reference) -> bool: ...

    def delete(self, ref: Reference) -> None: ...

    def owns(self, ref: Reference) -> bool: ...


def sha256_file(path: str) -> tuple[str, int]:
    """SHA-256 hex and size of a file, read in chunks."""
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def expected_sha(ref: Reference, sha256: str | None) -> str | None:
    """The checksum to verify a download against: the given one, else a SHA-256 object name."""
    if sha256:
        return sha256.lower()
    obj = ref.s3object.object
    return obj if _SHA256.fullmatch(obj) else None


class _HashingReader:
    """A read-only file wrapper that hashes, counts and reports what is read through it."""

    def __init__(self, f: IO[bytes], progress: Progress | None) -> None:
        self._f, self._progress = f, progress
        self.hash, self.size = hashlib.sha256(), 0

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n if n is not None and n >= 0 else -1)
        if data:
            self.hash.update(data)
            self.size += len(data)
            if self._progress:
                self._progress(len(data))
        return data


def write_verified(chunks: Iterator[bytes], dest: str, expected: str | None, progress: Progress | None,
                   what: str) -> str:
    """Stream `chunks` into a temp file beside `dest`, verify, then atomically rename into place."""
    dest = os.path.abspath(dest)
    folder = os.path.dirname(dest)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=TMP_PREFIX)
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
                h.update(chunk)
                if progress:
                    progress(len(chunk))
        digest = h.hexdigest()
        if expected and digest != expected:
            raise ChecksumMismatch(f"checksum mismatch for {what}: expected SHA-256 {expected}, got {digest}; "
                                   f"{os.path.basename(dest)} was not written")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
        return digest
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _file_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


# --- LocalDirStore ---------------------------------------------------------------------------
class LocalDirStore:
    """Objects as files `<root>/<aa>/<sha256>`; refs have protocol "local" and the root as bucket."""

    protocol = "local"

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)

    def _path(self, obj: str) -> str:
        if not _SHA256.fullmatch(obj):
            raise ObjectNotFound(f"invalid object name {obj!r}")
        return os.path.join(self.root, obj[:2], obj)

    def ref(self, sha256: str) -> Reference:
        return Reference(protocol=self.protocol, s3object=S3Object(bucket=self.root, object=sha256))

    def owns(self, ref: Reference) -> bool:
        return ref.protocol == self.protocol and os.path.abspath(ref.s3object.bucket) == self.root

    def put_file(self, path: str, progress: Progress | None = None) -> Stored:
        # Hash while copying into a temp file; the name is known only at the end.
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=TMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                reader = _HashingReader(src, progress)
                while chunk := reader.read(CHUNK):
                    out.write(chunk)
            sha = reader.hash.hexdigest()
            final = self._path(sha)
            created = not os.path.exists(final)
            if created:
                os.makedirs(os.path.dirname(final), exist_ok=True)
                os.replace(tmp, final)
            return Stored(self.ref(sha), sha, reader.size, created)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def get_file(self, ref: Reference, dest: str, sha256: str | None = None,
                 progress: Progress | None = None) -> str:
        path = self._path(ref.s3object.object)
        if not os.path.isfile(path):
            raise ObjectNotFound(f"object {ref.s3object.object} not found in {self.root}")
        return write_verified(_file_chunks(path), dest, expected_sha(ref, sha256), progress, ref.s3object.object)

    def exists(self, ref: Reference) -> bool:
        return os.path.isfile(self._path(ref.s3object.object))

    def delete(self, ref: Reference) -> None:
        try:
            os.unlink(self._path(ref.s3object.object))
        except FileNotFoundError:
            pass


# --- HttpObjectStore -------------------------------------------------------------------------
class HttpObjectStore:
    """The Colonies server's embedded store; every request is signed with `prvkey`."""

    protocol = "colonies"

    def __init__(self, host: str, port: int, colonyname: str, prvkey: str, tls: bool = False,
                 verify: bool = True, timeout: float = 60.0) -> None:
        self.host, self.port, self.colonyname, self.prvkey = host, port, colonyname, prvkey
        self.tls, self.verify, self.timeout = tls, verify, timeout

    def ref(self, sha256: str) -> Reference:
        return Reference(protocol=self.protocol, s3object=S3Object(
            server=self.host, port=self.port, tls=self.tls, bucket=self.colonyname, object=sha256))

    def owns(self, ref: Reference) -> bool:
        return ref.protocol == self.protocol and ref.s3object.bucket == self.colonyname

    # plumbing
    def _connect(self) -> http.client.HTTPConnection:
        if self.tls:
            ctx = ssl.create_default_context()
            if not self.verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def _path(self, colony: str, obj: str) -> str:
        return f"/cfs/{colony}/{obj}"

    def _headers(self, method: str, path: str) -> dict[str, str]:
        ts = str(int(time.time()))
        return {"Colonies-Timestamp": ts, "Colonies-Signature": sign(f"{method} {path} {ts}", self.prvkey)}

    def _where(self) -> str:
        return f"Colonies server {self.host}:{self.port}"

    def _unreachable(self, exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable(f"cannot reach the {self._where()} object store: {exc}")

    def _raise_for(self, resp: http.client.HTTPResponse, obj: str) -> None:
        if resp.status < 300:
            return
        text = resp.read(4096).decode("utf-8", "replace").strip()
        try:  # the server replies with the ColonyOS error envelope or plain text
            body = json.loads(text)
            text = json.loads(base64.b64decode(body["payload"])).get("message", text)
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
        detail = f"{self._where()}: {text or resp.reason} (HTTP {resp.status})"
        if resp.status == 404:
            raise ObjectNotFound(f"object {obj} not found on the {detail}")
        if resp.status in (401, 403):
            raise AccessDenied(f"object store access denied by the {detail}; is the key a member of colony "
                               f"{self.colonyname}?")
        raise ObjectStoreError(f"object store request failed on the {detail}")

    def _simple(self, method: str, colony: str, obj: str) -> tuple[int, bytes]:
        path = self._path(colony, obj)
        conn = self._connect()
        try:
            conn.request(method, path, headers=self._headers(method, path))
            resp = conn.getresponse()
            if method == "HEAD" and resp.status == 404:
                return 404, b""
            self._raise_for(resp, obj)
            return resp.status, resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(exc) from exc
        finally:
            conn.close()

    # protocol
    def exists(self, ref: Reference) -> bool:
        return self._simple("HEAD", ref.s3object.bucket or self.colonyname, ref.s3object.object)[0] == 200

    def delete(self, ref: Reference) -> None:
        try:
            self._simple("DELETE", ref.s3object.bucket or self.colonyname, ref.s3object.object)
        except ObjectNotFound:
            pass

    def put_file(self, path: str, progress: Progress | None = None) -> Stored:
        sha, size = sha256_file(path)  # the URL names the content, so hash first
        ref = self.ref(sha)
        if self.exists(ref):
            if progress:
                progress(size)
            return Stored(ref, sha, size, False)
        url = self._path(self.colonyname, sha)
        conn = self._connect()
        try:
            try:
                conn.putrequest("PUT", url, skip_accept_encoding=True)
                for k, v in {**self._headers("PUT", url), "Content-Length": str(size),
                             "Content-Type": "application/octet-stream"}.items():
                    conn.putheader(k, v)
                conn.endheaders()
            except (OSError, http.client.HTTPException) as exc:
                raise self._unreachable(exc) from exc
            sent_error: BaseException | None = None
            with open(path, "rb") as f:  # local read errors are not network errors: not translated
                reader = _HashingReader(f, progress)
                while chunk := reader.read(CHUNK):
                    try:
                        conn.send(chunk)
                    except (OSError, http.client.HTTPException) as exc:  # maybe the server answered early
                        sent_error = exc
                        break
            try:
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                raise self._unreachable(sent_error or exc) from exc
            self._raise_for(resp, sha)
            resp.read()
            if sent_error is not None:
                raise self._unreachable(sent_error)
            if reader.size != size or reader.hash.hexdigest() != sha:
                raise ChecksumMismatch(f"{path} changed while it was uploaded")
            return Stored(ref, sha, size, True)
        finally:
            conn.close()

    def get_file(self, ref: Reference, dest: str, sha256: str | None = None,
                 progress: Progress | None = None) -> str:
        colony, obj = ref.s3object.bucket or self.colonyname, ref.s3object.object
        url = self._path(colony, obj)
        conn = self._connect()
        try:
            try:
                conn.request("GET", url, headers=self._headers("GET", url))
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                raise self._unreachable(exc) from exc
            self._raise_for(resp, obj)

            def chunks() -> Iterator[bytes]:
                while True:
                    try:
                        chunk = resp.read(CHUNK)
                    except (OSError, http.client.HTTPException) as exc:
                        raise self._unreachable(exc) from exc
                    if not chunk:
                        return
                    yield chunk

            return write_verified(chunks(), dest, expected_sha(ref, sha256), progress, obj)
        finally:
            conn.close()

# --- routing ---------------------------------------------------------------------------------



class StoreRouter:
    """Puts go to `primary`; gets/deletes go to the store a reference names.

    "s3" references are served with the endpoint and bucket they name plus AWS_S3_ACCESSKEY /
    AWS_S3_SECRETKEY from `env`; "colonies" references by the configured Colonies server
    (`colonies_store`); "local" ones only by the primary (metadata never picks local paths).
    """

    def __init__(self, primary: ObjectStore, env: Mapping[str, str] | None = None,
                 colonies_store: Callable[[str], HttpObjectStore] | None = None) -> None:
        self.primary = primary
        self.env = dict(os.environ if env is None else env)
        self._colonies_store = colonies_store
        self._cache: dict[tuple[Any, ...], ObjectStore] = {}

    @property
    def description(self) -> str:
        return describe(self.primary)

    def store_for(self, ref: Reference) -> ObjectStore:
        if self.primary.owns(ref):
            return self.primary
        if ref.protocol == "s3":
            from .s3store import S3Config, S3Store  # lazy: s3store builds on this module

            cfg = S3Config.for_ref(ref, self.env)
            key = ("s3", cfg.host, cfg.port, cfg.bucket)
            if key not in self._cache:
                self._cache[key] = S3Store(cfg)
            return self._cache[key]
        if ref.protocol == "colonies" and self._colonies_store is not None:
            key = ("colonies", ref.s3object.bucket)
            if key not in self._cache:
                self._cache[key] = self._colonies_store(ref.s3object.bucket)
            return self._cache[key]
        raise UnsupportedReference(f"no object store configured for {ref.protocol!r} references "
                                   f"(bucket {ref.s3object.bucket!r})")

    def owns(self, ref: Reference) -> bool:
        try:
            self.store_for(ref)
            return True
        except UnsupportedReference:
            return False

    def put_file(self, path: str, progress: Progress | None = None) -> Stored:
        return self.primary.put_file(path, progress)

    def get_file(self, ref: Reference, dest: str, sha256: str | None = None,
                 progress: Progress | None = None) -> str:
        return self.store_for(ref).get_file(ref, dest, sha256, progress)

    def exists(self, ref: Reference) -> bool:
        return self.store_for(ref).exists(ref)

    def delete(self, ref: Reference) -> None:
        self.store_for(ref).delete(ref)


def describe(store: Any) -> str:
    from .s3store import S3Store  # lazy: s3store builds on this module

    if isinstance(store, S3Store):
        return f"S3 {store.config.endpoint}/{store.config.bucket}"
    if isinstance(store, HttpObjectStore):
        return f"Colonies server {store.host}:{store.port}"
    if isinstance(store, LocalDirStore):
        return f"directory {store.root}"
    if isinstance(store, StoreRouter):
        return store.description
    return type(store).__name__


def store_from_env(client: Any, colonyname: str, prvkey: str, env: Mapping[str, str] | None = None) -> StoreRouter:
    """S3 (AWS_S3_*) when AWS_S3_ENDPOINT is set, else the embedded store of `client`'s server.

    `client` is anything with `host`, `port`, `tls` and `verify` attributes (a `client.Client`).
    """
    env = dict(os.environ if env is None else env)
    verify = bool(getattr(client, "verify", True))

    def colonies(colony: str) -> HttpObjectStore:
        return HttpObjectStore(client.host, int(client.port), colony, prvkey, tls=bool(client.tls), verify=verify)

    if env.get("AWS_S3_ENDPOINT"):
        from .s3store import S3Config, S3Store  # lazy: s3store builds on this module

        primary: ObjectStore = S3Store(S3Config.from_env(env))
    else:
        primary = colonies(colonyname)
    return StoreRouter(primary, env, colonies)


# --- small-data helpers ----------------------------------------------------------------------
def put_bytes(store: ObjectStore, data: bytes) -> Stored:
    """Store a small in-memory value (goes through a temp file, like any other put)."""
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return store.put_file(tmp)
    finally:
        os.unlink(tmp)


def get_bytes(store: ObjectStore, ref: Reference, sha256: str | None = None) -> bytes:
    """Fetch a small object into memory (verified)."""
    folder = tempfile.mkdtemp(prefix=TMP_PREFIX)
    try:
        dest = os.path.join(folder, "object")
        store.get_file(ref, dest, sha256)
        with open(dest, "rb") as f:
            return f.read()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

