"""Metrics scrape cost: how long `GET /metrics` takes next to the statistics RPC it replaces.

Starts ``python colonies.py dev --no-executor`` on a free loopback port with a fresh data dir,
submits ``--processes`` processes (default 5,000; they stay waiting), then times ``--rounds``
scrapes of ``/metrics`` (memory only) and as many ``getstatisticsmsg`` RPCs (which count rows in
the database), and prints medians and their ratio. Not a CI test: it prints figures.

    python bench/metrics_scrape.py [--processes 5000] [--rounds 50]
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from colonies_pkg.client import Client  # noqa: E402

SERVER_PRV = "fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d"
USER_PRV = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--processes", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=50)
    args = ap.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        proc = subprocess.Popen([sys.executable, "colonies.py", "dev", "--no-executor", "--port", str(port),
                                 "--data-dir", data], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            client = Client("127.0.0.1", port)
            deadline = time.monotonic() + 30
            while not client.health():
                if time.monotonic() > deadline:
                    raise SystemExit("server did not start")
                time.sleep(0.1)
            spec = {"funcname": "bench", "conditions": {"colonyname": "dev", "executortype": "bench"}}
            for _ in range(args.processes):
                client.rpc({"msgtype": "submitfuncspecmsg", "spec": spec}, USER_PRV)
            import urllib.request

            def scrape() -> float:
                started = time.perf_counter()
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as r:
                    r.read()
                return time.perf_counter() - started

            def stats() -> float:
                started = time.perf_counter()
                client.rpc({"msgtype": "getstatisticsmsg"}, SERVER_PRV)
                return time.perf_counter() - started

            scrape(), stats()  # warm up (the first scrape imports prometheus_client)
            scrapes = [scrape() for _ in range(args.rounds)]
            rpcs = [stats() for _ in range(args.rounds)]
            s, r = statistics.median(scrapes) * 1000, statistics.median(rpcs) * 1000
            print(f"{args.processes} processes: GET /metrics median {s:.2f} ms, getstatisticsmsg median {r:.2f} ms "
                  f"(ratio {s / r:.2f})")
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(15)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
