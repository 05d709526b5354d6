"""create_app: the Starlette application (routes, lifespan) around a Database and a Hub."""
from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Send

from .. import loops
from ..config import ServerConfig
from ..domain import channels, colonies
from ..errors import ColoniesError
from ..hub import Hub
from ..replicas import Bridge, Leader
from ..rpc import envelope
from ..storage import open_database
from . import objects, observe, pubsub
from .api import ApiEndpoint
from .context import Services


async def health(request: Request) -> Response:
    return Response(b"", status_code=200)


async def http_error(request: Request, exc: Exception) -> Response:
    """An unknown path or method gets the ColonyOS error envelope too (404, 405)."""
    status = getattr(exc, "status_code", 500)
    error = ColoniesError(f"{getattr(exc, 'detail', '') or 'Error'}: {request.method} {request.url.path}")
    error.status = status
    code, body = envelope.error_reply(error)
    return Response(body, status_code=code, media_type="text/plain; charset=utf-8",
                    headers=getattr(exc, "headers", None))


def create_app(config: ServerConfig, *, start_loops: bool = True,
               on_started: Callable[[Services], Awaitable[None]] | None = None,
               on_stopping: Callable[[], Awaitable[None] | None] | None = None) -> ApiFirst:
    """The app opens its database in the lifespan and closes it (writes drained) on shutdown;
    `on_stopping()` (which may be a coroutine function) runs before, with the database still open."""
    services = Services(config, None, Hub())  # the database is opened in the lifespan
    observe.setup(services)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        os.makedirs(config.data_dir, exist_ok=True)
        db = await open_database(config.db_path, url=config.database_url, synchronous=config.synchronous,
                                 pool_size=config.db_pool_size)
        services.channels.attach(lambda pids: db.read(channels.alive, db.now(), pids))
        services.db = db
        replica = config.replica_name or f"{socket.gethostname()}:{config.port}:{os.getpid()}"
        leader = services.leader = Leader(db, services.hub, replica)
        bridge: Bridge | None = None
        if db.replicated:
            bridge = services.bridge = Bridge(db, services.hub, replica, services.publish)
            db.on_commit = bridge.on_commit
            bridge.start()
            await bridge.wait_listening()
        else:
            db.on_commit = services.publish
        if config.server_id:
            await db.write(colonies.ensure_server_id, db.now(), config.server_id)
        tasks = loops.start(db, services.hub, config, leader.is_leader) if start_loops else []
        if db.replicated and start_loops:
            await leader.step()
            tasks.append(asyncio.create_task(leader.run(), name="leader"))
        tasks += observe.start(services, db)
        app.state.services = services
        try:
            if on_started is not None:
                await on_started(services)
            yield
        finally:
            if on_stopping is not None:
                stopping = on_stopping()
                if stopping is not None:
                    await stopping
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
            await leader.resign()
            if bridge is not None:
                await bridge.stop()
            await db.close()

    api = ApiEndpoint(services)
    return ApiFirst(api, Starlette(
        routes=[
            Route("/api", api, methods=["POST"]),
            WebSocketRoute("/pubsub", pubsub.endpoint(services)),
            Route("/health", health, methods=["GET"]),
            Route("/cfs/{colony}/{object}", objects.endpoint(services, config.cfs_dir),
                  methods=["GET", "HEAD", "PUT", "DELETE"]),
            *observe.routes(services),
        ],
        lifespan=lifespan,
        exception_handlers={404: http_error, 405: http_error},
    ))


class ApiFirst:
    """The ASGI app: `POST /api` goes straight to its endpoint, without Starlette's middleware and
    routing (the hot path; the endpoint never raises); everything else, lifespan included, goes
    through Starlette. Attribute access falls through to the Starlette app."""

    def __init__(self, api: ApiEndpoint, app: Starlette) -> None:
        self.api = api
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/api" and scope["method"] == "POST":
            await self.api(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def __getattr__(self, name: str) -> object:
        return getattr(self.app, name)
