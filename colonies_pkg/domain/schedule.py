"""Pure schedule arithmetic for crons (PROTOCOL §6.7): when does a cron fire next?

Cron expressions have 6 fields with **seconds first** (`sec min hour dom month dow`, robfig/cron
semantics), or the classic 5 (then seconds = 0); descriptors `@yearly` … `@hourly` and
`@every <Go duration>`; an optional `TZ=Zone ` / `CRON_TZ=Zone ` prefix (default: the server's
local zone). Everything here is a function of its arguments: time is a parameter.
"""
from __future__ import annotations

import random as _random
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..clock import NS
from ..errors import BadRequest

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": NS, "m": 60 * NS, "h": 3600 * NS}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_INTERVAL = 100 * 365 * 86_400  # seconds: beyond this a next run would overflow int64 nanoseconds
_DESCRIPTORS = {"@yearly": "0 0 0 1 1 *", "@annually": "0 0 0 1 1 *", "@monthly": "0 0 0 1 * *",
                "@weekly": "0 0 0 * * 0", "@daily": "0 0 0 * * *", "@midnight": "0 0 0 * * *",
                "@hourly": "0 0 * * * *"}


def parse_duration(text: str) -> int:
    """A Go duration ("10s", "1m30s", "500ms", "2h") in nanoseconds."""
    text = text.strip()
    pos, total = 0, 0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        value = float(m.group(1)) * _UNITS_NS[m.group(2)]
        if value > MAX_INTERVAL * NS:  # also inf, from hundreds of digits
            raise BadRequest(f"Invalid duration {text!r}: at most 100 years")
        total += int(value)
        pos = m.end()
    if pos != len(text) or not text or total <= 0:
        raise BadRequest(f"Invalid duration {text!r}, use e.g. 10s, 1m30s or 2h")
    if total > MAX_INTERVAL * NS:
        raise BadRequest(f"Invalid duration {text!r}: at most 100 years")
    return total


class CronSpec:
    """A parsed cron expression: either a fixed period or a croniter expression in a zone."""

    def __init__(self, expression: str) -> None:
        expr = expression.strip()
        self.zone = None
        m = re.match(r"(?:CRON_TZ|TZ)=(\S+)\s+(.*)", expr)
        if m:
            try:
                self.zone = ZoneInfo(m.group(1))
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise BadRequest(f"Invalid cron expression {expression!r}: unknown time zone {m.group(1)}") from exc
            expr = m.group(2).strip()
        self.every_ns = 0
        if expr.startswith("@every"):
            self.every_ns = parse_duration(expr[len("@every"):])
            self.expr = ""
            return
        expr = _DESCRIPTORS.get(expr.lower(), expr)
        fields = expr.split()
        if len(fields) == 5:
            fields = ["0", *fields]
        if len(fields) != 6:
            raise BadRequest(f"Invalid cron expression {expression!r}: expected 6 fields "
                             "(second minute hour day-of-month month day-of-week) or a descriptor such as @daily")
        self.expr = " ".join(fields)
        from croniter import croniter  # on use: start-up does not need it

        if not croniter.is_valid(self.expr, second_at_beginning=True):
            raise BadRequest(f"Invalid cron expression {expression!r}")

    def next_after(self, after_ns: int) -> int:
        """The first fire time strictly after `after_ns` (Unix ns)."""
        if self.every_ns:
            return after_ns + self.every_ns
        # integer arithmetic: a float timestamp can round a time just before a second up to it
        start = _EPOCH + timedelta(microseconds=after_ns // 1000)
        start = start.astimezone(self.zone) if self.zone else start.astimezone()
        from croniter import croniter

        nxt = croniter(self.expr, start, second_at_beginning=True).get_next(datetime)
        result = int(nxt.timestamp()) * NS
        if result <= after_ns:  # croniter works in whole seconds; never return the same instant
            nxt = croniter(self.expr, nxt, second_at_beginning=True).get_next(datetime)
            result = int(nxt.timestamp()) * NS
        return result


def validate(expression: str, interval: int, random: bool) -> None:
    """The 400s of addcronmsg for a bad schedule."""
    if interval == 0 or interval < -1:
        raise BadRequest("Cron interval must be -1 (disabled) or larger than 0")
    if interval > MAX_INTERVAL:
        raise BadRequest(f"Cron interval must be at most {MAX_INTERVAL} seconds (100 years)")
    if interval == -1:
        if random:
            raise BadRequest("Random cron is only supported when specifying intervals")
        if not expression:
            raise BadRequest("Failed to add cron, a cron expression or an interval is required")
        CronSpec(expression)


def next_run(expression: str, interval: int, random: bool, anchor: int, now: int,
             rng: _random.Random | None = None) -> int:
    """When a cron fires next after `now`.

    Intervals count from `anchor` (the time the cron was added): windows [anchor + k·i, anchor +
    (k+1)·i). A plain interval cron fires at the start of the next window; a random one at a
    uniformly random moment inside the next window, so it fires exactly once per window.
    """
    spec = CronSpec(expression) if interval <= 0 else None
    if spec is not None and spec.every_ns:  # "@every d" is a period: anchored like an interval
        step = spec.every_ns
        k = (now - anchor) // step + 1 if now >= anchor else 0
        start = anchor + k * step
        return start if start > now else start + step
    if interval > 0:
        step = interval * NS
        k = (now - anchor) // step + 1 if now >= anchor else 0
        start = anchor + k * step
        if not random:
            return start if start > now else start + step
        offset = int((rng or _random).random() * step)
        return start + offset if start + offset > now else start + step + offset
    assert spec is not None
    return spec.next_after(now)
