"""`GET /pubsub` WebSocket: process subscriptions (PROTOCOL §1.7), used by pycolonies `wait()`.

The client sends one signed envelope. `subscribeprocessmsg` pushes the process whenever it is in
(or enters) the requested state until the timeout, then closes without a word, as Go does.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from ..clock import now_ns
from ..domain import processes, security
from ..domain.events import ProcessChanged
from ..errors import ColoniesError, Forbidden, Timeout
from ..rpc import envelope
from ..rpc import messages as m
from ..rpc.base import Msg
from ..rpc.channels import SubscribeChannelMsg
from . import channels
from .context import Services

log = logging.getLogger("colonies")


async def _push(ws: WebSocket, payloadtype: str, obj: object) -> None:
    await ws.send_text(envelope.ok_reply(payloadtype, obj).decode())


async def _push_error(ws: WebSocket, exc: ColoniesError) -> None:
    await ws.send_text(envelope.error_reply(exc)[1].decode())


async def _forward(ws: WebSocket, services: Services, queue: asyncio.Queue[ProcessChanged | None], state: int,
                   deadline: float) -> None:
    """Push the process of every event in `state` until the deadline (then the caller closes);
    a None from the hub means the server is stopping: close with a normal close frame now."""
    loop = asyncio.get_running_loop()
    while (remaining := deadline - loop.time()) > 0:
        try:
            async with asyncio.timeout(remaining):
                event = await queue.get()
        except TimeoutError:
            break
        if event is None:
            await ws.close(1000)
            return
        if event.state != state:
            continue
        found = await services.db.read_point(processes.snapshot, now_ns(), event.processid)
        if found is not None:
            await _push(ws, "subscribeprocessmsg", found[0])


async def _subscribe_process(ws: WebSocket, services: Services, caller: str, msg: m.SubscribeProcessMsg) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(msg.timeout, 0)
    queue = services.hub.subscribe_process(msg.processid)  # subscribe first: no missed change
    try:
        found = await services.db.read(processes.snapshot, now_ns(), msg.processid)
        if found is None:
            await _push_error(ws, Forbidden(f"Invalid process with Id {msg.processid}"))
            return
        process, colonyname = found
        try:
            await services.db.read(security.require_member, caller, colonyname)
        except ColoniesError as exc:
            await _push_error(ws, Forbidden(exc.message))
            return
        if process.state == msg.state:
            await _push(ws, "subscribeprocessmsg", process)
        await _forward(ws, services, queue, msg.state, deadline)
    finally:
        services.hub.unsubscribe_process(msg.processid, queue)


async def _subscribe_processes(ws: WebSocket, services: Services, caller: str, msg: m.SubscribeProcessesMsg) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(msg.timeout, 0)
    try:
        await services.db.read(security.require_member, caller, msg.colonyname)
    except ColoniesError as exc:
        await _push_error(ws, Forbidden(exc.message))
        return
    key = (msg.colonyname, msg.executortype)
    queue = services.hub.subscribe_type(key)
    try:
        await _forward(ws, services, queue, msg.state, deadline)
    finally:
        services.hub.unsubscribe_type(key, queue)


# Where each WebSocket-only message (rpc.messages.WEBSOCKET_ONLY) is handled.
# Each takes the Struct its entry is keyed by.
HANDLERS: dict[type[Msg], Callable[[WebSocket, Services, str, Any], Awaitable[None]]] = {
    m.SubscribeProcessMsg: _subscribe_process,
    m.SubscribeProcessesMsg: _subscribe_processes,
    SubscribeChannelMsg: channels.subscribe,
}


def endpoint(services: Services) -> Callable[[WebSocket], Awaitable[None]]:
    async def pubsub(ws: WebSocket) -> None:
        await ws.accept()
        counted = False
        try:
            try:  # the one subscription frame, text or binary, within the body timeout
                async with asyncio.timeout(services.config.body_timeout_seconds):
                    frame = await ws.receive()
            except TimeoutError:
                await _push_error(ws, Timeout("No subscription message received in time"))
                return
            if frame["type"] == "websocket.disconnect":
                return
            data = frame["text"].encode() if frame.get("text") is not None else frame.get("bytes") or b""
            try:
                msg, caller = envelope.parse_request(data, websocket=True)
            except ColoniesError as exc:
                await _push_error(ws, exc)
                return
            services.subscriptions += 1  # until closed: a stopping server waits for these to close
            counted = True
            await HANDLERS[type(msg)](ws, services, caller, msg)
        except WebSocketDisconnect:
            return
        except Exception:
            log.exception("pubsub failed")
        finally:
            with contextlib.suppress(Exception):
                await ws.close()
            if counted:
                services.subscriptions -= 1

    return pubsub
