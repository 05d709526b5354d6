"""Channel requests: `channelappendmsg` and `channelreadmsg` over POST /api, and the
`subscribechannelmsg` WebSocket flow of `/pubsub` (CHANNELS_BLUEPRINTS.md §2.6).

Each request reads its process once (authorization), then acts on the in-memory ChannelHub.
A subscription sends the backlog (if any) as one frame, then one frame per new entry, and ends
with a `[]` frame at its timeout or when the process ends; a client that goes away is noticed
at once and unregistered.
"""
from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from ..channelhub import Subscriber
from ..clock import now_ns
from ..domain import channels
from ..domain.channels import Access, json_array
from ..errors import ColoniesError
from ..rpc import channels as msgs
from ..rpc import envelope
from ..rpc.base import Msg
from .context import Context, Handler, Services

DEFAULT_TIMEOUT = 30.0  # a subscription with timeout 0 lasts this long, as in Go
PAYLOADTYPE = "subscribechannelmsg"


async def _access(services: Services, caller: str, processid: str) -> Access:
    return await services.channels.resolve(
        processid, lambda: services.db.read(channels.access, now_ns(), caller, processid))


async def append(ctx: Context, msg: msgs.ChannelAppendMsg) -> Any:
    acc = await _access(ctx.services, ctx.caller, msg.processid)
    ctx.services.channels.append(acc, ctx.caller, msg.name, msg.sequence, msg.inreplyto, msg.payload_bytes(),
                                 msg.payloadtype, now_ns())


async def read(ctx: Context, msg: msgs.ChannelReadMsg) -> Any:
    acc = await _access(ctx.services, ctx.caller, msg.processid)
    return ctx.services.channels.read(acc, ctx.caller, msg.name, msg.afterseq, msg.limit)


HANDLERS: dict[type[Msg], Handler] = {msgs.ChannelAppendMsg: append, msgs.ChannelReadMsg: read}


# --- WebSocket subscription -------------------------------------------------------------------
async def _send(ws: WebSocket, entries_json: bytes) -> None:
    await ws.send_text(envelope.ok_reply(PAYLOADTYPE, entries_json).decode())


async def _client_gone(ws: WebSocket) -> None:
    """Returns when the client closes the socket (any further frames are ignored)."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return


async def subscribe(ws: WebSocket, services: Services, caller: str, msg: msgs.SubscribeChannelMsg) -> None:
    hub = services.channels
    try:
        acc = await _access(services, caller, msg.processid)
        sub, backlog = hub.subscribe(acc, caller, msg.name, msg.afterseq, now_ns())
    except ColoniesError as exc:
        await ws.send_text(envelope.error_reply(exc)[1].decode())
        return
    gone = asyncio.ensure_future(_client_gone(ws))
    try:
        if backlog is not None:
            await _send(ws, backlog)
        timeout = DEFAULT_TIMEOUT if msg.timeout == 0 else float(msg.timeout)
        await _forward(ws, sub, gone, asyncio.get_running_loop().time() + timeout)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the client went away mid-send
    finally:
        hub.unsubscribe(sub)
        gone.cancel()
        with contextlib.suppress(BaseException):
            await gone


async def _forward(ws: WebSocket, sub: Subscriber, gone: asyncio.Future[None], deadline: float) -> None:
    loop = asyncio.get_running_loop()
    while not gone.done():
        while sub.queue:
            await _send(ws, json_array([sub.queue.popleft()]))
        if sub.overflowed:
            await _send(ws, json_array([channels.overflow_notice(now_ns())]))
            return
        if sub.ended or (remaining := deadline - loop.time()) <= 0:
            await _send(ws, b"[]")
            return
        sub.event.clear()
        if sub.queue or sub.ended or sub.overflowed:
            continue
        waiter = asyncio.ensure_future(sub.event.wait())
        either: set[asyncio.Future[Any]] = {waiter, gone}  # a Task[bool] and a Future[None]
        done, _ = await asyncio.wait(either, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()

