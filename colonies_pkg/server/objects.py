"""`/cfs/{colony}/{object}`: the embedded object store over HTTP, for CFS without S3.

PUT streams a body into a content-addressed object (verified against its SHA-256 name); GET
streams it back; HEAD tells whether it exists; DELETE removes it only if no file metadata or
snapshot refers to it. Every request is signed: header `Colonies-Signature` over the text
"METHOD /cfs/colony/object TIMESTAMP" with header `Colonies-Timestamp` (Unix seconds, ±300 s),
and the signer must be a member of the colony.
"""
from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from ..blobs import BlobError, LocalBlobs
from ..clock import now_ns
from ..config import ServerConfig
from ..crypto import recover_id
from ..domain import files, security
from ..errors import BadRequest, ColoniesError, Forbidden, NotFound
from ..rpc import envelope
from .body import PayloadTooLarge, declared_length, stream_with_idle_timeout
from .context import Services

MAX_SKEW_SECONDS = 300


def signed_text(method: str, colony: str, obj: str, timestamp: str) -> str:
    return f"{method} /cfs/{colony}/{obj} {timestamp}"


def _check_member(tx, now: int, caller: str, colony: str) -> None:
    security.require_member(tx, caller, colony)


def _error(exc: ColoniesError) -> Response:
    status, body = envelope.error_reply(exc)
    return Response(body, status_code=status, media_type="text/plain")


def endpoint(services: Services, blobs: LocalBlobs):
    async def handle(request: Request) -> Response:
        colony, obj = request.path_params["colony"], request.path_params["object"]
        method = request.method
        try:
            ts = request.headers.get("colonies-timestamp", "")
            if not ts.isdigit() or abs(int(ts) - time.time()) > MAX_SKEW_SECONDS:
                raise Forbidden("Missing or stale Colonies-Timestamp header")
            caller = recover_id(signed_text(method, colony, obj, ts), request.headers.get("colonies-signature", ""))
            blobs.path(colony, obj)  # validates the names
            await services.db.read(_check_member, now_ns(), caller, colony)
            if method == "PUT":
                return await _put(request, blobs, colony, obj, services.config)
            if method in ("GET", "HEAD"):
                if not blobs.exists(colony, obj):
                    raise NotFound(f"No object {obj} in colony {colony}")
                if method == "HEAD":
                    return Response(b"", headers={"content-length": str(blobs.size(colony, obj))})
                return FileResponse(blobs.path(colony, obj), media_type="application/octet-stream")
            if method == "DELETE":
                await services.db.write(files.delete_object, now_ns(), caller, colony, obj,
                                        lambda: blobs.delete(colony, obj))
                return Response(b"", status_code=204)
            raise BadRequest(f"Unsupported method {method}")
        except BlobError as exc:
            return _error(BadRequest(str(exc)))
        except ColoniesError as exc:
            return _error(exc)

    return handle


async def _put(request: Request, blobs: LocalBlobs, colony: str, obj: str, config: ServerConfig) -> Response:
    limit = config.max_object_bytes
    declared = declared_length(request.scope)
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"Object of {declared} bytes is larger than the limit of {limit} bytes")
    stream = stream_with_idle_timeout(request.stream(), config.body_timeout_seconds)
    if blobs.exists(colony, obj):  # content-addressed: already stored is done
        async for _ in stream:
            pass
        return Response(b"", status_code=200)
    writer = blobs.writer(colony, obj)
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
