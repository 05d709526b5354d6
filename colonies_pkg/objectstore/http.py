"""`HttpObjectStore`: the embedded object store of a Colonies server, over HTTP (layer L1).

`PUT/GET/HEAD/DELETE /cfs/{colony}/{sha256}`, each request signed with the caller's key (header
`Colonies-Signature` over "METHOD /cfs/colony/object TIMESTAMP"); the server checks membership
and the SHA-256 name (`server/objects.py`).
"""
from __future__ import annotations

import base64
import contextlib
import http.client
import json
import time
from collections.abc import Iterator

from ..crypto import sign
from ..models.file import Reference, S3Object
from ..tls import client_context
from . import (
    CHUNK,
    AccessDenied,
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
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                               context=client_context(self.verify))
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
        with contextlib.suppress(ObjectNotFound):
            self._simple("DELETE", ref.s3object.bucket or self.colonyname, ref.s3object.object)

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
                reader = HashingReader(f, progress)
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
