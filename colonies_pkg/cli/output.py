"""CLI output helpers: logrus-style INFO/WARN lines, JSON, times, durations and value cells.

`info("Process submitted", ProcessId=pid)` prints `INFO[0000] Process submitted  ProcessId=<pid>`
to stderr, as the Go CLI's logger does (fields sorted by name, quoted when needed).
"""
from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..models.log import Log

_START = time.monotonic()
_PLAIN = re.compile(r"^[A-Za-z0-9\-._/@^+]*$")


def _value(v: object) -> str:
    text = v if isinstance(v, str) else json.dumps(v) if isinstance(v, (list, dict)) else str(v)
    return text if text and _PLAIN.match(text) else json.dumps(text)


def _log(level: str, msg: str, fields: Mapping[str, object]) -> None:
    elapsed = int(time.monotonic() - _START)
    line = f"{level}[{elapsed:04d}] {msg}"
    if fields:
        line = f"{line:<55} " + " ".join(f"{k}={_value(v)}" for k, v in sorted(fields.items()))
    print(line.rstrip(), file=sys.stderr, flush=True)


def info(msg: str, **fields: object) -> None:
    _log("INFO", msg, fields)


def warn(msg: str, **fields: object) -> None:
    _log("WARN", msg, fields)


def debug(msg: str, **fields: object) -> None:
    _log("DEBU", msg, fields)


def error(msg: str, **fields: object) -> None:
    _log("ERRO", msg, fields)


def print_json(obj: object) -> None:
    """Indented JSON of a reply: plain JSON, or model/reply Structs (under their wire names)."""
    import msgspec

    obj = msgspec.to_builtins(obj)
    print(json.dumps(obj, indent=2, ensure_ascii=False))


# --- values in tables --------------------------------------------------------------------------
ZERO_TIME_TEXT = "0001-01-01 00:00:00"


def parse_time(text: str | None) -> datetime | None:
    """An RFC 3339 timestamp (any fraction length, Z or offset); None for empty or Go's zero time."""
    if not text or text.startswith("0001-01-01"):
        return None
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$", text.strip())
    if not m:
        return None
    frac = (m.group(2) or "")[:7]
    zone = m.group(3) or "Z"
    zone = "+00:00" if zone == "Z" else zone
    try:
        return datetime.fromisoformat(m.group(1) + frac + zone)
    except ValueError:
        return None


def fmt_time(text: str | None) -> str:
    """Local time as `YYYY-MM-DD HH:MM:SS`, like the Go CLI; Go's zero time stays year 1."""
    t = parse_time(text)
    return ZERO_TIME_TEXT if t is None else fmt_datetime(t)


def fmt_datetime(when: datetime) -> str:
    """`fmt_time` of a decoded timestamp (a reply Struct's `Time` field)."""
    if when.year <= 1:
        return ZERO_TIME_TEXT
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def fmt_ns(ns: int) -> str:
    """Unix nanoseconds (log timestamps) as local time."""
    if not ns:
        return ZERO_TIME_TEXT
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ns / 1e9))


def go_duration(seconds: float) -> str:
    """A duration the way Go's time.Duration prints it: 1h2m3.5s, 2m14.682235s, 53.002228s, 0s."""
    if seconds <= 0:
        return "0s"
    ns = round(seconds * 1e9)
    hours, rest = divmod(ns, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    secs, frac = divmod(rest, 10**9)
    if not hours and not minutes and not secs:
        if frac >= 10**6:
            return f"{frac / 1e6:.6f}".rstrip("0").rstrip(".") + "ms"
        return f"{frac / 1e3:.3f}".rstrip("0").rstrip(".") + "µs"
    s = f"{secs}.{frac:09d}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{s}"
    if minutes:
        return f"{minutes}m{s}"
    return s


def elapsed(start: str | None, end: str | None) -> str:
    """Go-style duration between two timestamps; `end` unset means now; unset `start` → 0s."""
    t0 = parse_time(start)
    if t0 is None:
        return "0s"
    t1 = parse_time(end) or datetime.now(t0.tzinfo)
    return go_duration((t1 - t0).total_seconds())


def scalar(v: object) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def fmt_args(args: Iterable[object] | None) -> str:
    """Function args as the Go CLI shows them: space-separated, `None` when empty."""
    if not args:
        return "None"
    return " ".join(scalar(a) for a in args)


def fmt_kwargs(kwargs: Mapping[str, object] | None) -> str:
    """Keyword args as `key:value` pairs sorted by key, `None` when empty."""
    if not kwargs:
        return "None"
    return " ".join(f"{k}:{scalar(v)}" for k, v in sorted(kwargs.items()))


def fmt_list(values: Iterable[object] | None, empty: str = "") -> str:
    if not values:
        return empty
    return " ".join(scalar(v) for v in values)


def write_logs(logs: Sequence[Log]) -> None:
    """Log messages as they are, each ending a line (`log add -m text` stores no newline)."""
    for entry in logs:
        message = entry.message
        sys.stdout.write(message if message.endswith("\n") else message + "\n")
    sys.stdout.flush()


def print_values(values: Iterable[object] | None) -> None:
    """Process output/input, one value per line (strings as they are, others as JSON)."""
    for v in values or []:
        print(scalar(v))
