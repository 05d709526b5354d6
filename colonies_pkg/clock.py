"""Wall-clock helpers. Domain code takes `now` (Unix nanoseconds) as a parameter; only the
server shell and background loops read the clock, through here. Stdlib only."""
from __future__ import annotations

import time

NS = 1_000_000_000
ZERO_TIME = "0001-01-01T00:00:00Z"
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def now_ns() -> int:
    """Current time as integer Unix nanoseconds (0 is reserved for "unset")."""
    return time.time_ns()


def ns_after(now: int, seconds: int) -> int:
    """`now` plus `seconds` (negative: before), in ns, kept inside int64 (what SQLite and Go hold):
    a deadline a user sets absurdly far away becomes "the end of time", not an overflow."""
    return max(INT64_MIN, min(INT64_MAX, now + seconds * NS))


def format_time(ns: int) -> str:
    """RFC 3339 with nanoseconds in UTC; 0 becomes Go's zero time."""
    global _last_second
    if not ns:
        return ZERO_TIME
    secs, frac = divmod(ns, NS)
    last = _last_second
    if last[0] != secs:  # times come in runs within one second: format that part once
        last = _last_second = (secs, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)))
    return f"{last[1]}.{frac:09d}Z"


_last_second: tuple[int, str] = (-1, "")
