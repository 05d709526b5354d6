"""Workflow benchmark: one random 1,000-node DAG run by 8 executors against a real server.

Starts ``python colonies.py dev --no-executor`` as a subprocess on a free loopback port with a
temporary data dir, registers N executors (type "dagbench") in the "dev" colony, starts N
executor threads (each with its own keep-alive ``colonies_pkg.client.Client``; assign long-poll
timeout 5 s, close with ``out = [nodename]``), then submits ONE workflow of M nodes in which
each node depends on 0..3 random earlier nodes (funcname "echo", args [nodename]).

It measures the end-to-end time from the submit request to the last close reply (the close
that turns the graph SUCCESS; checked afterwards with ``getprocessgraphmsg``), and verifies:

* every dependency was respected: a child was assigned only after every parent's close had
  been sent (client clock), and its server ``starttime`` >= each parent's ``endtime``;
* every child's ``in`` is its parents' outputs concatenated in dependency order;
* no process ran twice and none was lost (M distinct successes, graph state 2, stats agree).

Everything is loopback only and bounded in time (``--cap``, default 300 s). Exit status 0 when
every check passed, 1 otherwise. Usage (from anywhere)::

    python bench/dag.py [--nodes 1000] [--executors 8] [--max-deps 3] [--seed 1] [--json]
"""
from __future__ import annotations

import argparse
import calendar
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from colonies_pkg.client import Client  # noqa: E402
from colonies_pkg.crypto import generate_prvkey, id_of_prvkey  # noqa: E402
from colonies_pkg.errors import ColoniesError, NotFound  # noqa: E402

HOST = "127.0.0.1"
COLONY_NAME = "dev"
COLONY_PRVKEY = "ba949fa134981372d6da62b6a56f336ab4d843b22c02a4257dcf7d0d73097514"
MEMBER_PRVKEY = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"
EXECUTOR_TYPE = "dagbench"
ASSIGN_TIMEOUT = 5  # the long-poll timeout each executor asks for (seconds)
HEALTH_TIMEOUT = 30.0


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [sys.executable, "colonies.py", "dev", "--no-executor", "--port", str(self.port),
               "--data-dir", str(self.workdir / "data")]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(self.workdir / "server.out", "wb") as out, open(self.workdir / "server.err", "wb") as err:
            self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        probe = Client(HOST, self.port)
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            if probe.health():
                probe.close()
                return
            time.sleep(0.1)
        raise RuntimeError(f"server not healthy after {HEALTH_TIMEOUT}s:\n{self.log_tail()}")

    def log_tail(self, n: int = 3000) -> str:
        out = []
        for name in ("server.out", "server.err"):
            with contextlib.suppress(OSError):
                out.append(f"--- {name}\n" + (self.workdir / name).read_bytes()[-n:].decode("utf-8", "replace"))
        return "\n".join(out)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)


# --------------------------------------------------------------------------- DAG


def random_dag(nodes: int, max_deps: int, seed: int) -> list[list[int]]:
    """deps[i] = 0..max_deps distinct random earlier nodes."""
    rng = random.Random(seed)
    return [rng.sample(range(i), rng.randint(0, min(max_deps, i))) for i in range(nodes)]


def critical_path(deps: list[list[int]]) -> int:
    depth: list[int] = []
    for ds in deps:
        depth.append(1 + max((depth[d] for d in ds), default=0))
    return max(depth, default=0)


def name_of(i: int) -> str:
    return f"n{i}"


def workflow_msg(deps: list[list[int]]) -> dict[str, Any]:
    specs = [{
        "nodename": name_of(i), "funcname": "echo", "args": [name_of(i)], "maxexectime": -1, "maxretries": 0,
        "conditions": {"colonyname": COLONY_NAME, "executortype": EXECUTOR_TYPE,
                       "dependencies": [name_of(d) for d in ds]},
    } for i, ds in enumerate(deps)]
    return {"msgtype": "submitworkflowspecmsg", "spec": {"colonyname": COLONY_NAME, "functionspecs": specs}}


def parse_ns(ts: str) -> int:
    """RFC 3339 UTC with up to 9 fractional digits -> Unix ns (the server's format_time)."""
    base, _, frac = ts.rstrip("Z").partition(".")
    secs = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    return secs * 1_000_000_000 + int((frac + "000000000")[:9])


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


# --------------------------------------------------------------------------- executors


@dataclass
class Record:
    processid: str
    nodename: str
    worker: int
    t_assigned: float
    t_close_sent: float = 0.0
    t_closed: float = 0.0


@dataclass
class Shared:
    expected: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    records: list[Record] = field(default_factory=list)
    closed: int = 0
    errors: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)


class FreshClient(Client):
    """A Client that opens a new TCP connection for every request (see --fresh-connections)."""

    def rpc(self, msg: dict[str, Any], prvkey: str | None, timeout: float | None = None) -> Any:
        self.close()
        try:
            return super().rpc(msg, prvkey, timeout)
        finally:
            self.close()


def executor_thread(index: int, port: int, prvkey: str, shared: Shared, fresh: bool) -> None:
    client = (FreshClient if fresh else Client)(HOST, port)
    assign = {"msgtype": "assignprocessmsg", "colonyname": COLONY_NAME, "timeout": ASSIGN_TIMEOUT,
              "availablecpu": "", "availablemem": ""}
    try:
        while not shared.stop.is_set():
            try:
                p = client.rpc(assign, prvkey, timeout=ASSIGN_TIMEOUT + 30)
            except NotFound:
                continue  # long-poll ended with nothing to do
            except ColoniesError as exc:
                with shared.lock:
                    shared.errors.append(f"executor {index} assign: {exc}")
                time.sleep(0.05)
                continue
            rec = Record(p["processid"], p["spec"].get("nodename", ""), index, time.perf_counter())
            with shared.lock:
                shared.records.append(rec)
            rec.t_close_sent = time.perf_counter()
            try:
                client.rpc({"msgtype": "closesuccessfulmsg", "processid": rec.processid, "out": [rec.nodename]},
                           prvkey, timeout=60)
            except ColoniesError as exc:
                with shared.lock:
                    shared.errors.append(f"executor {index} close {rec.nodename}: {exc}")
                continue
            rec.t_closed = time.perf_counter()
            with shared.lock:
                shared.closed += 1
                if shared.closed >= shared.expected:
                    shared.done.set()
    finally:
        client.close()


# --------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> dict[str, Any]:
    hard_deadline = time.monotonic() + args.cap
    workdir = Path(tempfile.mkdtemp(prefix="colonies-dagbench-"))
    server = Server(workdir)
    result: dict[str, Any] = {"nodes": args.nodes, "executors": args.executors, "seed": args.seed,
                              "max_deps": args.max_deps,
                              "connections": "fresh per request" if args.fresh_connections else "keep-alive"}
    threads: list[threading.Thread] = []
    shared = Shared(expected=args.nodes)
    try:
        server.start()
        result["port"] = server.port
        admin = Client(HOST, server.port)

        keys = []
        for i in range(args.executors):
            prv = generate_prvkey()
            name = f"dagbench-{i}"
            admin.rpc({"msgtype": "addexecutormsg", "executor": {
                "executorid": id_of_prvkey(prv), "executorname": name, "executortype": EXECUTOR_TYPE,
                "colonyname": COLONY_NAME}}, COLONY_PRVKEY, timeout=30)
            admin.rpc({"msgtype": "approveexecutormsg", "colonyname": COLONY_NAME, "executorname": name},
                      COLONY_PRVKEY, timeout=30)
            keys.append(prv)

        deps = random_dag(args.nodes, args.max_deps, args.seed)
        msg = workflow_msg(deps)
        result["edges"] = sum(len(d) for d in deps)
        result["roots"] = sum(1 for d in deps if not d)
        result["critical_path"] = critical_path(deps)

        for i, prv in enumerate(keys):
            t = threading.Thread(target=executor_thread, args=(i, server.port, prv, shared, args.fresh_connections),
                                 daemon=True, name=f"dagbench-{i}")
            t.start()
            threads.append(t)
        time.sleep(0.3)  # let every executor park in its long-poll

        t0 = time.perf_counter()
        graph = admin.rpc(msg, MEMBER_PRVKEY, timeout=120)
        t_submitted = time.perf_counter()
        gid = graph["processgraphid"]
        result["submit_s"] = t_submitted - t0

        finished = shared.done.wait(max(0.0, hard_deadline - time.monotonic()))
        with shared.lock:
            records = list(shared.records)
            errors = list(shared.errors)
        t_end = max((r.t_closed for r in records if r.t_closed), default=time.perf_counter())
        result["finished"] = finished
        result["end_to_end_s"] = t_end - t0
        result["throughput_per_s"] = len([r for r in records if r.t_closed]) / max(t_end - t0, 1e-9)
        shared.stop.set()

        # ---- verification --------------------------------------------------------------
        problems: list[str] = list(errors)
        if not finished:
            problems.append(f"not finished within the {args.cap:g} s cap: {shared.closed}/{args.nodes} closed")
        by_pid: dict[str, list[Record]] = {}
        for r in records:
            by_pid.setdefault(r.processid, []).append(r)
        twice = [recs[0].nodename for recs in by_pid.values() if len(recs) > 1]
        if twice:
            problems.append(f"{len(twice)} processes assigned more than once, e.g. {twice[:5]}")
        by_name = {recs[0].nodename: recs[0] for recs in by_pid.values()}
        missing = [name_of(i) for i in range(args.nodes) if name_of(i) not in by_name]
        if missing:
            problems.append(f"{len(missing)} nodes never assigned, e.g. {missing[:5]}")
        graph_pids = set(graph["processids"])
        if set(by_pid) - graph_pids:
            problems.append(f"{len(set(by_pid) - graph_pids)} assigned processes are not in the graph")

        order_violations = []
        release_latency = []
        for i, ds in enumerate(deps):
            child = by_name.get(name_of(i))
            if child is None or not ds:
                continue
            parents = [by_name.get(name_of(d)) for d in ds]
            if any(p is None or not p.t_close_sent for p in parents):
                order_violations.append(f"{name_of(i)} ran although a parent never closed")
                continue
            last = max(p.t_close_sent for p in parents)  # type: ignore[union-attr]
            if child.t_assigned <= last:
                order_violations.append(f"{name_of(i)} assigned {last - child.t_assigned:.4f}s before a parent closed")
            release_latency.append(child.t_assigned - max(p.t_closed for p in parents))  # type: ignore[union-attr]
        if order_violations:
            problems.append(f"{len(order_violations)} client-side order violations, e.g. {order_violations[:3]}")
        result["release_to_assign_ms"] = {"p50": pct(release_latency, 0.5) * 1000,
                                          "p99": pct(release_latency, 0.99) * 1000}

        runs_per_worker = [0] * args.executors
        for r in records:
            runs_per_worker[r.worker] += 1
        result["per_executor"] = runs_per_worker

        if finished:
            final = admin.rpc({"msgtype": "getprocessgraphmsg", "processgraphid": gid}, MEMBER_PRVKEY, timeout=120)
            result["graph_state"] = final["state"]
            if final["state"] != 2:
                problems.append(f"graph state {final['state']}, expected 2 (SUCCESS)")
            if len(final["processids"]) != args.nodes:
                problems.append(f"graph has {len(final['processids'])} processes")
            if len(final["edges"]) != result["edges"]:
                problems.append(f"graph has {len(final['edges'])} edges, spec has {result['edges']}")
            result["server_graph_s"] = (parse_ns(final["endtime"]) - parse_ns(final["submissiontime"])) / 1e9

            if args.server_check:  # every process as the server saw it (not timed)
                procs: dict[str, dict[str, Any]] = {}
                reader = FreshClient(HOST, server.port)
                for pid in final["processids"]:
                    p = reader.rpc({"msgtype": "getprocessmsg", "processid": pid}, MEMBER_PRVKEY, timeout=30)
                    procs[p["spec"]["nodename"]] = p
                bad_state = [n for n, p in procs.items() if p["state"] != 2]
                if bad_state:
                    problems.append(f"{len(bad_state)} processes not SUCCESS on the server, e.g. {bad_state[:5]}")
                server_violations, bad_input = [], []
                for i, ds in enumerate(deps):
                    p = procs.get(name_of(i))
                    if p is None:
                        continue
                    start = parse_ns(p["starttime"])
                    server_violations.extend(f"{name_of(i)} started before {name_of(d)} ended" for d in ds
                                             if start < parse_ns(procs[name_of(d)]["endtime"]))
                    if (p.get("in") or []) != [name_of(d) for d in ds]:
                        bad_input.append(name_of(i))
                    if p.get("out") != [name_of(i)]:
                        bad_input.append(f"{name_of(i)}(out)")
                if server_violations:
                    problems.append(f"{len(server_violations)} server-side order violations, e.g. "
                                    f"{server_violations[:3]}")
                if bad_input:
                    problems.append(f"{len(bad_input)} processes with wrong in/out, e.g. {bad_input[:5]}")
                result["server_checked"] = len(procs)

            stats = admin.rpc({"msgtype": "getcolonystatsmsg", "colonyname": COLONY_NAME}, MEMBER_PRVKEY, timeout=30)
            result["stats"] = {k: stats[k] for k in ("successfulprocesses", "failedprocesses", "waitingprocesses",
                                                     "runningprocesses", "successfulworkflows")}
            if stats["successfulprocesses"] != args.nodes or stats["successfulworkflows"] != 1:
                problems.append(f"colony statistics disagree: {result['stats']}")

        result["ran_once"] = sum(1 for recs in by_pid.values() if len(recs) == 1 and recs[0].t_closed)
        result["order_valid"] = not order_violations and not any("order" in p for p in problems)
        result["problems"] = problems
        admin.close()
        return result
    finally:
        shared.stop.set()
        for t in threads:
            t.join(timeout=ASSIGN_TIMEOUT + 5)
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--executors", type=int, default=8)
    ap.add_argument("--max-deps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cap", type=float, default=300.0, help="overall time cap in seconds")
    ap.add_argument("--no-server-check", dest="server_check", action="store_false",
                    help="skip reading back every process from the server")
    ap.add_argument("--fresh-connections", action="store_true",
                    help="executors open a new TCP connection per request instead of one keep-alive connection "
                         "(the pycolonies style; servers without TCP_NODELAY add ~40 ms to every keep-alive reply)")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args(argv)

    res = run(args)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        e2e = res.get("end_to_end_s", float("nan"))
        order = "order valid" if res.get("order_valid") else "ORDER VIOLATED"
        if not res.get("finished"):
            print(f"{res['nodes']}-node DAG with {res['executors']} executors: DID NOT FINISH within {args.cap:g} s")
        print(f"{res['nodes']}-node DAG with {res['executors']} executors: {e2e:.1f} s end to end "
              f"({res.get('throughput_per_s', 0):.0f} processes/s); {order}; "
              f"{res.get('ran_once', 0)}/{res['nodes']} ran once")
        print(f"  executor connections: {res['connections']}")
        print(f"  DAG: {res.get('edges')} edges, {res.get('roots')} roots, critical path {res.get('critical_path')} "
              f"nodes (seed {res['seed']})")
        print(f"  submit of the workflow: {res.get('submit_s', float('nan')) * 1000:.0f} ms; "
              f"server graph submission->end: {res.get('server_graph_s', float('nan')):.2f} s")
        lat = res.get("release_to_assign_ms", {})
        print(f"  parent closed -> child assigned (incl. queueing behind ready nodes): "
              f"p50 {lat.get('p50', float('nan')):.1f} ms, p99 {lat.get('p99', float('nan')):.1f} ms")
        print(f"  processes per executor: {res.get('per_executor')}")
        if res.get("server_checked"):
            print(f"  server read-back: {res['server_checked']} processes checked "
                  "(state, start >= parents' end, in/out)")
        for p in res.get("problems", []):
            print(f"  PROBLEM: {p}")
    return 0 if not res.get("problems") else 1


if __name__ == "__main__":
    sys.exit(main())
