"""Server CPU per process on the hot path, without HTTP: the real app (real SQLite file, real
writer, synchronous=FULL) is driven in-process through its ASGI `POST /api` endpoint with
pre-signed bodies, so the figure is what colonies-py itself spends on envelope, signer recovery,
dispatch, the units of work, the commit and the reply (uvicorn's share, the same for every server,
is not in it). Prints figures only.

    python bench/hotpath.py [--processes 5000] [--pipelines 4] [--profile out.prof]

`COLONIES_*` settings in the environment apply (e.g. `COLONIES_METRICS=false`, which changed
nothing measurable at 14:40 UTC: the metrics hooks cost under 2% of the event loop).

Each pipeline submits, assigns and closes one process at a time; pipelines run concurrently so
that the writer batches as it does under load (more pipelines, fewer commits per process). The
harness signs each close here (the process id comes from the assign); that CPU is measured and
taken out of the figures.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/lifecycle.py

from lifecycle import child_pids, proc_cpu_seconds, stat_cpu_times

from colonies_pkg.cli.dev import DevSetup, bootstrap
from colonies_pkg.config import from_env
from colonies_pkg.crypto import generate_prvkey, id_of_prvkey, sign
from colonies_pkg.server.app import create_app


def thread_cpu() -> dict[str, float]:
    """CPU seconds (user + system) of each thread of this process ("main", else its thread id) and
    of each child process ("child <pid>": the WAL sync helper, storage/walsync.py)."""
    out: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        times = stat_cpu_times(f"/proc/self/task/{tid}/stat")
        if times is not None:
            out["main" if int(tid) == os.getpid() else tid] = sum(times)
    for pid in child_pids():
        cpu = proc_cpu_seconds(pid)
        if cpu is not None:
            out[f"child {pid}"] = cpu
    return out


def body(msgtype: str, fields: dict[str, Any], prv: str) -> bytes:
    payload = base64.b64encode(json.dumps({"msgtype": msgtype, **fields}).encode()).decode()
    return json.dumps({"payloadtype": msgtype, "payload": payload, "signature": sign(payload, prv)}).encode()


class Endpoint:
    """Calls the app's `POST /api` as uvicorn would; a long-poll's receive never disconnects."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def post(self, data: bytes) -> tuple[int, dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        first = True
        never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def receive() -> dict[str, Any]:
            nonlocal first
            if first:
                first = False
                return {"type": "http.request", "body": data, "more_body": False}
            await never
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "path": "/api", "method": "POST",
                 "headers": [(b"content-length", str(len(data)).encode())]}
        await self.app(scope, receive, send)
        reply = json.loads(sent[1]["body"])
        return sent[0]["status"], json.loads(base64.b64decode(reply["payload"]))


async def run(processes: int, pipelines: int, profile: str) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        setup = DevSetup({}, 0, data_dir)
        config = from_env(dict(os.environ), data_dir=data_dir, port=0, server_id=setup.server_id)
        app = create_app(config, start_loops=False)
        lifespan_in: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        lifespan_out: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        lifespan = asyncio.create_task(app({"type": "lifespan"}, lifespan_in.get, lifespan_out.put))
        await lifespan_in.put({"type": "lifespan.startup"})
        assert (await lifespan_out.get())["type"] == "lifespan.startup.complete"
        services = app.state.services
        db = services.db
        await db.write(bootstrap, db.now(), setup, False)
        api = Endpoint(app)
        keys = [generate_prvkey() for _ in range(pipelines)]
        for key in keys:
            name = f"hot-{id_of_prvkey(key)[:12]}"
            status, _ = await api.post(body("addexecutormsg", {"executor": {
                "executorname": name, "executorid": id_of_prvkey(key), "colonyname": setup.colonyname,
                "executortype": "bench"}}, setup.colony_prvkey))
            assert status == 200
            status, _ = await api.post(body("approveexecutormsg", {"colonyname": setup.colonyname,
                                                                   "executorname": name}, setup.colony_prvkey))
            assert status == 200

        def spec(n: int) -> dict[str, Any]:
            return {"funcname": "bench", "args": [n], "kwargs": {}, "priority": 0, "maxwaittime": -1,
                    "maxexectime": -1, "maxretries": -1, "env": {}, "label": "",
                    "conditions": {"colonyname": setup.colonyname, "executortype": "bench", "dependencies": []}}

        share = processes // pipelines
        submits = [[body("submitfuncspecmsg", {"spec": spec(p * share + i)}, setup.prvkey) for i in range(share)]
                   for p in range(pipelines)]
        assigns = [body("assignprocessmsg", {"colonyname": setup.colonyname, "timeout": 10}, key) for key in keys]
        closed: list[str] = []

        async def pipeline(p: int) -> None:
            for submit in submits[p]:
                status, _ = await api.post(submit)
                assert status == 200
                status, process = await api.post(assigns[p])
                assert status == 200, process
                t = time.process_time()
                closing = body("closesuccessfulmsg", {"processid": process["processid"], "out": []}, keys[p])
                signing[0] += time.process_time() - t  # the client's part: taken out of the figure
                status, _ = await api.post(closing)
                assert status == 200
                closed.append(process["processid"])

        signing = [0.0]
        prof = cProfile.Profile() if profile else None
        batches: list[int] = []
        db.on_batch = lambda units, seconds: batches.append(units)
        use0 = resource.getrusage(resource.RUSAGE_SELF)
        threads0 = thread_cpu()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if prof:
            prof.enable()
        await asyncio.gather(*(pipeline(p) for p in range(pipelines)))
        if prof:
            prof.disable()
            prof.dump_stats(profile)
        cpu, wall = time.process_time() - cpu0 - signing[0], time.perf_counter() - wall0
        use = resource.getrusage(resource.RUSAGE_SELF)
        spent = {name: cpu_s - threads0.get(name, 0.0) - (signing[0] if name == "main" else 0.0)
                 for name, cpu_s in thread_cpu().items()}
        cpu += sum(cpu_s for name, cpu_s in spent.items() if name.startswith("child "))  # the helper's too
        threads = {name: round(cpu_s / (share * pipelines) * 1000, 3) for name, cpu_s in spent.items() if cpu_s > 0}
        n = share * pipelines
        assert len(set(closed)) == n
        print(f"{n} processes, {pipelines} pipelines: {cpu / n * 1000:.3f} ms CPU per process "
              f"(all threads and child processes), {n / wall:,.0f} processes/s; this process's system time "
              f"{(use.ru_stime - use0.ru_stime) / n * 1000:.3f} "
              f"ms of it; {len(batches) / n:.2f} commits per process; ms per process by thread (main: the event "
              f"loop) {threads}")
        await lifespan_in.put({"type": "lifespan.shutdown"})
        await lifespan_out.get()
        await lifespan
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--processes", type=int, default=5000)
    p.add_argument("--pipelines", type=int, default=4)
    p.add_argument("--profile", default="")
    a = p.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(run(a.processes, a.pipelines, a.profile))
    else:
        uvloop.run(run(a.processes, a.pipelines, a.profile))


if __name__ == "__main__":
    main()
