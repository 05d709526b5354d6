"""Benchmarks of issue 11, each run against colonies-py and against the in-memory ceiling server
(`bench/ceiling.py`) in the same run, interleaved, so every figure is printed with its ratio to
the ceiling. Prints figures; asserts nothing about timing (it does check the books: every process
assigned exactly once).

Scenarios (all over loopback; the load generator is this one asyncio process):

* drain: N executors parked in long-poll assign, then N processes submitted by 4 submitters;
  time from the first submit to the last close, and the server's RSS with the N parked;
* throughput: 8 executors (assign + close in a loop), 4 submitters, P processes;
* deep: fill a queue of D processes (4 submitters), then drain it with 4 executors; fill and
  drain rates, and the cost of the last 1,000 closes over the first 1,000;
* push: close → `subscribeprocessmsg` push over `/pubsub` (as pycolonies `wait()`), p50/p99;
* idle: one executor parked; submit → assigned, p50/p99 (from the submit sent, and from its
  acknowledgement);
* start: spawn → first signed request answered (`dev --no-executor` and `server start`).

    python bench/suite.py [--only drain,throughput,...] [--executors 500] [--processes 2000]
                          [--deep 100000] [--rounds 200]

`BENCH_PYSPY=profile.txt` runs our server under `py-spy record --gil` (raw collapsed stacks;
`BENCH_PYSPY_ARGS="--threads"` instead of `--gil` samples every thread, `BENCH_PYSPY_RATE` sets
the samples per second, 250 by default); `BENCH_WRAP=script.py`
runs our server as `python script.py colonies.py dev …` (e.g. a script that profiles every thread
with cProfile). The drain, throughput and deep scenarios also print (to stderr) the server's CPU
per process by thread: the event loop first, then the database writer, then the readers, then
any child process (the WAL sync helper) (`BENCH_STIME=1` adds each thread's system time after it).
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(HERE), str(REPO)]

from lifecycle import RPC, RawHTTP, RPCError, child_pids, percentile, proc_cpu_seconds, stat_cpu_times  # noqa: E402

from colonies_pkg.crypto import generate_prvkey, id_of_prvkey, sign  # noqa: E402

COLONY = "dev"
COLONY_PRV = "ba949fa134981372d6da62b6a56f336ab4d843b22c02a4257dcf7d0d73097514"
USER_PRV = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"
SERVER_PRV = "fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d"
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Server:
    """A server subprocess: ours (`colonies.py dev --no-executor`) or the ceiling."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix=f"bench-{kind}-")
        if kind == "ours":
            cmd = [sys.executable, str(REPO / "colonies.py"), "dev", "--no-executor", "--port", str(self.port),
                   "--data-dir", self.dir]
        else:
            cmd = [sys.executable, str(HERE / "ceiling.py"), "--port", str(self.port)]
        if kind == "ours" and os.environ.get("BENCH_WRAP"):  # e.g. a script that runs ours under cProfile
            cmd = [sys.executable, os.environ["BENCH_WRAP"], *cmd[1:]]
        if kind == "ours" and os.environ.get("BENCH_PYSPY"):  # profile ours: BENCH_PYSPY=out.txt
            rate = os.environ.get("BENCH_PYSPY_RATE", "250")
            cmd = ["py-spy", "record", "-r", rate, "-f", "raw", *os.environ.get("BENCH_PYSPY_ARGS", "--gil").split(), "-o",
                   os.environ["BENCH_PYSPY"], "--", *cmd]
        self.log = open(os.path.join(self.dir, "server.log"), "wb")  # noqa: SIM115 -- the server's stdout, closed by stop()
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT)

    async def ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                http = RawHTTP(HOST, self.port)
                status, _ = await http.request("POST", "/api", _version_body(), timeout=2)
                await http.aclose()
                if status == 200:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.02)
        raise RuntimeError(f"{self.kind} server did not start; see {self.dir}/server.log")

    def children(self) -> list[int]:
        """The server's child processes (ours: the WAL sync helper, storage/walsync.py)."""
        return child_pids(self.proc.pid)

    def cpu(self) -> float:
        """CPU seconds of the server, its child processes included."""
        return (proc_cpu_seconds(self.proc.pid) or 0.0) + sum(proc_cpu_seconds(c) or 0.0 for c in self.children())

    def thread_cpu(self) -> list[float]:
        """CPU seconds per thread, in creation order (tid order): the main thread (event loop)
        first, then ours' database writer thread, then its readers."""
        task_dir = f"/proc/{self.proc.pid}/task"
        try:
            tids = sorted(int(t) for t in os.listdir(task_dir))
        except OSError:
            return []
        out = []
        for tid in tids:
            times = stat_cpu_times(f"{task_dir}/{tid}/stat")
            if times is None:
                continue
            out.append(sum(times))
            if os.environ.get("BENCH_STIME"):
                out.append(times[1])
        out.extend(proc_cpu_seconds(c) or 0.0 for c in self.children())  # then child processes
        return out

    async def quiet(self, window: float = 0.3, limit: float = 30) -> None:
        """Wait until the server has used (almost) no CPU for `window` seconds."""
        deadline = time.monotonic() + limit
        last = self.cpu()
        while time.monotonic() < deadline:
            await asyncio.sleep(window)
            now = self.cpu()
            if now - last < 0.02:
                return
            last = now

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _version_body() -> bytes:
    payload = base64.b64encode(b'{"msgtype":"versionmsg"}').decode()
    return json.dumps({"payloadtype": "versionmsg", "payload": payload, "signature": ""}).encode()


_specs = itertools.count()


def spec() -> dict:
    """A function spec; each one distinct (its args), as real submits are: a server that memoizes
    signature recovery gets no free ride from byte-identical submits."""
    return {"funcname": "bench", "args": [next(_specs)], "kwargs": {}, "priority": 0, "maxwaittime": -1, "maxexectime": -1,
            "maxretries": -1, "conditions": {"colonyname": COLONY, "executortype": "bench", "dependencies": []},
            "env": {}, "label": ""}


class Client:
    """Executors and submitters of one server."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.conns: list[RawHTTP] = []

    def rpc(self, prv: str) -> RPC:
        http = RawHTTP(HOST, self.server.port)
        self.conns.append(http)
        return RPC(http, prv)

    async def close_all(self) -> None:
        for c in self.conns:
            await c.aclose()
        self.conns.clear()

    async def executors(self, n: int) -> list[RPC]:
        keys = [generate_prvkey() for _ in range(n)]
        admins = [self.rpc(COLONY_PRV) for _ in range(8)]

        async def register(admin: RPC, mine: list[str]) -> None:
            for key in mine:
                name = f"bench-{id_of_prvkey(key)[:12]}"
                await admin.call("addexecutormsg", {"executor": {"executorname": name, "executorid": id_of_prvkey(key),
                                                                 "colonyname": COLONY, "executortype": "bench"}})
                await admin.call("approveexecutormsg", {"colonyname": COLONY, "executorname": name})

        await asyncio.gather(*(register(admin, keys[i::len(admins)]) for i, admin in enumerate(admins)))
        return [self.rpc(k) for k in keys]


async def submit_many(rpcs: list[RPC], total: int, sent: dict | None = None) -> list[str]:
    pids: list[str] = []

    async def run(rpc: RPC, count: int) -> None:
        for _ in range(count):
            p = await rpc.call("submitfuncspecmsg", {"spec": spec()})
            pids.append(p["processid"])

    share = [total // len(rpcs) + (1 if i < total % len(rpcs) else 0) for i in range(len(rpcs))]
    await asyncio.gather(*(run(r, c) for r, c in zip(rpcs, share, strict=True)))
    return pids


async def work(ex: RPC, assigned: list[str], stop: asyncio.Event, timeout: int = 10, once: bool = False) -> None:
    """An executor: long-poll assign, close, repeat (once: stop after one process)."""
    while not stop.is_set():
        try:
            p = await ex.call("assignprocessmsg", {"colonyname": COLONY, "timeout": timeout}, timeout=timeout + 30)
        except RPCError as exc:
            if exc.status == 404:
                continue
            raise
        await ex.call("closesuccessfulmsg", {"processid": p["processid"], "out": []})
        assigned.append(p["processid"])
        if once:
            return


def per_unit(before: list[float], after: list[float], units: int) -> list[float]:
    """Per-thread CPU milliseconds per unit between two `Server.thread_cpu` snapshots."""
    return [round((b - a) * 1000 / units, 3) for a, b in zip(before, after, strict=False)]


def books(pids: list[str], assigned: list[str]) -> str:
    ok = sorted(pids) == sorted(assigned) and len(set(assigned)) == len(assigned)
    return "ok" if ok else f"BAD: {len(pids)} submitted, {len(assigned)} assigned, {len(set(assigned))} distinct"


# --------------------------------------------------------------------------- scenarios


async def drain(server: Server, n: int) -> dict:
    c = Client(server)
    exs = await c.executors(n)
    subs = [c.rpc(USER_PRV) for _ in range(4)]
    stop = asyncio.Event()
    assigned: list[str] = []
    tasks = [asyncio.create_task(work(ex, assigned, stop, timeout=120, once=True)) for ex in exs]
    await asyncio.sleep(0.5)
    await server.quiet()
    rss = rss_mb(server.proc.pid)
    t0 = time.perf_counter()
    cpu0, threads0 = server.cpu(), server.thread_cpu()
    pids = await submit_many(subs, n)
    await asyncio.wait_for(asyncio.gather(*tasks), 300)
    elapsed = time.perf_counter() - t0
    cpu = server.cpu() - cpu0
    print(f"  drain {server.kind}: server CPU ms per process by thread (main first) "
          f"{per_unit(threads0, server.thread_cpu(), n)}", file=sys.stderr)
    stop.set()
    await c.close_all()
    return {"seconds": elapsed, "rss_mb": rss, "server_cpu_ms_per_process": cpu / n * 1000,
            "books": books(pids, assigned)}


async def throughput(server: Server, total: int) -> dict:
    c = Client(server)
    exs = await c.executors(8)
    subs = [c.rpc(USER_PRV) for _ in range(4)]
    stop = asyncio.Event()
    assigned: list[str] = []
    tasks = [asyncio.create_task(work(ex, assigned, stop, timeout=2)) for ex in exs]
    await asyncio.sleep(0.3)
    t0 = time.perf_counter()
    cpu0, threads0, load0 = server.cpu(), server.thread_cpu(), time.process_time()
    pids = await submit_many(subs, total)
    while len(assigned) < total:
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - t0
    cpu, load = server.cpu() - cpu0, time.process_time() - load0
    by_thread = per_unit(threads0, server.thread_cpu(), total)
    print(f"  throughput {server.kind}: server CPU ms per process by thread (main first) {by_thread}", file=sys.stderr)
    stop.set()
    await asyncio.gather(*tasks)
    await c.close_all()
    return {"per_s": total / elapsed, "server_cpu_cores": cpu / elapsed, "server_cpu_ms_per_process": cpu / total * 1000,
            "load_cpu_ms_per_process": load / total * 1000, "loop_ms_per_process": by_thread[0],
            "books": books(pids, assigned)}


async def deep(server: Server, total: int) -> dict:
    c = Client(server)
    exs = await c.executors(4)
    subs = [c.rpc(USER_PRV) for _ in range(4)]
    t0 = time.perf_counter()
    pids = await submit_many(subs, total)
    fill = total / (time.perf_counter() - t0)
    await server.quiet()
    stop = asyncio.Event()
    assigned: list[str] = []
    marks: list[float] = []
    tasks = [asyncio.create_task(work(ex, assigned, stop, timeout=2)) for ex in exs]
    t1 = time.perf_counter()
    cpu1, threads1, load1 = server.cpu(), server.thread_cpu(), time.process_time()
    block = 1000
    cpus: list[float] = []
    while len(assigned) < total:
        if len(assigned) >= (len(marks) + 1) * block:
            marks.append(time.perf_counter())
            cpus.append(server.cpu())
        await asyncio.sleep(0.002)
    end = time.perf_counter()
    load = time.process_time() - load1
    marks.append(end)
    cpus.append(server.cpu())
    by_thread = per_unit(threads1, server.thread_cpu(), total)
    print(f"  deep {server.kind}: drain, server CPU ms per process by thread (main first) {by_thread}", file=sys.stderr)
    stop.set()
    await asyncio.gather(*tasks)
    await c.close_all()
    blocks = [b - a for a, b in zip([t1, *marks], marks, strict=False)]  # seconds per 1,000 closes
    cpu_blocks = [b - a for a, b in zip([cpu1, *cpus], cpus, strict=False)]  # server CPU seconds per 1,000
    print(f"  deep {server.kind}: seconds per 1,000 closes {[round(b, 2) for b in blocks]}; "
          f"server CPU {[round(b, 2) for b in cpu_blocks]}", file=sys.stderr)
    return {"fill_per_s": fill, "drain_per_s": total / (end - t1), "last_over_first": blocks[-1] / blocks[0],
            "server_cpu_ms_per_process": (cpus[-1] - cpu1) / total * 1000, "load_cpu_ms_per_process": load / total * 1000,
            "loop_ms_per_process": by_thread[0],
            "cpu_last_over_first": cpu_blocks[-1] / cpu_blocks[0], "books": books(pids, assigned)}


async def push(server: Server, rounds: int) -> dict:
    import websockets

    c = Client(server)
    (ex,) = await c.executors(1)
    sub = c.rpc(USER_PRV)
    lat: list[float] = []
    for _ in range(rounds):
        p = await sub.call("submitfuncspecmsg", {"spec": spec()})
        got = await ex.call("assignprocessmsg", {"colonyname": COLONY, "timeout": 5})
        msg = {"msgtype": "subscribeprocessmsg", "processid": p["processid"], "executortype": "bench", "state": 2,
               "timeout": 10, "colonyname": COLONY}
        payload = base64.b64encode(json.dumps(msg).encode()).decode()
        env = json.dumps({"payloadtype": "subscribeprocessmsg", "payload": payload, "signature": sign(payload, USER_PRV)})
        async with websockets.connect(f"ws://{HOST}:{server.port}/pubsub", compression=None) as ws:
            await ws.send(env)
            await asyncio.sleep(0.01)  # let the server register the subscription
            t0 = time.perf_counter()
            close = asyncio.create_task(ex.call("closesuccessfulmsg", {"processid": got["processid"], "out": []}))
            await ws.recv()
            lat.append(time.perf_counter() - t0)
            await close
    await c.close_all()
    lat.sort()
    return {"p50_ms": percentile(lat, 50) * 1000, "p99_ms": percentile(lat, 99) * 1000}


async def idle(server: Server, rounds: int) -> dict:
    c = Client(server)
    (ex,) = await c.executors(1)
    sub = c.rpc(USER_PRV)
    from_sent: list[float] = []
    from_ack: list[float] = []
    for _ in range(rounds):
        poll = asyncio.create_task(ex.call("assignprocessmsg", {"colonyname": COLONY, "timeout": 10}))
        await asyncio.sleep(0.01)  # parked
        t0 = time.perf_counter()
        await sub.call("submitfuncspecmsg", {"spec": spec()})
        t_ack = time.perf_counter()
        p = await poll
        t_assigned = time.perf_counter()
        from_sent.append(t_assigned - t0)
        from_ack.append(max(t_assigned - t_ack, 0.0))
        await ex.call("closesuccessfulmsg", {"processid": p["processid"], "out": []})
    await c.close_all()
    from_sent.sort()
    from_ack.sort()
    return {"p50_ms": percentile(from_ack, 50) * 1000, "p99_ms": percentile(from_ack, 99) * 1000,
            "sent_p50_ms": percentile(from_sent, 50) * 1000, "sent_p99_ms": percentile(from_sent, 99) * 1000}


def start_time(kind: str, rounds: int = 5) -> float:
    """Median seconds from spawn to the first signed request answered."""
    import http.client

    times = []
    for _ in range(rounds + 1):  # the first round warms the bytecode cache and is not counted
        port = free_port()
        d = tempfile.mkdtemp(prefix="bench-start-")
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as a user runs it: compiled modules are cached
        if kind == "ceiling":
            cmd = [sys.executable, str(HERE / "ceiling.py"), "--port", str(port)]
        elif kind == "dev":
            cmd = [sys.executable, str(REPO / "colonies.py"), "dev", "--no-executor", "--port", str(port),
                   "--data-dir", d]
        else:
            cmd = [sys.executable, str(REPO / "colonies.py"), "server", "start", "--port", str(port),
                   "--data-dir", d, "--host", HOST]
            env["COLONIES_SERVER_PRVKEY"] = SERVER_PRV
        payload = base64.b64encode(b'{"msgtype":"getcoloniesmsg"}').decode()
        body = json.dumps({"payloadtype": "getcoloniesmsg", "payload": payload,
                           "signature": sign(payload, SERVER_PRV)}).encode()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    conn = http.client.HTTPConnection(HOST, port, timeout=5)
                    conn.request("POST", "/api", body)
                    if conn.getresponse().status == 200:
                        break
                except OSError:
                    time.sleep(0.002)
                if time.perf_counter() - t0 > 30:
                    raise RuntimeError(f"{kind} did not answer")
            times.append(time.perf_counter() - t0)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(15)
            shutil.rmtree(d, ignore_errors=True)
    times = sorted(times[1:])
    return times[len(times) // 2]


def disk_commit_ms(rounds: int = 200) -> tuple[float, float]:
    """p50/p99 of one small SQLite commit with synchronous=FULL in a temp dir: what a durable
    acknowledgement costs on this disk right now (the ceiling has no such cost)."""
    import sqlite3

    d = tempfile.mkdtemp(prefix="bench-disk-")
    conn = sqlite3.connect(os.path.join(d, "x.db"), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE t(x)")
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (?)", (b"x" * 500,))
        conn.execute("COMMIT")
        times.append(time.perf_counter() - t0)
    conn.close()
    shutil.rmtree(d, ignore_errors=True)
    times.sort()
    return percentile(times, 50) * 1000, percentile(times, 99) * 1000


# --------------------------------------------------------------------------- runner


async def run_pair(name: str, fn, arg) -> tuple[dict, dict]:
    out = {}
    for kind in ("ceiling", "ours"):
        server = Server(kind)
        try:
            await server.ready()
            out[kind] = await fn(server, arg)
        finally:
            server.stop()
        print(f"  {name} {kind}: {out[kind]}", file=sys.stderr, flush=True)
    return out["ours"], out["ceiling"]


def budget_rows(name: str, o: dict, c: dict, target: float) -> list[str]:
    """What a rate of `target` × the ceiling's leaves the server on this machine: the load
    generator's CPU per process comes out of the machine's cores (its figure against the ceiling,
    the smaller one: against ours it also pays for waiting), and the event loop is one thread, so
    it can spend at most 1/rate per process."""
    rate = target * c["per_s"]
    cores = os.cpu_count() or 1
    total = cores * 1000 / rate - c["load_cpu_ms_per_process"]
    loop = 1000 / rate
    return [
        row(f"{name}: load generator CPU per process", f"{o['load_cpu_ms_per_process']:.2f} ms",
            f"{c['load_cpu_ms_per_process']:.2f} ms", "", ""),
        row(f"{name}: server CPU per process at {target} × the ceiling's rate ({rate:,.0f}/s on {cores} cores), "
            "all threads / event loop", f"{o['server_cpu_ms_per_process']:.2f} / {o['loop_ms_per_process']:.2f} ms",
            f"at most {total:.2f} / {loop:.2f} ms", f"{o['server_cpu_ms_per_process'] / total:.2f} / "
            f"{o['loop_ms_per_process'] / loop:.2f} of it", ""),
    ]


def row(scenario: str, ours: str, ceiling: str, ratio: str, target: str) -> str:
    return f"| {scenario} | {ours} | {ceiling} | {ratio} | {target} |"


async def main_async(a: argparse.Namespace) -> None:
    only = set(a.only.split(",")) if a.only else {"drain", "throughput", "deep", "push", "idle", "start"}
    rows = []
    if "drain" in only:
        o, c = await run_pair("drain", drain, a.executors)
        rows.append(row(f"{a.executors} parked executors, {a.executors} processes: time to drain",
                        f"{o['seconds']:.2f} s", f"{c['seconds']:.2f} s", f"{o['seconds'] / c['seconds']:.2f}× the time",
                        "≤ 1.5×"))
        rows.append(row("drain: server CPU per process (submit + assign + close)",
                        f"{o['server_cpu_ms_per_process']:.2f} ms", f"{c['server_cpu_ms_per_process']:.2f} ms",
                        f"{o['server_cpu_ms_per_process'] / c['server_cpu_ms_per_process']:.1f}×", ""))
        rows.append(row(f"server RSS with {a.executors} parked", f"{o['rss_mb']:.0f} MB", f"{c['rss_mb']:.0f} MB",
                        f"{o['rss_mb'] / c['rss_mb']:.2f}×", "≤ 80 MB"))
        rows.append(row("every process assigned exactly once", o["books"], c["books"], "", ""))
    if "throughput" in only:
        o, c = await run_pair("throughput", throughput, a.processes)
        rows.append(row(f"throughput: 8 executors, 4 submitters, {a.processes:,} processes", f"{o['per_s']:,.0f}/s",
                        f"{c['per_s']:,.0f}/s", f"{o['per_s'] / c['per_s']:.2f}", "≥ 0.7"))
        rows.append(row("server CPU per process (submit + assign + close)",
                        f"{o['server_cpu_ms_per_process']:.2f} ms", f"{c['server_cpu_ms_per_process']:.2f} ms",
                        f"{o['server_cpu_ms_per_process'] / c['server_cpu_ms_per_process']:.1f}×", ""))
        rows.extend(budget_rows("throughput", o, c, 0.7))
    if "deep" in only:
        o, c = await run_pair("deep", deep, a.deep)
        o["per_s"], c["per_s"] = o["drain_per_s"], c["drain_per_s"]
        rows.append(row(f"deep queue: fill {a.deep:,}", f"{o['fill_per_s']:,.0f}/s", f"{c['fill_per_s']:,.0f}/s",
                        f"{o['fill_per_s'] / c['fill_per_s']:.2f}", ""))
        rows.append(row(f"deep queue: drain {a.deep:,} with 4 executors", f"{o['drain_per_s']:,.0f}/s",
                        f"{c['drain_per_s']:,.0f}/s", f"{o['drain_per_s'] / c['drain_per_s']:.2f}", "≥ 0.5"))
        rows.extend(budget_rows("deep drain", o, c, 0.5))
        rows.append(row("deep queue: last 1,000 closes / first 1,000 (wall time)", f"{o['last_over_first']:.2f}",
                        f"{c['last_over_first']:.2f}", "", "≤ 1.2"))
        rows.append(row("deep queue: last 1,000 closes / first 1,000 (server CPU)", f"{o['cpu_last_over_first']:.2f}",
                        f"{c['cpu_last_over_first']:.2f}", "", "≤ 1.2"))
    if "push" in only:
        o, c = await run_pair("push", push, a.rounds)
        rows.append(row("close → `wait()` push over `/pubsub` (p50 / p99)", f"{o['p50_ms']:.2f} / {o['p99_ms']:.2f} ms",
                        f"{c['p50_ms']:.2f} / {c['p99_ms']:.2f} ms", f"{o['p50_ms'] / c['p50_ms']:.1f}×", "p50 ≤ 2 ms"))
    if "idle" in only:
        o, c = await run_pair("idle", idle, a.rounds)
        rows.append(row("idle executor: submit acknowledged → assigned (p50 / p99)",
                        f"{o['p50_ms']:.2f} / {o['p99_ms']:.2f} ms", f"{c['p50_ms']:.2f} / {c['p99_ms']:.2f} ms",
                        f"{o['p50_ms'] / max(c['p50_ms'], 1e-3):.1f}×", "≤ 0.7 / 3 ms"))
        rows.append(row("idle executor: submit sent → assigned (p50 / p99)",
                        f"{o['sent_p50_ms']:.2f} / {o['sent_p99_ms']:.2f} ms",
                        f"{c['sent_p50_ms']:.2f} / {c['sent_p99_ms']:.2f} ms",
                        f"{o['sent_p50_ms'] / c['sent_p50_ms']:.1f}×", ""))
    if "start" in only:
        ceiling = start_time("ceiling")
        for kind in ("dev", "server"):
            t = start_time(kind)
            label = "dev --no-executor" if kind == "dev" else "server start"
            rows.append(row(f"`{label}`: spawn → first signed request answered", f"{t:.2f} s", f"{ceiling:.2f} s",
                            f"{t / ceiling:.1f}×", "≤ 0.3 s"))
    p50, p99 = disk_commit_ms()
    rows.append(row("reference: one SQLite commit (synchronous=FULL) on this disk, p50 / p99",
                    f"{p50:.2f} / {p99:.2f} ms", "none", "", ""))
    if only & {"throughput", "deep", "drain"}:
        from floor import floor_ms

        ours_floor, minimal_floor = floor_ms("ours", 4000, 4), floor_ms("minimal", 4000, 4)
        rows.append(row("reference: storage floor, the SQL of one process alone with durable commits, 4 units per "
                        "commit (`bench/floor.py`): our schema / a minimal one", f"{ours_floor:.3f} / {minimal_floor:.3f} ms",
                        "none", "", ""))
    print("| scenario | ours | ceiling | ours / ceiling | target |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default="", help="comma-separated: drain,throughput,deep,push,idle,start")
    p.add_argument("--executors", type=int, default=500)
    p.add_argument("--processes", type=int, default=2000)
    p.add_argument("--deep", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=200)
    a = p.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main_async(a))


if __name__ == "__main__":
    main()
