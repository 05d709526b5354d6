"""Load benchmark: process lifecycle submit -> assign -> close against a real server.

Starts ``python colonies.py dev --no-executor`` as a subprocess on a free loopback port,
registers N executors of type "bench", then:

* phase 1 (throughput): M submitters submit processes as fast as they can while N executors
  loop ``assignprocessmsg`` (long-poll) + ``closesuccessfulmsg``; reports completed
  processes per second and p50/p99 of submit->assigned latency;
* phase 2 (idle latency): with every executor already parked in a long-poll, one process is
  submitted at a time and the submit->assigned latency is reported.

Finally it checks the books: every submitted process assigned once and closed, and the colony
statistics (``getcolonystatsmsg``) agree. It prints figures only; it asserts nothing about timing.

The load generator is a single asyncio process (uvloop if installed) using persistent
keep-alive HTTP/1.1 connections, one per worker. The default client is a small raw-asyncio
HTTP/1.1 client (``--client raw``); ``--client httpx`` uses ``httpx.AsyncClient`` instead.

Usage (from anywhere; the server is started from the repo root)::

    python bench/lifecycle.py --processes 2000 --executors 8 --submitters 4 [--json]
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from colonies_pkg.crypto import generate_prvkey, id_of_prvkey, sign  # noqa: E402

COLONY_NAME = "dev"
COLONY_PRVKEY = "ba949fa134981372d6da62b6a56f336ab4d843b22c02a4257dcf7d0d73097514"
MEMBER_PRVKEY = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"
EXECUTOR_TYPE = "bench"
ASSIGN_TIMEOUT = 5  # seconds, the long-poll timeout each executor asks for
RPC_TIMEOUT = 30.0  # client-side cap on any single non-long-poll request
HEALTH_TIMEOUT = 30.0


# --------------------------------------------------------------------------- HTTP clients


class RawHTTP:
    """Minimal HTTP/1.1 client over one persistent asyncio connection (keep-alive).

    Handles Content-Length and chunked bodies and ``Connection: close``. If a *reused*
    connection turns out to be dead before any reply byte arrives (the server closed an idle
    keep-alive connection), it reconnects and resends once.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._used = 0
        self.connects = 0
        self.resends = 0

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        sock = self._writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._used = 0
        self.connects += 1

    def _drop(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        self._reader = self._writer = None

    async def aclose(self) -> None:
        self._drop()

    async def request(self, method: str, path: str, body: bytes = b"",
                      timeout: float | None = None) -> tuple[int, bytes]:
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        data = head + body
        for attempt in (0, 1):
            if self._writer is None:
                await self._connect()
            reused = self._used > 0
            got_bytes = False
            try:
                async with asyncio.timeout(timeout):
                    self._writer.write(data)
                    got_bytes, result = await self._read_response()
                return result
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                self._drop()
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    got_bytes = True
                if attempt == 0 and reused and not got_bytes:
                    self.resends += 1
                    continue
                raise
            except BaseException:
                # Timeout or cancellation mid-request: the connection state is unknown.
                self._drop()
                raise
        raise AssertionError("unreachable")

    async def _read_response(self) -> tuple[bool, tuple[int, bytes]]:
        reader = self._reader
        assert reader is not None
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            status = int(lines[0].split(b" ", 2)[1])
            length = None
            chunked = False
            close = lines[0].startswith(b"HTTP/1.0")
            for line in lines[1:]:
                if not line:
                    continue
                key, _, value = line.partition(b":")
                key = key.strip().lower()
                value = value.strip().lower()
                if key == b"content-length":
                    length = int(value)
                elif key == b"transfer-encoding" and b"chunked" in value:
                    chunked = True
                elif key == b"connection":
                    if b"close" in value:
                        close = True
                    elif b"keep-alive" in value:
                        close = False
            if 100 <= status < 200:
                continue  # 100-continue and friends: read the real response
            break
        if chunked:
            parts = []
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    # trailers until the empty line
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":
                        pass
                    break
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            body = b"".join(parts)
        elif length is not None:
            body = await reader.readexactly(length) if length else b""
        else:
            body = await reader.read()
            close = True
        self._used += 1
        if close:
            self._drop()
        return True, (status, body)


class HttpxHTTP:
    """Same interface as RawHTTP on top of httpx.AsyncClient (http1, one keep-alive conn)."""

    def __init__(self, host: str, port: int) -> None:
        import httpx

        self._client = httpx.AsyncClient(
            base_url=f"http://{host}:{port}", http1=True, http2=False, timeout=None,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        self.connects = 0
        self.resends = 0

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(self, method: str, path: str, body: bytes = b"",
                      timeout: float | None = None) -> tuple[int, bytes]:
        async with asyncio.timeout(timeout):
            resp = await self._client.request(
                method, path, content=body, headers={"Content-Type": "application/json"})
        return resp.status_code, resp.content


# --------------------------------------------------------------------------- RPC


class RPCError(Exception):
    def __init__(self, msgtype: str, status: int, message: str) -> None:
        super().__init__(f"{msgtype}: {status} {message}")
        self.msgtype = msgtype
        self.status = status
        self.message = message


class RPC:
    """Signs and posts Colonies RPC envelopes (PROTOCOL §1.2) on one HTTP connection."""

    def __init__(self, http: RawHTTP | HttpxHTTP, prvkey: str) -> None:
        self.http = http
        self.prvkey = prvkey

    async def call(self, msgtype: str, fields: dict, timeout: float = RPC_TIMEOUT):
        msg = {"msgtype": msgtype, **fields}
        payload = base64.b64encode(json.dumps(msg).encode()).decode()
        envelope = {"payloadtype": msgtype, "payload": payload,
                    "signature": sign(payload, self.prvkey)}
        status, raw = await self.http.request("POST", "/api", json.dumps(envelope).encode(),
                                              timeout=timeout)
        try:
            reply = json.loads(raw)
            decoded = json.loads(base64.b64decode(reply["payload"]))
            is_error = reply["error"]
        except Exception:
            raise RPCError(msgtype, status, f"unparseable reply body: {raw[:200]!r}") from None
        if is_error:
            message = decoded.get("message") if isinstance(decoded, dict) else decoded
            code = decoded.get("status", status) if isinstance(decoded, dict) else status
            raise RPCError(msgtype, code, str(message))
        if status != 200:
            raise RPCError(msgtype, status, "HTTP status is not 200 although error=false")
        return decoded


def make_http(kind: str, host: str, port: int) -> RawHTTP | HttpxHTTP:
    return HttpxHTTP(host, port) if kind == "httpx" else RawHTTP(host, port)


# --------------------------------------------------------------------------- stats helpers


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (q in [0, 100])."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, math.ceil(q / 100.0 * len(sorted_values)) - 1))
    return sorted_values[k]


def summarize_ms(values_s: list[float]) -> dict:
    vals = sorted(v * 1000.0 for v in values_s)
    if not vals:
        return {"n": 0, "p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    return {"n": len(vals), "p50": round(percentile(vals, 50), 3),
            "p90": round(percentile(vals, 90), 3), "p99": round(percentile(vals, 99), 3),
            "max": round(vals[-1], 3), "mean": round(sum(vals) / len(vals), 3)}


def stat_cpu_times(stat_path: str) -> tuple[float, float] | None:
    """(user, system) CPU seconds from a /proc stat file (a process's, or one thread's under
    /proc/<pid>/task/<tid>/), or None."""
    try:
        with open(stat_path) as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return int(fields[11]) / ticks, int(fields[12]) / ticks
    except (OSError, IndexError, ValueError):
        return None


def proc_cpu_seconds(pid: int | str) -> float | None:
    """user+system CPU seconds of a process (all its threads) from /proc, or None."""
    times = stat_cpu_times(f"/proc/{pid}/stat")
    return sum(times) if times else None


def child_pids(pid: int | str = "self") -> list[int]:
    """The child processes of a process (of each of its threads), from /proc."""
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out.extend(int(p) for p in fh.read().split())
    except OSError:
        pass
    return out


def machine_cpu() -> tuple[float, float] | None:
    """(busy, total) jiffies of the whole machine from /proc/stat, or None."""
    try:
        with open("/proc/stat") as fh:
            vals = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
    total = sum(vals[:8])  # guest time is already counted in user/nice
    return total - idle, total


def spec(tag: str) -> dict:
    return {"funcname": "bench", "args": [], "kwargs": {}, "priority": 0,
            "maxwaittime": -1, "maxexectime": -1, "maxretries": -1,
            "conditions": {"colonyname": COLONY_NAME, "executortype": EXECUTOR_TYPE,
                           "dependencies": []},
            "env": {}, "label": tag}


# --------------------------------------------------------------------------- the benchmark


class Executor:
    def __init__(self, name: str, prvkey: str, rpc: RPC) -> None:
        self.name = name
        self.prvkey = prvkey
        self.id = id_of_prvkey(prvkey)
        self.rpc = rpc
        self.assigned = 0


class Bench:
    def __init__(self, args: argparse.Namespace, port: int) -> None:
        self.args = args
        self.host = args.host
        self.port = port
        self.errors: collections.Counter[str] = collections.Counter()
        self.transport_errors: collections.Counter[str] = collections.Counter()
        # per-process bookkeeping (all times are time.perf_counter())
        self.submit_sent: dict[str, float] = {}   # pid -> time the submit request was sent
        self.submit_reply: dict[str, float] = {}  # pid -> time the submit reply arrived
        self.phase_of: dict[str, int] = {}
        self.assigned_at: dict[str, float] = {}
        self.assigned_by: dict[str, str] = {}
        self.closed_at: dict[str, float] = {}
        self.duplicate_assigns: list[tuple[str, str, str]] = []
        self.bad_assign_replies: list[str] = []
        self.assign_404s = 0
        self.events: dict[str, asyncio.Event] = {}  # pid -> set when closed (phase 2 pacing)
        self.stopping = False
        self.executors: list[Executor] = []
        self.https: list[RawHTTP | HttpxHTTP] = []
        self.server_pid = 0
        self.uvloop = False

    # -- plumbing
    def _http(self) -> RawHTTP | HttpxHTTP:
        h = make_http(self.args.client, self.host, self.port)
        self.https.append(h)
        return h

    def _err(self, exc: BaseException, where: str) -> None:
        if isinstance(exc, RPCError):
            self.errors[f"{exc.msgtype} -> {exc.status} {exc.message[:160]}"] += 1
        else:
            self.transport_errors[f"{where}: {type(exc).__name__}: {str(exc)[:160]}"] += 1

    def _event(self, pid: str) -> asyncio.Event:
        ev = self.events.get(pid)
        if ev is None:
            ev = self.events[pid] = asyncio.Event()
        return ev

    # -- setup
    async def register_executors(self) -> None:
        admin = RPC(self._http(), COLONY_PRVKEY)
        suffix = os.urandom(3).hex()
        for i in range(self.args.executors):
            prv = generate_prvkey()
            name = f"bench-{suffix}-{i}"
            ex = Executor(name, prv, RPC(self._http(), prv))
            await admin.call("addexecutormsg", {"executor": {
                "executorname": name, "executorid": ex.id,
                "colonyname": COLONY_NAME, "executortype": EXECUTOR_TYPE}})
            await admin.call("approveexecutormsg",
                             {"colonyname": COLONY_NAME, "executorname": name})
            self.executors.append(ex)

    # -- workers
    async def executor_loop(self, ex: Executor) -> None:
        while not self.stopping:
            try:
                proc = await ex.rpc.call("assignprocessmsg",
                                         {"colonyname": COLONY_NAME, "timeout": ASSIGN_TIMEOUT},
                                         timeout=ASSIGN_TIMEOUT + RPC_TIMEOUT)
            except RPCError as exc:
                if exc.status == 404:
                    self.assign_404s += 1
                    continue
                self._err(exc, "assign")
                await asyncio.sleep(0.05)
                continue
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError,
                    asyncio.LimitOverrunError) as exc:
                self._err(exc, "assign")
                await asyncio.sleep(0.1)
                continue
            now = time.perf_counter()
            pid = proc.get("processid") if isinstance(proc, dict) else None
            if not pid:
                self.bad_assign_replies.append(f"{ex.name}: reply without processid: {proc!r:.200}")
                continue
            if pid in self.assigned_at:
                self.duplicate_assigns.append((pid, self.assigned_by[pid], ex.name))
            else:
                self.assigned_at[pid] = now
                self.assigned_by[pid] = ex.name
            ex.assigned += 1
            if proc.get("state") != 1 or proc.get("assignedexecutorid") != ex.id:
                self.bad_assign_replies.append(
                    f"{pid[:12]}: state={proc.get('state')!r} "
                    f"assignedexecutorid={str(proc.get('assignedexecutorid'))[:12]} "
                    f"(expected 1 / {ex.id[:12]})")
            try:
                await ex.rpc.call("closesuccessfulmsg", {"processid": pid, "out": ["ok"]})
            except (RPCError, OSError, asyncio.IncompleteReadError, TimeoutError, ValueError,
                    asyncio.LimitOverrunError) as exc:
                self._err(exc, "close")
                continue
            self.closed_at.setdefault(pid, time.perf_counter())
            self._event(pid).set()

    async def submit_one(self, rpc: RPC, phase: int) -> str | None:
        t0 = time.perf_counter()
        try:
            proc = await rpc.call("submitfuncspecmsg", {"spec": spec(f"bench-p{phase}")})
        except (RPCError, OSError, asyncio.IncompleteReadError, TimeoutError, ValueError,
                asyncio.LimitOverrunError) as exc:
            self._err(exc, "submit")
            return None
        t1 = time.perf_counter()
        pid = proc.get("processid") if isinstance(proc, dict) else None
        if not pid:
            self.errors[f"submitfuncspecmsg -> reply without processid: {proc!r:.120}"] += 1
            return None
        if pid in self.submit_sent:
            self.errors["submitfuncspecmsg -> duplicate process id returned"] += 1
        self.submit_sent[pid] = t0
        self.submit_reply[pid] = t1
        self.phase_of[pid] = phase
        return pid

    async def submitter_loop(self, rpc: RPC, quota: list[int], deadline: float,
                             max_backlog: int) -> None:
        while quota[0] > 0 and time.perf_counter() < deadline and not self.stopping:
            if max_backlog > 0:
                while (len(self.submit_sent) - len(self.assigned_at) >= max_backlog
                       and time.perf_counter() < deadline):
                    await asyncio.sleep(0.0005)
            quota[0] -= 1
            if await self.submit_one(rpc, 1) is None:
                quota[0] += 1
                await asyncio.sleep(0.01)  # do not spin on a failing server

    # -- phases
    async def phase_load(self) -> dict:
        a = self.args
        count = a.processes if a.processes is not None else (10**9 if a.duration else 3000)
        quota = [count]
        start = time.perf_counter()
        submit_deadline = start + min(a.duration or a.max_seconds, a.max_seconds)
        hard_deadline = start + a.max_seconds
        cpu_client0 = time.process_time()
        cpu_server0 = proc_cpu_seconds(self.server_pid)
        machine0 = machine_cpu()
        backlog_peak = 0

        submitters = [asyncio.create_task(
            self.submitter_loop(RPC(self._http(), MEMBER_PRVKEY), quota, submit_deadline,
                                a.max_backlog))
            for _ in range(a.submitters)]

        def phase1_pids():
            return [p for p, ph in self.phase_of.items() if ph == 1]

        while True:
            await asyncio.sleep(0.005)
            backlog_peak = max(backlog_peak, len(self.submit_sent) - len(self.assigned_at))
            subs_done = all(t.done() for t in submitters)
            if subs_done:
                pids = phase1_pids()
                if all(p in self.closed_at for p in pids):
                    break
            if time.perf_counter() >= hard_deadline:
                break
        timed_out = time.perf_counter() >= hard_deadline
        for t in submitters:
            t.cancel()
        await asyncio.gather(*submitters, return_exceptions=True)
        cpu_client = time.process_time() - cpu_client0
        cpu_server1 = proc_cpu_seconds(self.server_pid)
        machine1 = machine_cpu()
        machine_busy_cores = None
        if machine0 and machine1 and machine1[1] > machine0[1]:
            ncpu = os.cpu_count() or 1
            machine_busy_cores = round(
                ncpu * (machine1[0] - machine0[0]) / (machine1[1] - machine0[1]), 2)

        pids = phase1_pids()
        closed = [p for p in pids if p in self.closed_at]
        end = max((self.closed_at[p] for p in closed), default=time.perf_counter())
        wall = max(end - start, 1e-9)
        lat = [self.assigned_at[p] - self.submit_sent[p] for p in pids if p in self.assigned_at]
        submit_rtt = [self.submit_reply[p] - self.submit_sent[p] for p in pids]
        assign_to_close = [self.closed_at[p] - self.assigned_at[p] for p in closed
                           if p in self.assigned_at]
        return {
            "submitted": len(pids), "completed": len(closed),
            "assigned": sum(1 for p in pids if p in self.assigned_at),
            "wall_s": round(wall, 3), "throughput_per_s": round(len(closed) / wall, 1),
            "timed_out": timed_out,
            "submit_to_assigned_ms": summarize_ms(lat),
            "submit_rtt_ms": summarize_ms(submit_rtt),
            "assign_reply_to_closed_ms": summarize_ms(assign_to_close),
            "peak_backlog": backlog_peak,
            "client_cpu_s": round(cpu_client, 2),
            "machine_busy_cores": machine_busy_cores,
            "machine_cores": os.cpu_count(),
            "server_cpu_s": (round(cpu_server1 - cpu_server0, 2)
                             if cpu_server0 is not None and cpu_server1 is not None else None),
        }

    async def phase_idle(self) -> dict:
        a = self.args
        rpc = RPC(self._http(), MEMBER_PRVKEY)
        # Let every executor get back into its long-poll.
        await asyncio.sleep(0.3)
        deadline = time.perf_counter() + a.idle_max_seconds
        lat: list[float] = []
        lost: list[str] = []
        pids: list[str] = []
        for _ in range(a.idle_processes):
            if time.perf_counter() >= deadline:
                break
            pid = await self.submit_one(rpc, 2)
            if pid is None:
                await asyncio.sleep(a.idle_pause)
                continue
            pids.append(pid)
            try:
                remaining = max(0.01, deadline - time.perf_counter())
                await asyncio.wait_for(self._event(pid).wait(), min(ASSIGN_TIMEOUT * 2, remaining))
            except TimeoutError:
                lost.append(pid)
            if pid in self.assigned_at:
                lat.append(self.assigned_at[pid] - self.submit_sent[pid])
            await asyncio.sleep(a.idle_pause)
        submit_rtt = [self.submit_reply[p] - self.submit_sent[p] for p in pids]
        return {"submitted": len(pids), "assigned": len(lat), "not_closed_in_time": len(lost),
                "submit_to_assigned_ms": summarize_ms(lat), "submit_rtt_ms": summarize_ms(submit_rtt)}

    async def run(self) -> dict:
        a = self.args
        await self.register_executors()
        ex_tasks = [asyncio.create_task(self.executor_loop(ex)) for ex in self.executors]
        # Give the executors a moment to park in their first long-poll.
        await asyncio.sleep(0.2)
        try:
            load = await self.phase_load()
            idle = await self.phase_idle() if a.idle_processes > 0 else None
            # Let in-flight closes finish, then stop the executors.
            settle_until = time.perf_counter() + 5.0
            while (any(p not in self.closed_at for p in self.assigned_at)
                   and time.perf_counter() < settle_until):
                await asyncio.sleep(0.01)
        finally:
            self.stopping = True
            for t in ex_tasks:
                t.cancel()
            await asyncio.gather(*ex_tasks, return_exceptions=True)

        stats = None
        try:
            stats = await RPC(self._http(), MEMBER_PRVKEY).call(
                "getcolonystatsmsg", {"colonyname": COLONY_NAME})
        except Exception as exc:
            self._err(exc, "getcolonystats")
        for h in self.https:
            await h.aclose()

        submitted = set(self.submit_sent)
        never_assigned = sorted(p for p in submitted if p not in self.assigned_at)
        assigned_not_closed = sorted(p for p in self.assigned_at if p not in self.closed_at)
        unknown_assigned = sorted(p for p in self.assigned_at if p not in submitted)
        per_exec = {ex.name: ex.assigned for ex in self.executors}
        return {
            "config": {"executors": a.executors, "submitters": a.submitters,
                       "processes": a.processes, "duration": a.duration, "client": a.client,
                       "uvloop": self.uvloop, "max_backlog": a.max_backlog,
                       "idle_processes": a.idle_processes},
            "load": load, "idle": idle,
            "checks": {
                "submitted_total": len(submitted),
                "closed_total": len(self.closed_at),
                "never_assigned": len(never_assigned),
                "assigned_not_closed": len(assigned_not_closed),
                "assigned_but_not_submitted_by_us": len(unknown_assigned),
                "duplicate_assignments": len(self.duplicate_assigns),
                "bad_assign_replies": len(self.bad_assign_replies),
                "assign_404_timeouts": self.assign_404s,
                "error_replies": dict(self.errors),
                "transport_errors": dict(self.transport_errors),
                "http_connects": sum(getattr(h, "connects", 0) for h in self.https),
                "http_resends": sum(getattr(h, "resends", 0) for h in self.https),
                "per_executor_assigned": per_exec,
                "colony_stats": stats,
                "stats_successful_matches": (isinstance(stats, dict)
                                             and stats.get("successfulprocesses") == len(submitted)
                                             and stats.get("waitingprocesses") == 0
                                             and stats.get("runningprocesses") == 0),
            },
            "_samples": {"never_assigned": never_assigned[:5],
                         "assigned_not_closed": assigned_not_closed[:5],
                         "duplicates": self.duplicate_assigns[:5],
                         "bad_assign_replies": self.bad_assign_replies[:5]},
        }


# --------------------------------------------------------------------------- server process


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_healthy(proc: subprocess.Popen, host: str, port: int, log_path: Path) -> float:
    t0 = time.perf_counter()
    url = f"http://{host}:{port}/health"
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before becoming "
                               f"healthy; log tail:\n{tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=1.0) as resp:
                if resp.status == 200:
                    return time.perf_counter() - t0
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if time.perf_counter() - t0 > HEALTH_TIMEOUT:
            raise RuntimeError(f"GET /health did not return 200 within {HEALTH_TIMEOUT:.0f} s; "
                               f"log tail:\n{tail(log_path)}")
        time.sleep(0.1)


def stop_server(proc: subprocess.Popen) -> int | None:
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return proc.returncode


def tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def scan_log(path: Path) -> list[str]:
    """Lines of the server log that look like errors (tracebacks, ERROR, CRITICAL)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    keys = ("Traceback", "ERROR", "CRITICAL", "Exception", "exception")
    return [ln for ln in lines if any(k in ln for k in keys)]


# --------------------------------------------------------------------------- output


def fmt_lat(d: dict) -> str:
    if not d or not d.get("n"):
        return "n/a (no samples)"
    return (f"p50 {d['p50']:.2f} ms, p99 {d['p99']:.2f} ms "
            f"(p90 {d['p90']:.2f}, max {d['max']:.2f}, mean {d['mean']:.2f}, n={d['n']})")


def report(res: dict) -> None:
    cfg, load, idle, chk = res["config"], res["load"], res["idle"], res["checks"]
    print(f"config: {cfg['executors']} executors, {cfg['submitters']} submitters, "
          f"client={cfg['client']}, uvloop={cfg['uvloop']}, server port {res['port']}, "
          f"server ready in {res['startup_s']:.2f} s")
    print(f"throughput: {load['throughput_per_s']:.1f} processes/s "
          f"({load['completed']} processes in {load['wall_s']:.2f} s)"
          + ("  [HIT THE TIME CAP]" if load["timed_out"] else ""))
    print(f"submit->assigned latency under load: {fmt_lat(load['submit_to_assigned_ms'])}")
    print(f"  submit RPC round trip under load:  {fmt_lat(load['submit_rtt_ms'])}")
    print(f"  assign reply -> close reply:       {fmt_lat(load['assign_reply_to_closed_ms'])}")
    print(f"  peak backlog (submitted, not yet assigned): {load['peak_backlog']}")
    if load.get("server_cpu_s") is not None:
        print(f"  CPU during load: server {load['server_cpu_s']:.2f} s "
              f"({100 * load['server_cpu_s'] / load['wall_s']:.0f}% of a core), "
              f"load generator {load['client_cpu_s']:.2f} s "
              f"({100 * load['client_cpu_s'] / load['wall_s']:.0f}% of a core)")
    if load.get("machine_busy_cores") is not None:
        busy = load["machine_busy_cores"]
        others = busy - ((load.get("server_cpu_s") or 0) + load["client_cpu_s"]) / load["wall_s"]
        print(f"  machine during load: {busy:.2f} of {load['machine_cores']} cores busy "
              f"(~{max(others, 0):.2f} cores used by other processes)"
              + ("  [WARNING: machine is busy with other work; figures are pessimistic]"
                 if others > 0.3 else ""))
    if idle:
        d = idle["submit_to_assigned_ms"]
        if d.get("n"):
            print(f"idle submit->assigned latency: p50 {d['p50']:.2f} ms p99 {d['p99']:.2f} ms "
                  f"(max {d['max']:.2f}, n={d['n']}; submit RPC alone p50 "
                  f"{idle['submit_rtt_ms']['p50']:.2f} ms)")
        else:
            print("idle submit->assigned latency: n/a (no process was assigned)")
        if idle["not_closed_in_time"]:
            print(f"  WARNING: {idle['not_closed_in_time']} idle-phase processes were not "
                  f"assigned+closed within {ASSIGN_TIMEOUT * 2} s")
    print("checks:")
    print(f"  submitted {chk['submitted_total']}, closed {chk['closed_total']}, "
          f"never assigned {chk['never_assigned']}, assigned-not-closed "
          f"{chk['assigned_not_closed']}, duplicate assignments {chk['duplicate_assignments']}, "
          f"foreign assignments {chk['assigned_but_not_submitted_by_us']}, "
          f"bad assign replies {chk['bad_assign_replies']}")
    print(f"  assign long-poll timeouts (404): {chk['assign_404_timeouts']}; "
          f"HTTP connections opened: {chk['http_connects']}, resends on stale keep-alive: "
          f"{chk['http_resends']}")
    if chk["error_replies"]:
        print("  error replies:")
        for k, v in sorted(chk["error_replies"].items(), key=lambda kv: -kv[1]):
            print(f"    {v:6d} x {k}")
    else:
        print("  error replies: none")
    if chk["transport_errors"]:
        print("  transport errors:")
        for k, v in sorted(chk["transport_errors"].items(), key=lambda kv: -kv[1]):
            print(f"    {v:6d} x {k}")
    st = chk["colony_stats"]
    if isinstance(st, dict):
        print(f"  colony stats: successful={st.get('successfulprocesses')} "
              f"waiting={st.get('waitingprocesses')} running={st.get('runningprocesses')} "
              f"failed={st.get('failedprocesses')} "
              f"-> {'OK' if chk['stats_successful_matches'] else 'MISMATCH'} "
              f"(expected successful={chk['submitted_total']}, waiting=0, running=0)")
    else:
        print(f"  colony stats: unavailable ({st!r})")
    samples = res.get("_samples", {})
    for key, vals in samples.items():
        if vals:
            print(f"  sample {key}: {vals}")
    if res.get("server_log_errors"):
        print(f"server log: {len(res['server_log_errors'])} error-looking lines, first ones:")
        for ln in res["server_log_errors"][:10]:
            print(f"    {ln[:200]}")
    else:
        print("server log: no error-looking lines")
    print(f"server exit code after SIGINT: {res.get('server_exit_code')}")


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--executors", type=int, default=8, help="number of executors")
    p.add_argument("--submitters", type=int, default=4, help="number of concurrent submitters")
    p.add_argument("--processes", type=int, default=None,
                   help="phase-1 process count (default 3000, or unlimited with --duration)")
    p.add_argument("--duration", type=float, default=None,
                   help="submit for this many seconds instead of a fixed count")
    p.add_argument("--max-seconds", type=float, default=120.0,
                   help="hard cap on the load phase (submit + drain)")
    p.add_argument("--max-backlog", type=int, default=0,
                   help="if > 0, submitters pause while this many processes are unassigned")
    p.add_argument("--idle-processes", type=int, default=200,
                   help="processes submitted one at a time in the idle-latency phase (0 = skip)")
    p.add_argument("--idle-pause", type=float, default=0.02,
                   help="pause between idle-phase submissions, seconds")
    p.add_argument("--idle-max-seconds", type=float, default=60.0,
                   help="hard cap on the idle phase")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind/connect")
    p.add_argument("--port", type=int, default=0, help="server port (0 = pick a free one)")
    p.add_argument("--data-dir", default=None,
                   help="server data dir (default: a fresh temp dir)")
    p.add_argument("--keep-data", action="store_true",
                   help="keep the data dir and server log afterwards")
    p.add_argument("--client", choices=("raw", "httpx"), default="raw",
                   help="HTTP client implementation of the load generator")
    p.add_argument("--no-uvloop", action="store_true", help="use the default asyncio loop")
    p.add_argument("--json", action="store_true", help="also print a one-line JSON summary")
    args = p.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        p.error("--host must be a loopback address")
    for name in ("executors", "submitters"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1")
    return args


def run_loop(coro_fn, use_uvloop: bool):
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            use_uvloop = False
    if use_uvloop:
        return uvloop.run(coro_fn()), True  # type: ignore[possibly-undefined]
    return asyncio.run(coro_fn()), False


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    port = args.port or free_port(args.host)
    made_dir = args.data_dir is None
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="colonies-bench-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "bench-server.log"
    cmd = [sys.executable, "colonies.py", "dev", "--no-executor", "--port", str(port),
           "--data-dir", str(data_dir)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    print(f"starting server: {' '.join(cmd)} (cwd {REPO_ROOT})", flush=True)
    log_fh = open(log_path, "wb")  # noqa: SIM115 -- the server's stdout, closed in the finally below
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=log_fh, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    res: dict | None = None
    rc = 0
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load1 > 0.5 * (os.cpu_count() or 1):
        print(f"note: 1-minute load average is {load1:.1f} on {os.cpu_count()} CPUs; "
              f"other work on this machine will skew the figures", flush=True)
    try:
        startup = wait_healthy(proc, args.host, port, log_path)
        bench = Bench(args, port)
        bench.server_pid = proc.pid
        bench.uvloop = not args.no_uvloop

        async def go():
            return await bench.run()

        res, used_uvloop = run_loop(go, not args.no_uvloop)
        res["config"]["uvloop"] = used_uvloop
        res["port"] = port
        res["startup_s"] = round(startup, 3)
        if proc.poll() is not None:
            res["server_died"] = proc.returncode
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        rc = 130
    except Exception as exc:
        print(f"benchmark failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        rc = 1
    finally:
        exit_code = stop_server(proc)
        log_fh.close()
        if res is not None:
            res["server_exit_code"] = exit_code
            res["server_log_errors"] = scan_log(log_path)
        if rc and proc.returncode is not None:
            print(f"server log tail ({log_path}):\n{tail(log_path)}", file=sys.stderr)
        if args.keep_data:
            print(f"data dir kept: {data_dir} (server log: {log_path})")
        elif made_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                log_path.unlink()
    if res is None:
        return rc or 1
    if res.get("server_died") is not None:
        print(f"WARNING: the server exited during the benchmark (code {res['server_died']})")
    report(res)
    if args.json:
        summary = {k: v for k, v in res.items() if k != "_samples"}
        summary["server_log_errors"] = len(res.get("server_log_errors") or [])
        print(json.dumps(summary, sort_keys=True))
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
