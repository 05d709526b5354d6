"""Cron soak: does an every-second cron fire once per second for a long time, without drift?

Starts ``python colonies.py dev`` (WITH the in-process sample executor, so the workflows run
and complete) on a free loopback port with a fresh data dir, adds a ``0/1 * * * * *`` cron whose
workflow is one ``echo`` process, waits ``--seconds`` (default 600), removes the cron, lets the
last workflows finish, and counts the workflows it produced from the colony statistics
(every workflow in the fresh ``dev`` colony comes from the cron). It also reports the gaps between
the submission times of the last 100 workflows and the server's RSS before and after.

Not a CI test: it prints figures and exits 1 only if the count is outside S ± 2.

    python bench/cron_soak.py --seconds 30
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from itertools import pairwise
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from colonies_pkg.client import Client  # noqa: E402

COLONY = "dev"
MEMBER_PRVKEY = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"
STATES = ("waiting", "running", "successful", "failed", "cancelled")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def parse_time(text: str) -> float:
    """RFC 3339 with nanoseconds → Unix seconds (float)."""
    head, _, frac = text.rstrip("Z").partition(".")
    secs = datetime.fromisoformat(head + "+00:00").timestamp()
    return secs + (int(frac.ljust(9, "0")[:9]) / 1e9 if frac else 0.0)


def workflow_counts(client: Client) -> dict[str, int]:
    stats = client.rpc({"msgtype": "getcolonystatsmsg", "colonyname": COLONY}, MEMBER_PRVKEY)
    return {s: stats[f"{s}workflows"] for s in STATES}


def start_server(port: int, data_dir: str, log_path: Path) -> subprocess.Popen[bytes]:
    log = open(log_path, "wb")  # noqa: SIM115 -- closed with the process
    proc = subprocess.Popen([sys.executable, "colonies.py", "dev", "--port", str(port), "--data-dir", data_dir],
                            cwd=str(REPO_ROOT), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    client = Client("127.0.0.1", port, timeout=5)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}; see {log_path}")
        # healthy, and the dev bootstrap (colony, user, sample executor) has run
        with contextlib.suppress(Exception):
            if client.health() and workflow_counts(client) is not None:
                return proc
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"server did not become healthy; see {log_path}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=600.0, help="how long the cron runs (default 600)")
    ap.add_argument("--keep", action="store_true", help="keep the data dir and server log")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="cron-soak-")
    port = free_port()
    proc = start_server(port, os.path.join(work, "data"), Path(work) / "server.log")
    client = Client("127.0.0.1", port, timeout=30)
    try:
        # the sample executor registers itself; wait until it is there so workflows complete
        time.sleep(1.0)
        rss_before = rss_kib(proc.pid)
        spec = {"colonyname": COLONY, "functionspecs": [{
            "nodename": "echo", "funcname": "echo", "args": ["soak"], "maxexectime": 30,
            "conditions": {"colonyname": COLONY, "executortype": "cli", "dependencies": []}}]}
        cron = {"name": "soak", "colonyname": COLONY, "cronexpression": "0/1 * * * * *", "interval": -1,
                "random": False, "waitforprevprocessgraph": False, "workflowspec": json.dumps(spec)}
        t_add = time.time()
        added = client.rpc({"msgtype": "addcronmsg", "cron": cron}, MEMBER_PRVKEY)
        t_added = time.time()
        print(f"cron {added['cronid'][:12]}… added; running for {args.seconds:g} s on port {port}", flush=True)
        end = time.monotonic() + args.seconds
        next_report = time.monotonic() + 60
        while time.monotonic() < end:
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))
            if time.monotonic() >= next_report:
                counts = workflow_counts(client)
                print(f"  {time.time() - t_add:6.0f} s: {sum(counts.values())} workflows {counts}", flush=True)
                next_report += 60
        client.rpc({"msgtype": "removecronmsg", "cronid": added["cronid"], "all": False}, MEMBER_PRVKEY)
        t_removed = time.time()
        # whole seconds strictly inside (add, remove]: what a perfect scheduler fires
        ideal_lo = int(t_removed) - int(t_added)
        ideal_hi = int(t_removed) - int(t_add)
        # let the last workflows finish
        deadline = time.monotonic() + 15
        counts = workflow_counts(client)
        while (counts["waiting"] or counts["running"]) and time.monotonic() < deadline:
            time.sleep(0.5)
            counts = workflow_counts(client)
        n = sum(counts.values())
        rss_after = rss_kib(proc.pid)
        graphs = client.rpc({"msgtype": "getprocessgraphsmsg", "colonyname": COLONY, "count": 100, "state": -1},
                            MEMBER_PRVKEY) or []
        times = sorted(parse_time(g["submissiontime"]) for g in graphs)
        gaps = [b - a for a, b in pairwise(times)]
        offsets = [t - int(t) for t in times]
    finally:
        stop_server(proc)
        if args.keep:
            print(f"data and log kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    s = args.seconds
    print(f"cron soak: {n} workflows in {s:g} s (expected {s:g} ± 2)")
    print(f"  cron lived {t_removed - t_add:.2f} s: a perfect scheduler fires {ideal_lo}..{ideal_hi} times")
    print(f"  states: {counts}")
    if gaps:
        print(f"  last {len(times)} workflows: gap min {min(gaps):.3f} s, max {max(gaps):.3f} s; "
              f"fire latency after the whole second: max {max(offsets) * 1000:.1f} ms, "
              f"mean {sum(offsets) / len(offsets) * 1000:.1f} ms")
    if rss_before and rss_after:
        print(f"  server RSS {rss_before / 1024:.1f} MiB → {rss_after / 1024:.1f} MiB")
    return 0 if abs(n - s) <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
