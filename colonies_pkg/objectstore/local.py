"""`LocalDirStore`: objects as files in a directory (layer L1).

Used by tests and examples, and by the server as its embedded store (one directory per colony).
An object lives at `<root>/<aa>/<sha256>`; every write goes to a temporary file that is hashed
while written, fsynced and renamed into place, so a reader never sees a partial object and
content that does not match its name is refused.
"""
from __future__ import annotations

import hashlib
import os
import tempfile

from ..ids import is_sha256_hex
from ..models.file import Reference, S3Object
from . import (
    CHUNK,
    TMP_PREFIX,
    ChecksumMismatch,
    ObjectNotFound,
    Progress,
    Stored,
    expected_sha,
    file_chunks,
    write_verified,
)


class LocalDirStore:
    """Objects as files `<root>/<aa>/<sha256>`; refs have protocol "local" and the root as bucket.

    The directory is created by the first write, so a store over a missing directory is empty."""

    protocol = "local"

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)

    def path(self, sha256: str) -> str:
        """Where the object named `sha256` lives (whether or not it exists)."""
        if not is_sha256_hex(sha256):
            raise ObjectNotFound(f"invalid object name {sha256!r}")
        return os.path.join(self.root, sha256[:2], sha256)

    def ref(self, sha256: str) -> Reference:
        return Reference(protocol=self.protocol, s3object=S3Object(bucket=self.root, object=sha256))

    def owns(self, ref: Reference) -> bool:
        return ref.protocol == self.protocol and os.path.abspath(ref.s3object.bucket) == self.root

    def size(self, sha256: str) -> int:
        return os.path.getsize(self.path(sha256))

    def writer(self, expected: str | None = None) -> ObjectWriter:
        """A streaming put: `write()` chunks, then `commit()` (refused unless the content's SHA-256
        is `expected`, when given) or `abort()`."""
        return ObjectWriter(self, expected)

    def put_file(self, path: str, progress: Progress | None = None) -> Stored:
        # Hash while copying into a temp file; the name is known only at the end.
        writer = self.writer()
        try:
            with open(path, "rb") as src:
                while chunk := src.read(CHUNK):
                    writer.write(chunk)
                    if progress:
                        progress(len(chunk))
            return writer.commit()
        finally:
            writer.abort()

    def get_file(self, ref: Reference, dest: str, sha256: str | None = None,
                 progress: Progress | None = None) -> str:
        path = self.path(ref.s3object.object)
        if not os.path.isfile(path):
            raise ObjectNotFound(f"object {ref.s3object.object} not found in {self.root}")
        return write_verified(file_chunks(path), dest, expected_sha(ref, sha256), progress, ref.s3object.object)

    def exists(self, ref: Reference) -> bool:
        return os.path.isfile(self.path(ref.s3object.object))

    def delete(self, ref: Reference) -> None:
        self.remove(ref.s3object.object)

    def remove(self, sha256: str) -> bool:
        """Remove the object named `sha256`; whether there was one."""
        try:
            os.unlink(self.path(sha256))
            return True
        except FileNotFoundError:
            return False


class ObjectWriter:
    """Chunks into a temporary file inside the store, hashed on the way. `commit()` fsyncs it,
    checks the hash and renames it into place; `abort()` (harmless after commit) throws it away."""

    def __init__(self, store: LocalDirStore, expected: str | None = None) -> None:
        self.store, self.expected = store, expected
        os.makedirs(store.root, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(dir=store.root, prefix=TMP_PREFIX)
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def commit(self) -> Stored:
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            sha = self._hash.hexdigest()
            if self.expected is not None and sha != self.expected:
                raise ChecksumMismatch(f"content SHA-256 {sha} does not match the object name")
            final = self.store.path(sha)
            created = not os.path.exists(final)
            if created:
                os.makedirs(os.path.dirname(final), exist_ok=True)
                os.replace(self.tmp, final)
            return Stored(self.store.ref(sha), sha, self.size, created)
        finally:
            self.abort()

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)
