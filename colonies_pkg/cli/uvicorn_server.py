"""uvicorn's server, stopping the way a Colonies server should (used by `colonies server start` and
`colonies dev`). Its own module so that uvicorn loads only when a server starts (`cli.server`
imports it on use)."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn

if TYPE_CHECKING:
    from ..server.context import Services

DRAIN_SECONDS = 1.0  # how long subscriptions and parked long-polls get to answer on shutdown


class Server(uvicorn.Server):
    """On SIGINT/SIGTERM stop accepting, end /pubsub subscriptions with a normal close frame and
    answer parked long-polls (404, as on timeout) before uvicorn closes connections; then the
    lifespan drains the writer. A second Ctrl-C exits at once."""

    stop_signal: int | None = None
    drained: tuple[int, int] = (0, 0)
    on_stopping: Callable[[], Awaitable[None] | None] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            os.write(2, b"Colonies server: second interrupt, exiting now\n")
            os._exit(130)
        self.stop_signal = self.stop_signal or sig
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:  # stop accepting first
            server.close()
        if self.on_stopping is not None:  # e.g. dev's executors: stop and fail what runs, DB still open
            stopping = self.on_stopping()
            if stopping is not None:
                await stopping
        services: Services | None = getattr(getattr(self.config.app, "state", None), "services", None)
        if services is not None:
            self.drained = services.close_subscriptions()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + DRAIN_SECONDS
            while services.draining() and loop.time() < deadline:
                await asyncio.sleep(0.01)
        await super().shutdown(sockets)
        getattr(self, "_captured_signals", []).clear()  # handled here: uvicorn would re-raise them after run()


class _OneWrite:
    """One response's view of its connection: the status line and headers (the response's first
    write) are held until its first body bytes, so that both leave in one `write`: one system
    call, one TCP segment and one wake-up of the client instead of two. Whatever is held goes out
    at the end of the loop iteration at the latest (a streamed response's headers, a HEAD's), and
    before anything else is written or the connection closes, so bytes keep their order."""

    __slots__ = ("_first", "_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._first = True

    def write(self, data: bytes) -> None:
        if self._first:
            self._first = False
            self._held = data
            self._loop.call_soon(self.flush)
        elif self._held is not None:
            held, self._held = self._held, None
            self._transport.write(held + data)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> object:  # is_closing, get_extra_info, …: the connection's
        return getattr(self._transport, name)


def http_protocol(parser: str = "auto") -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol with one write per response (`_OneWrite`): on httptools where it is
    installed ("auto"), else on h11; `parser` "httptools" or "h11" picks one."""
    if parser != "h11":
        try:
            from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
        except ImportError:
            if parser == "httptools":
                raise
        else:
            return _one_write_protocol(HttpToolsProtocol, "on_headers_complete")
    from uvicorn.protocols.http.h11_impl import H11Protocol

    return _one_write_protocol(H11Protocol, "handle_events")


def _one_write_protocol(base: type[Any], starts_cycle: str) -> type[asyncio.Protocol]:
    """`base` with its method `starts_cycle` (where its parser makes a request's cycle and queues
    the cycle's task, which has not run yet) followed by: the new cycle writes through `_OneWrite`."""
    parsed = getattr(base, starts_cycle)

    def then_one_write(self: Any) -> None:
        before = self.cycle
        parsed(self)
        cycle = self.cycle
        if cycle is not None and cycle is not before:
            cycle.transport = _OneWrite(self.transport, self.loop)

    return type(f"OneWrite{base.__name__}", (base,), {starts_cycle: then_one_write})
