"""The embedded CFS object store (layer L1): content-addressed files under a directory.

Objects are named by the SHA-256 of their content and live at `<root>/<colony>/<aa>/<sha256>`.
Writes go to a temporary file that is hashed while written, verified against the name, fsynced
and renamed into place, so a reader never sees a partial object and a wrong name is refused.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile

_SHA256 = re.compile(r"[0-9a-f]{64}")
_COLONY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class BlobError(ValueError):
    """Invalid object name, colony name, or content that does not match its name."""


class LocalBlobs:
    def __init__(self, root: str) -> None:
        self.root = root

    def path(self, colony: str, sha256: str) -> str:
        if not _COLONY.fullmatch(colony):
            raise BlobError(f"invalid colony name {colony!r}")
        if not _SHA256.fullmatch(sha256):
            raise BlobError("object names are the SHA-256 of the content: 64 lowercase hex characters")
        return os.path.join(self.root, colony, sha256[:2], sha256)

    def exists(self, colony: str, sha256: str) -> bool:
        return os.path.isfile(self.path(colony, sha256))

    def size(self, colony: str, sha256: str) -> int:
        return os.path.getsize(self.path(colony, sha256))

    def writer(self, colony: str, sha256: str) -> BlobWriter:
        final = self.path(colony, sha256)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        return BlobWriter(final, sha256)

    def delete(self, colony: str, sha256: str) -> bool:
        try:
            os.unlink(self.path(colony, sha256))
            return True
        except FileNotFoundError:
            return False


class BlobWriter:
    """Write chunks, then `commit()` (verifies the hash) or `abort()`."""

    def __init__(self, final: str, sha256: str) -> None:
        self.final, self.expected = final, sha256
        fd, self.tmp = tempfile.mkstemp(dir=os.path.dirname(final), prefix=".upload-")
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def commit(self) -> None:
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            if self._hash.hexdigest() != self.expected:
                raise BlobError(f"content SHA-256 {self._hash.hexdigest()} does not match the object name")
            os.replace(self.tmp, self.final)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)
