"""A real HTTP and WebSocket hop between a client and a real server that rewrites chosen replies,
the way a server of another version (or a broken one) would send them.

`RewritingProxy(upstream_port)` listens on a free port of 127.0.0.1 (`.port`) and forwards
POST /api, GET /health (executors ask it before closing a process) and the /pubsub WebSocket to
the server. `proxy.rewrite["getprocessmsg"] = fn` passes
the decoded payload of every successful reply to a getprocessmsg request through `fn` (which
returns the payload to send instead); `proxy.rewrite["push"] = fn` does the same for /pubsub
pushes. `proxy.sent[key]` holds the last rewritten payload text, exactly as the client got it.
Everything else passes unchanged. A context manager; uvicorn runs it in a thread.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

START_TIMEOUT = 30


class RewritingProxy:
    def __init__(self, upstream_port: int) -> None:
        import uvicorn
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route, WebSocketRoute
        from starlette.websockets import WebSocket

        self.upstream = upstream_port
        self.rewrite: dict[str, Callable[[Any], Any]] = {}
        self.sent: dict[str, str] = {}

        async def api(request: Request) -> Response:
            body = await request.body()
            msgtype = str(json.loads(body).get("payloadtype", ""))
            status, raw = await asyncio.to_thread(self._post, body)
            return Response(self._apply(msgtype, raw), status_code=status, media_type="application/json")

        async def health(request: Request) -> Response:
            status, raw = await asyncio.to_thread(self._forward, "GET", "/health", None)
            return Response(raw, status_code=status)

        async def pubsub(ws: WebSocket) -> None:
            from websockets.asyncio.client import connect

            await ws.accept()
            async with connect(f"ws://127.0.0.1:{self.upstream}/pubsub", max_size=None) as upstream:
                await upstream.send(await ws.receive_text())

                async def pump() -> None:
                    async for frame in upstream:
                        await ws.send_text(self._apply("push", frame))

                forward = asyncio.create_task(pump())
                gone = asyncio.create_task(ws.receive())  # the client closed its side
                await asyncio.wait({forward, gone}, return_when=asyncio.FIRST_COMPLETED)
                for task in (forward, gone):
                    task.cancel()
            with contextlib.suppress(Exception):
                await ws.close()

        app = Starlette(routes=[Route("/api", api, methods=["POST"]), Route("/health", health),
                                WebSocketRoute("/pubsub", pubsub)])
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", ws_ping_interval=None,
                                timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def _post(self, body: bytes) -> tuple[int, bytes]:
        return self._forward("POST", "/api", body)

    def _forward(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream, timeout=300)
        try:
            conn.request(method, path, body=body)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def _apply(self, key: str, raw: bytes | str) -> str:
        text = raw.decode() if isinstance(raw, bytes) else raw
        fn = self.rewrite.get(key)
        if fn is None:
            return text
        env = json.loads(text)
        if env.get("error"):
            return text
        payload = json.dumps(fn(json.loads(base64.b64decode(env["payload"]))))
        self.sent[key] = payload
        env["payload"] = base64.b64encode(payload.encode()).decode()
        return json.dumps(env)

    def __enter__(self) -> RewritingProxy:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the rewriting proxy did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self._sock.close()
