"""Reading request bodies defensively: size limits and timeouts before any byte is trusted.

`read_body` is used by `POST /api`: a declared Content-Length over the limit is refused at once
(413, nothing read), a body that grows past the limit as it streams in (chunked encoding with
absurd chunk sizes) is refused as soon as it does, and a body not complete within the timeout
(slow or stalled senders) is a 408 (`Deadlines`). Refusals carry `connection: close` so uvicorn drops the
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


class Deadlines:
    """The cut-off of `read_body`: one sweep every `tick` seconds cancels the reads that are past
    their deadline, instead of a timer per request (`asyncio.timeout` arms and cancels a loop timer
    each time, a few µs of the event loop per request). A read is cut off between its deadline and
    one tick later. One per event loop (an app's `POST /api` endpoint owns one)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.tick = min(1.0, timeout / 4)
        self._reading: dict[asyncio.Task[Any], float] = {}  # task reading a body → its deadline
        self._expired: set[asyncio.Task[Any]] = set()  # cancelled by a sweep, not yet told
        self._sweep_at: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # of the armed sweep

    def start(self, task: asyncio.Task[Any], loop: asyncio.AbstractEventLoop) -> None:
        self._reading[task] = loop.time() + self.timeout
        if self._sweep_at is None or self._loop is not loop:
            self._loop = loop
            self._sweep_at = loop.call_later(self.tick, self._sweep, loop)

    def end(self, task: asyncio.Task[Any]) -> None:
        del self._reading[task]
        self._expired.discard(task)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        # Every task in `_reading` is suspended at the one await of `read_body`: a cancel lands there.
        if self._loop is not loop:  # an earlier loop's sweep (the endpoint now serves another loop)
            return
        now = loop.time()
        for task, deadline in self._reading.items():
            if deadline <= now and task not in self._expired:
                self._expired.add(task)
                task.cancel()
        self._sweep_at = loop.call_later(self.tick, self._sweep, loop) if self._reading else None

    def expired(self, task: asyncio.Task[Any]) -> bool:
        """Was this cancellation (only) the sweep's? Then it is taken back."""
        if task not in self._expired:
            return False
        self._expired.discard(task)
        return task.uncancel() == 0


async def read_body(scope: dict[str, Any], receive: Any, limit: int, deadlines: Deadlines) -> bytes:
    """The whole body, or PayloadTooLarge / Timeout / ClientGone."""
    declared = declared_length(scope)
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"Request body of {declared} bytes is larger than the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    task = asyncio.current_task()
    assert task is not None
    deadlines.start(task, task.get_loop())  # one cut-off for the whole body, not one per chunk
    try:
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
    except asyncio.CancelledError:
        if deadlines.expired(task):
            raise Timeout(f"Request body not received within {deadlines.timeout:g} seconds "
                          f"({size} bytes arrived)") from None
        raise
    finally:
        deadlines.end(task)


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
