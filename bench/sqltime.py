"""Time the SQL of colonies-py's units of work, statement by statement, while a script runs.

    python bench/sqltime.py bench/hotpath.py --pipelines 16 --processes 4800

Runs the script (here the in-process hot path) with the SQLite `Tx` methods, the claim and each
unit of work wrapped in timers, then prints the mean time per call of the costliest units and
statements (wall time on the event loop, so a busy machine inflates them all alike). Also works
as `BENCH_WRAP=bench/sqltime.py python bench/suite.py …`, where it prints into the server's log
(in the suite's temporary directory) when the server stops.
"""
from __future__ import annotations

import atexit
import collections
import runpy
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from colonies_pkg.storage import db as dbmod
from colonies_pkg.storage.dialects import sqlite as dialect

spent: collections.Counter[str] = collections.Counter()
calls: collections.Counter[str] = collections.Counter()


def timed(name_of: Callable[..., str], fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            name = name_of(*args, **kwargs)
            spent[name] += time.perf_counter() - started
            calls[name] += 1
    return wrapper


def statement(_tx: Any, sql: str, *_: Any) -> str:
    return " ".join(sql.split())[:80]


def unit(_conn: Any, fn: Callable[..., Any], *_: Any) -> str:
    return f"unit {fn.__name__}"


def report() -> None:
    rows = sorted(spent, key=lambda name: -spent[name] / calls[name])
    print("mean µs per call, calls, what (units, then statements; seen 100 times or more)")
    for name in rows:
        if calls[name] >= 100:
            print(f"{spent[name] / calls[name] * 1e6:9.1f} {calls[name]:8d}  {name}")


dbmod.Tx.one = timed(statement, dbmod.Tx.one)
dbmod.Tx.all = timed(statement, dbmod.Tx.all)
dbmod.Tx.run = timed(statement, dbmod.Tx.run)
dbmod._run_unit = timed(unit, dbmod._run_unit)
dialect.claim_process = timed(lambda *_, **__: "claim_process (walk, read, update)", dialect.claim_process)
atexit.register(report)

if __name__ == "__main__":
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
