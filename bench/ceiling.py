"""The ceiling: a minimal in-memory server speaking just enough of the Colonies protocol for the
benchmarks in `bench/suite.py`, so that each figure of the real server can be printed next to what
the load generator achieves on the same machine in the same run.

It does what any server of this protocol must do per request and nothing more: HTTP on the same
stack as colonies-py (uvicorn, httptools with one write per response, uvloop, a raw ASGI app,
TCP_NODELAY), decode the
envelope and the message, recover the signer (secp256k1, as the protocol requires), and encode a
reply envelope. State is a few dicts: no database, no durability, no authorization beyond "the
signer is a registered executor" for assign/close, FIFO order only (no priorities), no
conditions. Long-polls park in a FIFO per (colony, executor type) and one submit wakes one.
`subscribeprocessmsg` over `/pubsub` pushes the process when it reaches the requested state.

    python bench/ceiling.py --port 50090
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import json
import socket
import sys
import time
import uuid
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from colonies_pkg.crypto import recover_id

_enc = msgspec.json.encode
_dec = msgspec.json.decode
_HEADERS = [(b"content-type", b"text/plain; charset=utf-8")]
ZERO_TIME = "0001-01-01T00:00:00Z"


def envelope(payloadtype: str, payload: object, error: bool = False) -> bytes:
    return _enc({"payloadtype": payloadtype, "payload": base64.b64encode(_enc(payload)).decode(), "error": error})


class State:
    def __init__(self) -> None:
        self.executors: dict[str, dict] = {}  # id -> {name, type, colony}
        self.processes: dict[str, dict] = {}
        self.queues: dict[tuple[str, str], collections.deque[str]] = collections.defaultdict(collections.deque)
        self.waiters: dict[tuple[str, str], collections.deque[asyncio.Future]] = collections.defaultdict(
            collections.deque)
        self.subs: dict[str, list[tuple[int, asyncio.Queue]]] = collections.defaultdict(list)

    def submit(self, caller: str, spec: dict) -> dict:
        cond = spec.get("conditions") or {}
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        p = {"processid": uuid.uuid4().hex * 2, "initiatorid": caller, "initiatorname": "", "assignedexecutorid": "",
             "isassigned": False, "state": 0, "prioritytime": time.time_ns(), "submissiontime": now,
             "starttime": ZERO_TIME, "endtime": ZERO_TIME, "waitdeadline": ZERO_TIME, "execdeadline": ZERO_TIME,
             "retries": 0, "attributes": [], "spec": spec, "waitforparents": False, "parents": [], "children": [],
             "processgraphid": "", "in": [], "out": [], "errors": []}
        self.processes[p["processid"]] = p
        key = (cond.get("colonyname", ""), cond.get("executortype", ""))
        waiters = self.waiters.get(key)
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                self._assign(p, fut.executorid)  # type: ignore[attr-defined]
                fut.set_result(p)
                return p
        self.queues[key].append(p["processid"])
        return p

    def _assign(self, p: dict, executorid: str) -> None:
        p.update(state=1, isassigned=True, assignedexecutorid=executorid)

    async def assign(self, caller: str, msg: dict, disconnected: asyncio.Future) -> dict | None:
        ex = self.executors.get(caller)
        if ex is None:
            raise PermissionError("not an executor")
        key = (msg.get("colonyname", ""), ex["type"])
        queue = self.queues.get(key)
        if queue:
            p = self.processes[queue.popleft()]
            self._assign(p, caller)
            return p
        timeout = msg.get("timeout", 0)
        if timeout <= 0:
            return None
        fut = asyncio.get_running_loop().create_future()
        fut.executorid = caller  # type: ignore[attr-defined]
        self.waiters[key].append(fut)
        done, _ = await asyncio.wait({fut, disconnected}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if fut in done:
            return fut.result()
        fut.cancel()
        return None

    def close(self, caller: str, msg: dict) -> None:
        p = self.processes[msg["processid"]]
        if p["assignedexecutorid"] != caller:
            raise PermissionError("not assigned to the caller")
        p.update(state=2, out=msg.get("out") or [])
        for state, q in self.subs.pop(p["processid"], []):
            if state == 2:
                q.put_nowait(p)


STATE = State()


async def handle(payloadtype: str, caller: str, msg: dict, disconnected: asyncio.Future) -> tuple[int, bytes]:
    if payloadtype == "submitfuncspecmsg":
        return 200, envelope(payloadtype, STATE.submit(caller, msg["spec"]))
    if payloadtype == "assignprocessmsg":
        p = await STATE.assign(caller, msg, disconnected)
        if p is None:
            return 404, envelope("error", {"status": 404, "message": "No process available for assignment"}, True)
        return 200, envelope(payloadtype, p)
    if payloadtype == "closesuccessfulmsg":
        STATE.close(caller, msg)
        return 200, envelope(payloadtype, {})
    if payloadtype == "getprocessmsg":
        return 200, envelope(payloadtype, STATE.processes[msg["processid"]])
    if payloadtype == "addexecutormsg":
        ex = msg["executor"]
        STATE.executors[ex["executorid"]] = {"name": ex["executorname"], "type": ex["executortype"],
                                             "colony": ex["colonyname"]}
        return 200, envelope(payloadtype, ex)
    return 200, envelope(payloadtype, {})


async def api(scope: dict, receive, send) -> None:
    chunks = []
    while True:
        event = await receive()
        if event["type"] == "http.disconnect":
            return
        chunks.append(event.get("body", b""))
        if not event.get("more_body"):
            break
    loop = asyncio.get_running_loop()
    disconnected = loop.create_future()
    try:
        env = _dec(b"".join(chunks))
        payload = env["payload"]
        msg = _dec(base64.b64decode(payload))
        caller = recover_id(payload, env["signature"]) if env["payloadtype"] != "versionmsg" else ""
        watcher = None
        if env["payloadtype"] == "assignprocessmsg":
            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                disconnected.set_result(None)
            watcher = asyncio.ensure_future(watch())
        status, body = await handle(env["payloadtype"], caller, msg, disconnected)
        if watcher is not None:
            watcher.cancel()
            if disconnected.done():
                return
    except Exception as exc:
        status, body = 400, envelope("error", {"status": 400, "message": str(exc)}, True)
    await send({"type": "http.response.start", "status": status,
                "headers": [*_HEADERS, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def pubsub(scope: dict, receive, send) -> None:
    if (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    event = await receive()
    if event["type"] != "websocket.receive":
        return
    env = json.loads(event.get("text") or event.get("bytes"))
    payload = env["payload"]
    recover_id(payload, env["signature"])
    msg = _dec(base64.b64decode(payload))
    p = STATE.processes.get(msg.get("processid", ""))
    if p is not None:
        if p["state"] == msg.get("state"):
            await send({"type": "websocket.send", "text": envelope("subscribeprocessmsg", p).decode()})
        else:
            q: asyncio.Queue = asyncio.Queue()
            STATE.subs[p["processid"]].append((msg.get("state"), q))
            try:
                pushed = await asyncio.wait_for(q.get(), max(msg.get("timeout", 10), 0.001))
                await send({"type": "websocket.send", "text": envelope("subscribeprocessmsg", pushed).decode()})
            except TimeoutError:
                pass
    await send({"type": "websocket.close", "code": 1000})


async def app(scope: dict, receive, send) -> None:
    if scope["type"] == "http" and scope["path"] == "/api":
        await api(scope, receive, send)
    elif scope["type"] == "websocket" and scope["path"] == "/pubsub":
        await pubsub(scope, receive, send)
    elif scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    elif scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


def main() -> None:
    import uvicorn

    from colonies_pkg.cli.uvicorn_server import http_protocol

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=50090)
    a = p.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((a.host, a.port))
    config = uvicorn.Config(app, host=a.host, port=a.port, log_level="warning", access_log=False, lifespan="on",
                            ws_ping_interval=None, http=http_protocol())
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
