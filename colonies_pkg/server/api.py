"""`POST /api`: body → envelope → signature → message → handler → reply envelope.

A raw ASGI endpoint (no Request object on the hot path). Any failure becomes the ColonyOS error
envelope; a non-ColoniesError is logged with its traceback and answered with 500.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..errors import ColoniesError, Forbidden
from ..rpc import envelope
from ..rpc.messages import AssignProcessMsg
from .body import ClientGone, Deadlines, read_body
from .context import Context, Services
from .dispatch import HANDLERS, Reply

log = logging.getLogger("colonies")
_HEADERS = [(b"content-type", b"text/plain; charset=utf-8")]


async def handle_body(services: Services, body: bytes) -> tuple[int, bytes]:
    """Process one RPC request body; returns (HTTP status, reply body). Never raises."""
    started = time.perf_counter()
    try:
        msg, caller = envelope.parse_request(body)
    except ColoniesError as exc:
        return _observed(services, "", envelope.error_reply(exc), started)
    return await handle_message(services, msg, caller, started)


def is_long_poll(msg: object) -> bool:
    """A request that may wait: it must stop when its client goes away."""
    return isinstance(msg, AssignProcessMsg) and msg.timeout > 0


async def handle_message(services: Services, msg: Any, caller: str, started: float) -> tuple[int, bytes]:
    """Run a decoded, authenticated message; returns (HTTP status, reply body). Never raises."""
    msgtype = msg.__struct_config__.tag
    try:
        handler = HANDLERS.get(type(msg))
        if handler is None:  # a known message type this server does not handle
            raise Forbidden(f"invalid rpcMsg.PayloadType: {type(msg).__name__.lower()}")
        result = await handler(Context(services, caller), msg)
        payloadtype = msgtype
        if isinstance(result, Reply):
            payloadtype, result = result
        reply = 200, envelope.ok_reply(str(payloadtype), b"{}" if result is None else result)
    except ColoniesError as exc:
        reply = envelope.error_reply(exc)
    except Exception as exc:  # a bug: answer 500, keep serving
        log.exception("internal error handling request")
        reply = envelope.error_reply(ColoniesError(f"Internal server error: {type(exc).__name__}: {exc}"))
    return _observed(services, str(msgtype), reply, started)


def _observed(services: Services, msgtype: str, reply: tuple[int, bytes], started: float) -> tuple[int, bytes]:
    if services.observer is not None:
        services.observer.on_rpc(msgtype, reply[0], time.perf_counter() - started)
    return reply


class ApiEndpoint:
    """ASGI app for POST /api."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.deadlines = Deadlines(services.config.body_timeout_seconds)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        config = self.services.config
        try:
            body_in = await read_body(scope, receive, config.max_body_bytes, self.deadlines)
        except ClientGone:
            return
        except ColoniesError as exc:  # too large or too slow: answer and drop the connection
            status, body = envelope.error_reply(exc)
            await send({"type": "http.response.start", "status": status, "headers": [
                *_HEADERS, (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body})
            return
        started = time.perf_counter()
        try:
            msg, caller = envelope.parse_request(body_in)
        except ColoniesError as exc:
            status, body = _observed(self.services, "", envelope.error_reply(exc), started)
        else:
            if is_long_poll(msg):  # decided on the decoded message, whatever the envelope's field order
                status, body = await self._watch_disconnect(msg, caller, receive, started)
                if status < 0:
                    return
            else:
                status, body = await handle_message(self.services, msg, caller, started)
        await send({"type": "http.response.start", "status": status,
                    "headers": [*_HEADERS, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _watch_disconnect(self, msg: Any, caller: str, receive: Any, started: float) -> tuple[int, bytes]:
        """Long-polls stop when the client goes away (as the Go server's context does): a watcher
        cancels this request's task on disconnect; (-1, b"") then means "answer nobody"."""
        task = asyncio.current_task()
        assert task is not None
        gone = False

        async def disconnected() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            gone = True
            task.cancel()

        watcher = asyncio.ensure_future(disconnected())
        try:
            return await handle_message(self.services, msg, caller, started)
        except asyncio.CancelledError:
            if not gone:
                raise
            task.uncancel()
            return -1, b""
        finally:
            watcher.cancel()
