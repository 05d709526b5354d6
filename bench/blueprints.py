"""Blueprint benchmark: the cost of the blueprint messages on a real server.

Starts ``python colonies.py dev --no-executor`` on a free loopback port, adds a definition with a
schema and a handler (so every add and spec change also writes a history row and submits a
reconcile process, and the first add creates the reconcile cron) and measures, from one keep-alive
client, requests per second of:

* ``getprocessmsg`` (the reference: one signed request, one read), measured in the same run;
* ``addblueprintmsg``, ``updateblueprintmsg`` (a spec change), ``getblueprintmsg``;
* ``getblueprintsmsg`` with --blueprints blueprints of the kind in the colony.

It checks that every blueprint, history row and reconcile process is there; it asserts nothing
about timing.

Usage::

    python bench/blueprints.py [--blueprints 500]
"""
from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.channels import free_port, start_server  # noqa: E402
from colonies_pkg.client import Client  # noqa: E402

MEMBER_PRVKEY = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"
COLONY_PRVKEY = "ba949fa134981372d6da62b6a56f336ab4d843b22c02a4257dcf7d0d73097514"


def per_second(n: int, fn) -> float:
    started = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - started)


def run(port: int, n: int) -> None:
    c = Client("127.0.0.1", port)
    schema = {"type": "object", "required": ["power"],
              "properties": {"power": {"type": "boolean"}, "brightness": {"type": "number"}}}
    c.rpc({"msgtype": "addblueprintdefinitionmsg", "blueprintdefinition": {
        "kind": "BlueprintDefinition", "metadata": {"name": "lights", "colonyname": "dev"},
        "spec": {"names": {"kind": "Light"}, "schema": schema,
                 "handler": {"executorType": "bench-reconciler", "functionName": "reconcile"}}}}, COLONY_PRVKEY)
    spec = {"funcname": "bench", "maxexectime": -1, "maxwaittime": -1, "maxretries": 0,
            "conditions": {"colonyname": "dev", "executortype": "bench-nobody"}}
    pid = c.rpc({"msgtype": "submitfuncspecmsg", "spec": spec}, MEMBER_PRVKEY)["processid"]

    def bp(i: int, brightness: int) -> dict:
        return {"kind": "Light", "metadata": {"name": f"light-{i}", "colonyname": "dev"},
                "spec": {"power": True, "brightness": brightness}}

    get_process = per_second(n, lambda i: c.rpc({"msgtype": "getprocessmsg", "processid": pid}, MEMBER_PRVKEY))
    add = per_second(n, lambda i: c.rpc({"msgtype": "addblueprintmsg", "blueprint": bp(i, 1)}, MEMBER_PRVKEY))
    update = per_second(n, lambda i: c.rpc({"msgtype": "updateblueprintmsg", "blueprint": bp(i, 2),
                                            "forcegeneration": False}, MEMBER_PRVKEY))
    get = per_second(n, lambda i: c.rpc({"msgtype": "getblueprintmsg", "namespace": "dev", "name": f"light-{i}"},
                                        MEMBER_PRVKEY))
    lists = max(n // 20, 5)
    listed: list = []
    list_rate = per_second(lists, lambda i: listed.append(
        c.rpc({"msgtype": "getblueprintsmsg", "namespace": "dev", "kind": "Light"}, MEMBER_PRVKEY)))

    assert all(len(x) == n for x in listed)
    assert all(b["metadata"]["generation"] == 1 for b in listed[-1])
    one = c.rpc({"msgtype": "getblueprintmsg", "namespace": "dev", "name": "light-0"}, MEMBER_PRVKEY)
    history = c.rpc({"msgtype": "getblueprinthistorymsg", "blueprintid": one["blueprintid"]}, MEMBER_PRVKEY)
    assert [h["changetype"] for h in history] == ["update", "create"]
    stats = c.rpc({"msgtype": "getcolonystatsmsg", "colonyname": "dev"}, MEMBER_PRVKEY)
    assert stats["waitingprocesses"] == 2 * n + 1, stats  # a reconcile per add and per update, plus ours
    print(f"getprocessmsg (reference):           {get_process:8.0f} req/s")
    print(f"addblueprintmsg (+history, process):  {add:8.0f} req/s  (ratio {add / get_process:.2f})")
    print(f"updateblueprintmsg (spec change):     {update:8.0f} req/s  (ratio {update / get_process:.2f})")
    print(f"getblueprintmsg:                      {get:8.0f} req/s  (ratio {get / get_process:.2f})")
    print(f"getblueprintsmsg ({n} blueprints):    {list_rate:8.1f} req/s  (ratio {list_rate / get_process:.3f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--blueprints", type=int, default=500)
    args = ap.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        server = start_server(port, data)
        try:
            run(port, args.blueprints)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(15)


if __name__ == "__main__":
    main()
