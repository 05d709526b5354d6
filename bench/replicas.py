"""Benchmark: one SQLite server, one PostgreSQL replica and two PostgreSQL replicas, in one run.

For each setup it starts real servers (`dev --no-executor`, plus `server start` for the second
replica on the same database), registers N executors spread round-robin over the replicas, and:

* throughput: M submitters (also spread over the replicas) submit P processes while the
  executors loop long-poll assign + close; prints completed processes/s;
* assign latency: with every executor parked in a long-poll, one process at a time is
  submitted to the first replica; prints p50/p99 of submit → assigned (with two replicas half
  of the executors wait on the other one, so this includes the cross-replica NOTIFY).

PostgreSQL comes from tests/pgcluster.py (a throw-away cluster on a free port; Debian's
postgresql package). Figures are printed side by side with the ratio to SQLite; nothing is
asserted. Usage::

    python bench/replicas.py [--processes 2000] [--executors 8] [--submitters 4] [--idle 100]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE), str(REPO / "tests")]

from lifecycle import (  # noqa: E402
    ASSIGN_TIMEOUT,
    COLONY_NAME,
    COLONY_PRVKEY,
    EXECUTOR_TYPE,
    MEMBER_PRVKEY,
    RPC,
    RawHTTP,
    RPCError,
    free_port,
    percentile,
    spec,
    stop_server,
    wait_healthy,
)
from pgcluster import Cluster, find_bindir  # noqa: E402

from colonies_pkg.crypto import generate_prvkey, id_of_prvkey  # noqa: E402

SERVER_PRV = "fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d"  # dev's default owner


def start(cmd: list[str], env: dict[str, str], log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port("127.0.0.1")
    fh = open(log, "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, "colonies.py", *cmd, "--port", str(port)], cwd=REPO,
                            env=dict(os.environ, PYTHONUNBUFFERED="1", **env), stdout=fh, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    wait_healthy(proc, "127.0.0.1", port, log)
    return proc, port


async def run_setup(ports: list[int], args: argparse.Namespace) -> dict:
    admin = RPC(RawHTTP("127.0.0.1", ports[0]), COLONY_PRVKEY)
    executors = []
    for i in range(args.executors):
        prv = generate_prvkey()
        name = f"bench-{os.urandom(3).hex()}-{i}"
        await admin.call("addexecutormsg", {"executor": {"executorname": name, "executorid": id_of_prvkey(prv),
                                                         "colonyname": COLONY_NAME, "executortype": EXECUTOR_TYPE}})
        await admin.call("approveexecutormsg", {"colonyname": COLONY_NAME, "executorname": name})
        executors.append(RPC(RawHTTP("127.0.0.1", ports[i % len(ports)]), prv))
    assigned: dict[str, float] = {}
    submitted: dict[str, float] = {}
    stopping = False

    async def work(rpc: RPC) -> None:
        while not stopping:
            try:
                p = await rpc.call("assignprocessmsg", {"colonyname": COLONY_NAME, "timeout": ASSIGN_TIMEOUT},
                                   timeout=ASSIGN_TIMEOUT + 30)
            except RPCError as exc:
                if exc.status != 404:
                    await asyncio.sleep(0.05)
                continue
            assigned.setdefault(p["processid"], time.perf_counter())
            await rpc.call("closesuccessfulmsg", {"processid": p["processid"], "out": []})

    workers = [asyncio.create_task(work(r)) for r in executors]
    submitters = [RPC(RawHTTP("127.0.0.1", ports[i % len(ports)]), MEMBER_PRVKEY) for i in range(args.submitters)]
    quota = [args.processes]

    async def submit(rpc: RPC) -> None:
        while quota[0] > 0:
            quota[0] -= 1
            t0 = time.perf_counter()
            p = await rpc.call("submitfuncspecmsg", {"spec": spec("load")})
            submitted[p["processid"]] = t0

    t0 = time.perf_counter()
    await asyncio.gather(*(submit(r) for r in submitters))
    while len(assigned) < len(submitted):
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - t0
    throughput = args.processes / elapsed
    # idle latency: every executor parked; one process at a time on the first replica
    one = RPC(RawHTTP("127.0.0.1", ports[0]), MEMBER_PRVKEY)
    latencies = []
    await asyncio.sleep(0.5)
    for _ in range(args.idle):
        t0 = time.perf_counter()
        pid = (await one.call("submitfuncspecmsg", {"spec": spec("idle")}))["processid"]
        while pid not in assigned:
            await asyncio.sleep(0.0002)
        latencies.append((assigned[pid] - t0) * 1000)
        await asyncio.sleep(0.02)
    stopping = True
    for w in workers:
        w.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    latencies.sort()
    return {"throughput": throughput, "p50": percentile(latencies, 50), "p99": percentile(latencies, 99)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--processes", type=int, default=2000)
    ap.add_argument("--executors", type=int, default=8)
    ap.add_argument("--submitters", type=int, default=4)
    ap.add_argument("--idle", type=int, default=100, help="processes submitted one at a time for the latency")
    args = ap.parse_args()
    bindir = find_bindir()
    if bindir is None:
        print("no PostgreSQL server binaries (Debian: apt-get install postgresql)", file=sys.stderr)
        return 1
    cluster = Cluster(bindir)
    cluster.start()
    work = Path(tempfile.mkdtemp(prefix="colonies-bench-replicas-"))
    results: dict[str, dict] = {}
    try:
        for label, replicas, pg in (("SQLite, 1 server", 1, False), ("PostgreSQL, 1 replica", 1, True),
                                    ("PostgreSQL, 2 replicas", 2, True)):
            env = {"COLONIES_DATABASE_URL": cluster.new_database("bench")} if pg else {}
            procs = []
            try:
                proc, port = start(["dev", "--no-executor", "--data-dir", str(work / f"{len(results)}")], env,
                                   work / f"{len(results)}-a.log")
                procs.append(proc)
                ports = [port]
                if replicas == 2:
                    proc, port = start(["server", "start", "--host", "127.0.0.1", "--data-dir", str(work / "b")],
                                       {**env, "COLONIES_SERVER_PRVKEY": SERVER_PRV}, work / f"{len(results)}-b.log")
                    procs.append(proc)
                    ports.append(port)
                results[label] = asyncio.run(run_setup(ports, args))
            finally:
                for proc in procs:
                    stop_server(proc)
            r = results[label]
            print(f"{label:24s} {r['throughput']:8.0f} processes/s   assign p50 {r['p50']:6.2f} ms  "
                  f"p99 {r['p99']:6.2f} ms", flush=True)
    finally:
        cluster.stop()
    base = results["SQLite, 1 server"]
    print(f"\n{'setup':24s} {'processes/s':>12s} {'ratio':>6s} {'p50 ms':>8s} {'p99 ms':>8s}")
    for label, r in results.items():
        print(f"{label:24s} {r['throughput']:12.0f} {r['throughput'] / base['throughput']:6.2f} "
              f"{r['p50']:8.2f} {r['p99']:8.2f}")
    print(f"({args.processes} processes, {args.executors} executors, {args.submitters} submitters; "
          f"{os.cpu_count()} CPUs shared by the servers, PostgreSQL and this load generator)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
