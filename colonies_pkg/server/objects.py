"""`/cfs/{colony}/{object}`: the embedded object store over HTTP, for CFS without S3.

PUT streams a body into a content-addressed object (verified against its SHA-256 name); GET
streams it back; HEAD tells whether it exists; DELETE removes it only if no file metadata or
snapshot refers to it. Every request is signed: header `Colonies-Signature` over the text
"METHOD /cfs/colony/object TIMESTAMP" with header `Colonies-Timestamp` (Unix seconds, ±300 s),
and the signer must be a member of the colony.
"""
from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from ..clock import now_ns
from ..config import ServerConfig
from ..crypto import recover_id
from ..domain import files, security
from ..errors import BadRequest, ColoniesError, Forbidden, NotFound
from ..ids import is_sha256_hex
from ..objectstore import ChecksumMismatch
from ..objectstore.local import LocalDirStore
from ..rpc import envelope
from .body import PayloadTooLarge, declared_length, stream_with_idle_timeout
from .context import Services

MAX_SKEW_SECONDS = 300
_COLONY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def signed_text(method: str, colony: str, obj: str, timestamp: str) -> str:
    return f"{method} /cfs/{colony}/{obj} {timestamp}"


def colony_store(root: str, colony: str, obj: str) -> LocalDirStore:
    """The embedded store of one colony: `<root>/<colony>/<aa>/<sha256>`; refuses bad names."""
    if not _COLONY.fullmatch(colony):
        raise BadRequest(f"invalid colony name {colony!r}")
    if not is_sha256_hex(obj):
        raise BadRequest("object names are the SHA-256 of the content: 64 lowercase hex characters")
    return LocalDirStore(os.path.join(root, colony))


def _error(exc: ColoniesError) -> Response:
    status, body = envelope.error_reply(exc)
    return Response(body, status_code=status, media_type="text/plain")


def endpoint(services: Services, root: str) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        colony, obj = request.path_params["colony"], request.path_params["object"]
        method = request.method
        try:
            ts = request.headers.get("colonies-timestamp", "")
            if not ts.isdigit() or abs(int(ts) - time.time()) > MAX_SKEW_SECONDS:
                raise Forbidden("Missing or stale Colonies-Timestamp header")
            caller = recover_id(signed_text(method, colony, obj, ts), request.headers.get("colonies-signature", ""))
            store = colony_store(root, colony, obj)
            await services.db.read(security.require_member, caller, colony)
            if method == "PUT":
                return await _put(request, store, obj, services.config)
            if method in ("GET", "HEAD"):
                if not os.path.isfile(store.path(obj)):
                    raise NotFound(f"No object {obj} in colony {colony}")
                if method == "HEAD":
                    return Response(b"", headers={"content-length": str(store.size(obj))})
                return FileResponse(store.path(obj), media_type="application/octet-stream")
            if method == "DELETE":
                await services.db.write(files.delete_object, now_ns(), caller, colony, obj,
                                        lambda: store.remove(obj))
                return Response(b"", status_code=204)
            raise BadRequest(f"Unsupported method {method}")
        except ChecksumMismatch as exc:
            return _error(BadRequest(str(exc)))
        except ColoniesError as exc:
            return _error(exc)

    return handle


async def _put(request: Request, store: LocalDirStore, obj: str, config: ServerConfig) -> Response:
    limit = config.max_object_bytes
    declared = declared_length(request.scope)
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"Object of {declared} bytes is larger than the limit of {limit} bytes")
    stream = stream_with_idle_timeout(request.stream(), config.body_timeout_seconds)
    if os.path.isfile(store.path(obj)):  # content-addressed: already stored is done
        async for _ in stream:
            pass
        return Response(b"", status_code=200)
    writer = store.writer(obj)
    try:
        async for chunk in stream:
            writer.write(chunk)
            if writer.size > limit:
                raise PayloadTooLarge(f"Object larger than the limit of {limit} bytes")
        await asyncio.to_thread(writer.commit)
    except BaseException:
        writer.abort()
        raise
    return Response(b"", status_code=201)
