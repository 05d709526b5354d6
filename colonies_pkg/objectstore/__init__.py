"""Object stores for CFS file contents (layer L1): the `ObjectStore` protocol, its errors and the
verified streaming every backend shares. The backends are submodules that build on this one:

* `local.LocalDirStore`   a directory: tests, examples, and the server's embedded store (one
  directory per colony under `ServerConfig.cfs_dir`, served at `/cfs/{colony}/{sha256}`);
* `http.HttpObjectStore`  the embedded store of a Colonies server, signed with the caller's key;
* `s3.S3Store`            any S3-compatible endpoint (MinIO, AWS, moto), configured from `AWS_S3_*`;
* `router.StoreRouter`    writes to one store and reads/deletes through whichever store a reference
  names; `router.store_from_env(...)` builds it (S3 when AWS_S3_ENDPOINT is set, else the server).

Imports go one way: this module ← local, http, s3 ← router. From the package it imports only
`errors`, `ids` and `models.file`.

Objects are content-addressed: the object name is the SHA-256 hex of the content, so uploading
the same content twice stores it once, and every download is verified (streamed to a temporary
file next to the destination, hashed on the way, renamed into place only when the hash matches).
Nothing here reads a whole file into memory except the explicit `put_bytes`/`get_bytes` helpers.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Protocol, runtime_checkable

from ..errors import ColoniesError
from ..ids import is_sha256_hex
from ..models.file import Reference

CHUNK = 1024 * 1024
TMP_PREFIX = ".cfs-tmp-"  # partial downloads; sync never uploads files with this prefix

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
    return obj if is_sha256_hex(obj) else None


class HashingReader:
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


def file_chunks(path: str) -> Iterator[bytes]:
    """The content of a file in CHUNK-sized pieces."""
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


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
