"""The storage floor: the CPU that the SQL of one process (submit → assign → close) costs with
durable commits and nothing else — no HTTP, no envelope or signature, no authorization reads, no
Python domain layer — so that a server built on that storage can never spend less per process.

    python bench/floor.py [--processes 6000]

Two layouts, each with k units per commit (k = 1, 4, 16: a batch of k submits, then k
assignments, then k closes, one `synchronous=FULL` commit each, as the single writer groups them):

* ours: the real schema (storage/migrations/sqlite) and the real storage calls
  (`storage.processes.insert`, `claim`, `close`);
* minimal: one table with an integer key and one partial queue index, one statement per step
  (a layout that keeps only what the wire needs to assign in priority order).

`bench/suite.py` prints the same figures as reference rows of its run. Prints figures only.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from colonies_pkg.storage import processes as store
from colonies_pkg.storage.db import Tx, _configure, migrate

SPEC = ('{"nodename":"","funcname":"bench","args":[%d],"kwargs":{},"priority":0,"maxwaittime":-1,'
        '"maxexectime":-1,"maxretries":-1,"conditions":{"colonyname":"dev","colonyid":"","executornames":[],'
        '"executortype":"bench","dependencies":[],"nodes":0,"cpu":"","processes":0,"processespernode":0,'
        '"mem":"","storage":"","gpu":{"name":"","mem":"","count":0,"nodespernode":0},"walltime":0},'
        '"label":"","fs":{"mount":"","snapshots":[],"dirs":[]},"env":{},"channels":[]}')
MINIMAL_SCHEMA = """
CREATE TABLE p (id INTEGER PRIMARY KEY, processid TEXT NOT NULL, colony TEXT NOT NULL, type TEXT NOT NULL,
                state INTEGER NOT NULL, prio INTEGER NOT NULL, executor TEXT NOT NULL DEFAULT '',
                spec TEXT NOT NULL, output TEXT NOT NULL DEFAULT '[]');
CREATE INDEX p_queue ON p(colony, type, prio) WHERE state = 0;
"""


class Steps(NamedTuple):
    """One layout's statements for the three steps of a process."""

    submit: Callable[[int], None]  # insert process i
    claim: Callable[[], Any]  # assign the first waiting process; its key
    close: Callable[[Any], None]


def _ours(conn: sqlite3.Connection) -> Steps:
    tx = Tx(conn)
    now = time.time_ns()

    def submit(i: int) -> None:
        store.insert(tx, {"processid": f"{i:064x}", "colonyname": "dev", "executortype": "bench",
                          "executornames": None, "prioritytime": now + i, "submissiontime": now + i,
                          "spec": SPEC % i, "parents": "[]", "children": "[]", "input": "[]",
                          "output": "[]", "errors": "[]"})

    def claim() -> str:
        row = store.claim(tx, "dev", "bench", "ex", "", 0, 0, "e" * 64, now)
        assert row is not None
        return row.processid

    def close(processid: str) -> None:
        store.close(tx, processid, 2, now, [f"out-{processid[-4:]}"], None)

    return Steps(submit, claim, close)


def _minimal(conn: sqlite3.Connection) -> Steps:
    now = time.time_ns()

    def submit(i: int) -> None:
        conn.execute("INSERT INTO p(processid, colony, type, state, prio, spec) VALUES (?, 'dev', 'bench', 0, ?, ?)",
                     (f"{i:064x}", now + i, SPEC % i))

    def claim() -> int:
        (rowid,) = conn.execute("SELECT id FROM p WHERE colony = 'dev' AND type = 'bench' AND state = 0 "
                                "ORDER BY prio LIMIT 1").fetchone()
        conn.execute("UPDATE p SET state = 1, executor = ? WHERE id = ?", ("e" * 64, rowid))
        return int(rowid)

    def close(rowid: int) -> None:
        conn.execute("UPDATE p SET state = 2, output = ? WHERE id = ?", (f'["out-{rowid}"]', rowid))

    return Steps(submit, claim, close)


def _run(conn: sqlite3.Connection, steps: Steps, first: int, n: int, k: int) -> None:
    """Processes first … first+n-1: k submits in one transaction, then k claims, then k closes."""
    for start in range(first, first + n, k):
        ids = range(start, min(start + k, first + n))
        conn.execute("BEGIN IMMEDIATE")
        for i in ids:
            steps.submit(i)
        conn.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")
        claimed = [steps.claim() for _ in ids]
        conn.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")
        for key in claimed:
            steps.close(key)
        conn.execute("COMMIT")


def floor_ms(layout: str, n: int, k: int) -> float:
    """CPU milliseconds (user + system) per process for `layout` with k units per commit."""
    d = tempfile.mkdtemp(prefix="bench-floor-")
    try:
        conn = sqlite3.connect(os.path.join(d, "floor.db"), isolation_level=None)
        _configure(conn, "FULL")  # as the writer's connection (rows as sqlite3.Row)
        if layout == "ours":
            migrate(conn)
            conn.execute("INSERT INTO colonies(name, colonyid) VALUES ('dev', ?)", ("c" * 64,))
            steps = _ours(conn)
        else:
            conn.row_factory = None
            conn.executescript(MINIMAL_SCHEMA)
            steps = _minimal(conn)
        warm = min(n, 320)
        _run(conn, steps, 0, warm, k)  # the statement cache and the pages
        cpu0 = time.process_time()
        _run(conn, steps, warm, n, k)
        cpu = time.process_time() - cpu0
        conn.close()
        return cpu / n * 1000
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--processes", type=int, default=6000)
    a = p.parse_args()
    print("| layout | 1 unit per commit | 4 | 16 |")
    print("|---|---|---|---|")
    for layout in ("ours", "minimal"):
        figures = [floor_ms(layout, a.processes, k) for k in (1, 4, 16)]
        print(f"| {layout} | " + " | ".join(f"{f:.3f} ms" for f in figures) + " |")


if __name__ == "__main__":
    main()
