"""Run in a subprocess by the streaming test: put and get one big file through a store and
report timings and the peak-RSS growth (after a warm-up transfer) as JSON on stdout.

    python transfer_probe.py '<store config json>' <file> <dest>
"""
from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from colonies_pkg.objectstore.http import HttpObjectStore
from colonies_pkg.objectstore.local import LocalDirStore
from colonies_pkg.objectstore.s3 import S3Config, S3Store

DEV_PRVKEY = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"


def build(cfg: dict) -> object:
    if cfg["kind"] == "local":
        return LocalDirStore(cfg["root"])
    if cfg["kind"] == "http":
        return HttpObjectStore("127.0.0.1", cfg["port"], "dev", DEV_PRVKEY)
    return S3Store(S3Config.from_env(cfg["env"]))


def peak_kib() -> int:
    """This process's peak RSS. ru_maxrss would also count the parent's RSS from before exec."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:  # "5" resets VmHWM to the current RSS
            f.write("5")
    except OSError:
        pass


def main() -> None:
    cfg, src, dest = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
    store = build(cfg)
    with tempfile.NamedTemporaryFile(delete=False) as warm:  # imports, connections, buffers
        warm.write(os.urandom(3 * 1024 * 1024))
    stored = store.put_file(warm.name)
    store.get_file(stored.ref, dest + ".warm")
    os.unlink(warm.name)
    reset_peak()
    base = peak_kib()
    t0 = time.perf_counter()
    stored = store.put_file(src)
    t1 = time.perf_counter()
    sha = store.get_file(stored.ref, dest)
    t2 = time.perf_counter()
    print(json.dumps({"up_s": t1 - t0, "down_s": t2 - t1, "rss_growth_kib": peak_kib() - base,
                      "sha256": sha, "size": stored.size, "created": stored.created,
                      "object": stored.ref.s3object.object}))


if __name__ == "__main__":
    main()
