"""Wall-clock helpers. Domain code takes `now` (Unix nanoseconds) as a parameter; only the
server shell and background loops read the clock, through here. Stdlib only."""
from __future__ import annotations

import time

NS = 1_000_000_000
ZERO_TIME = "0001-01-01T00:00:00Z"


def now_ns() -> int:
    """Current time as integer Unix nanoseconds (0 is reserved for "unset")."""
    return time.time_ns()


def format_time(ns: int) -> str:
    """RFC 3339 with nanoseconds in UTC; 0 becomes Go's zero time."""
    if not ns:
        return ZERO_TIME
    secs, frac = divmod(ns, NS)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"
