"""Channel benchmark: append throughput and append → subscriber push latency on a real server.

Starts ``python colonies.py dev --no-executor`` on a free loopback port, submits one process with
a channel (the dev user submits it, so it may use the channel at once) and measures:

* sequential appends per second from one keep-alive client, next to ``getprocessmsg`` calls per
  second measured the same way in the same run (the reference: one signed request, one read);
* appends per second from T threads (one client each) into the same channel;
* the time from sending an append to receiving its push frame on a WebSocket subscriber (p50/p99).

It checks that every append reached the log and the subscriber; it asserts nothing about timing.

Usage::

    python bench/channels.py [--appends 2000] [--threads 4]
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import websocket  # noqa: E402  (websocket-client, a test dependency)

from colonies_pkg.client import Client  # noqa: E402
from colonies_pkg.crypto import sign  # noqa: E402

MEMBER_PRVKEY = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, data: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLONIES_")}
    env["COLONIES_CHANNEL_RATE"] = "0"  # measure the server, not the limiter
    proc = subprocess.Popen([sys.executable, "colonies.py", "dev", "--no-executor", "--port", str(port),
                             "--data-dir", data], cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def per_second(n: int, fn) -> float:
    started = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - started)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--appends", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--latency-samples", type=int, default=300)
    args = ap.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        server = start_server(port, data)
        try:
            run(port, args)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(15)


def run(port: int, args: argparse.Namespace) -> None:
    client = Client("127.0.0.1", port)
    spec = {"funcname": "bench", "maxexectime": -1, "maxwaittime": -1, "maxretries": 0, "channels": ["c"],
            "conditions": {"colonyname": "dev", "executortype": "bench-channels"}}
    pid = client.rpc({"msgtype": "submitfuncspecmsg", "spec": spec}, MEMBER_PRVKEY)["processid"]

    def append(seq: int, c: Client = client, payload: list[int] | None = None) -> None:
        c.rpc({"msgtype": "channelappendmsg", "processid": pid, "name": "c", "sequence": seq, "inreplyto": 0,
               "payload": payload if payload is not None else list(b"token %d" % seq), "payloadtype": ""},
              MEMBER_PRVKEY)

    get_rate = per_second(args.appends, lambda i: client.rpc({"msgtype": "getprocessmsg", "processid": pid},
                                                              MEMBER_PRVKEY))
    append_rate = per_second(args.appends, append)

    def worker(k: int) -> None:
        c = Client("127.0.0.1", port)
        for i in range(args.appends // args.threads):
            append(1_000_000 * (k + 1) + i, c)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(args.threads)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    parallel_rate = (args.appends // args.threads) * args.threads / (time.perf_counter() - started)

    # push latency: one subscriber, one append at a time
    entries_before = len(client.rpc({"msgtype": "channelreadmsg", "processid": pid, "name": "c", "afterseq": 0,
                                     "limit": 0}, MEMBER_PRVKEY))
    msg = {"processid": pid, "name": "c", "afterseq": entries_before, "timeout": 300, "msgtype": "subscribechannelmsg"}
    payload = base64.b64encode(json.dumps(msg).encode()).decode()
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/pubsub", timeout=30)
    ws.send(json.dumps({"payloadtype": "subscribechannelmsg", "payload": payload,
                        "signature": sign(payload, MEMBER_PRVKEY)}))
    append(-1)  # the first push proves the subscription is registered
    assert json.loads(base64.b64decode(json.loads(ws.recv())["payload"]))[0]["sequence"] == -1
    latencies = []
    for i in range(args.latency_samples):
        started = time.perf_counter()
        append(-2 - i)
        frame = json.loads(base64.b64decode(json.loads(ws.recv())["payload"]))
        latencies.append((time.perf_counter() - started) * 1000)
        assert frame[0]["sequence"] == -2 - i
    ws.close()
    total = len(client.rpc({"msgtype": "channelreadmsg", "processid": pid, "name": "c", "afterseq": 0, "limit": 0},
                           MEMBER_PRVKEY))
    expected = args.appends + (args.appends // args.threads) * args.threads + 1 + args.latency_samples
    assert total == expected, (total, expected)
    latencies.sort()
    print(f"getprocessmsg (reference), 1 client:  {get_rate:8.0f} req/s")
    print(f"channelappendmsg, 1 client:           {append_rate:8.0f} req/s  (ratio {append_rate / get_rate:.2f})")
    print(f"channelappendmsg, {args.threads} clients:          {parallel_rate:8.0f} req/s")
    print(f"append -> push to a subscriber:       p50 {statistics.median(latencies):.2f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99) - 1]:.2f} ms")
    print(f"entries in the log: {total} (all accounted for)")


if __name__ == "__main__":
    main()
