"""Reading request bodies defensively: size limits and timeouts before any byte is trusted.

`read_body` is used by `POST /api`: a declared Content-Length over the limit is refused at once
(413, nothing read), a body that grows past the limit as it streams in (chunked encoding with
absurd chunk sizes) is refused as soon as it does, and a body not complete within the timeout
(slow or stalled senders) is a 408. Refusals carry `connection: close` so uvicorn drops the
connection instead of draining what the client still sends.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..errors import BadRequest, ColoniesError, Timeout


class PayloadTooLarge(ColoniesError):
    """Request body too large"""

    status = 413


class ClientGone(Exception):
    """The client disconnected before its request was complete."""


def declared_length(scope: Mapping[str, Any]) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            if not value.isdigit():
                raise BadRequest("Invalid Content-Length header")
            return int(value)
    return None


async def read_body(scope: dict[str, Any], receive: Any, limit: int, timeout: float) -> bytes:
    """The whole body, or PayloadTooLarge / Timeout / ClientGone."""
    declared = declared_length(scope)
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"Request body of {declared} bytes is larger than the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):  # one timer for the whole body, not one per chunk
            while True:
                event = await receive()
                if event["type"] == "http.disconnect":
                    raise ClientGone
                chunk = event.get("body", b"")
                if chunk:
                    size += len(chunk)
                    if size > limit:
                        raise PayloadTooLarge(f"Request body larger than the limit of {limit} bytes")
                    chunks.append(chunk)
                if not event.get("more_body", False):
                    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except TimeoutError:
        raise Timeout(f"Request body not received within {timeout:g} seconds ({size} bytes arrived)") from None


async def stream_with_idle_timeout(chunks: AsyncIterator[bytes], timeout: float) -> AsyncIterator[bytes]:
    """The chunks of a long upload (/cfs PUT), or Timeout when none arrives for `timeout` s."""
    iterator = aiter(chunks)
    while True:
        try:
            async with asyncio.timeout(timeout):
                chunk = await anext(iterator)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise Timeout(f"Upload stalled: no data for {timeout:g} seconds") from None
        yield chunk
