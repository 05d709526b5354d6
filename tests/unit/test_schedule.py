"""domain/schedule.py: pure cron arithmetic (PROTOCOL §6.7). Time is always a parameter.

* cron expressions: 6 fields with seconds first (5 fields = classic with seconds 0),
  descriptors, ``@every <Go duration>``, ``TZ=``/``CRON_TZ=`` prefixes;
* properties (Hypothesis): next(t) > t, monotone, agrees with croniter's classic 5-field
  schedule for ``0 <5 fields>`` in UTC, ``0/1 * * * * *`` rounds up to the next whole second;
* interval windows anchored at the add time: a plain interval cron fires at window starts; a
  random one fires exactly once inside each window, uniformly spread.
"""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from colonies_pkg.clock import NS
from colonies_pkg.domain.schedule import CronSpec, next_run, parse_duration, validate
from colonies_pkg.errors import BadRequest

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T2023 = 1_700_000_000 * NS  # 2023-11-14T22:13:20Z, a Tuesday


def utc(iso: str) -> int:
    """Unix ns of an ISO time (taken as UTC)."""
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()) * NS


def iso(ns: int) -> str:
    return (EPOCH + timedelta(microseconds=ns // 1000)).strftime("%Y-%m-%dT%H:%M:%S")


def nxt(expr: str, t: int) -> int:
    return CronSpec(expr).next_after(t)


# Times between 2001 and 2096, at microsecond resolution (sub-microsecond times: see the xfail
# test_sub_microsecond_times_are_not_rounded_up below).
micro_times = st.integers(1_000_000_000 * 1_000_000, 4_000_000_000 * 1_000_000).map(lambda us: us * 1000)
ns_times = st.integers(1_000_000_000 * NS, 4_000_000_000 * NS)


# --- cron expression strategies ---------------------------------------------------------------
def field(lo: int, hi: int) -> st.SearchStrategy[str]:
    """One cron field over [lo, hi]: *, N, a-b, a,b, */n, a-b/n, N/n."""
    n = st.integers(lo, hi)
    step = st.integers(1, max(1, (hi - lo) // 2 + 1))

    def rng(a: int, b: int) -> str:
        a, b = min(a, b), max(a, b)
        return f"{a}-{b}"

    return st.one_of(
        st.just("*"),
        n.map(str),
        st.builds(rng, n, n),
        st.lists(n, min_size=2, max_size=4, unique=True).map(lambda xs: ",".join(map(str, sorted(xs)))),
        step.map(lambda s: f"*/{s}"),
        st.builds(lambda a, b, s: f"{rng(a, b)}/{s}", n, n, step),
        st.builds(lambda a, s: f"{a}/{s}", n, step),
    )


# days of month limited to 1..28 so that every expression matches some date
five_fields = st.tuples(field(0, 59), field(0, 23), field(1, 28), field(1, 12), field(0, 6)).map(" ".join)
zones = st.sampled_from(["UTC", "Europe/Stockholm", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"])


def croniter_next_utc(five: str, t: int) -> int:
    """croniter's classic 5-field next fire time strictly after t (in UTC)."""
    start = EPOCH + timedelta(microseconds=t // 1000)
    return int(croniter(five, start).get_next(datetime).timestamp()) * NS


# --- properties ----------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(five=five_fields, t=micro_times)
def test_matches_croniter_for_the_five_field_subset(five: str, t: int) -> None:
    assert nxt(f"TZ=UTC 0 {five}", t) == croniter_next_utc(five, t)


@settings(max_examples=200, deadline=None)
@given(five=five_fields, t=micro_times)
def test_five_fields_mean_seconds_zero(five: str, t: int) -> None:
    assert nxt(f"TZ=UTC {five}", t) == nxt(f"TZ=UTC 0 {five}", t)


@settings(max_examples=300, deadline=None)
@given(sec=field(0, 59), five=five_fields, zone=zones, t=micro_times)
def test_next_is_strictly_after(sec: str, five: str, zone: str, t: int) -> None:
    n = nxt(f"TZ={zone} {sec} {five}", t)
    assert n > t
    assert n % NS == 0  # cron times are whole seconds


@settings(max_examples=300, deadline=None)
@given(sec=field(0, 59), five=five_fields, zone=zones, t1=micro_times,
       d=st.one_of(st.integers(0, 3_000_000), st.integers(0, 40 * 86_400 * 1_000_000)))
def test_next_is_monotone(sec: str, five: str, zone: str, t1: int, d: int) -> None:
    expr = f"TZ={zone} {sec} {five}"
    t2 = t1 + d * 1000
    assert nxt(expr, t1) <= nxt(expr, t2)


@settings(max_examples=300, deadline=None)
@given(t=micro_times)
def test_every_second_rounds_up_to_the_next_whole_second(t: int) -> None:
    assert nxt("0/1 * * * * *", t) == (t // NS + 1) * NS
    assert nxt("* * * * * *", t) == (t // NS + 1) * NS


@settings(max_examples=200, deadline=None)
@given(t=micro_times, zone=zones)
def test_every_second_is_the_same_in_every_zone(t: int, zone: str) -> None:
    assert nxt(f"TZ={zone} 0/1 * * * * *", t) == (t // NS + 1) * NS
    assert nxt(f"CRON_TZ={zone} 0/1 * * * * *", t) == (t // NS + 1) * NS


def test_every_second_chain_has_no_gaps() -> None:
    t, seen = T2023 + 123_456_000, []
    for _ in range(500):
        t = nxt("0/1 * * * * *", t)
        seen.append(t)
    assert [b - a for a, b in pairwise(seen)] == [NS] * 499


@pytest.mark.parametrize("before", [1, 250, 499])
def test_sub_microsecond_times_are_not_rounded_up(before: int) -> None:
    t = T2023 - before
    assert nxt("0/1 * * * * *", t) == T2023
    assert nxt("TZ=UTC 20 13 22 * * *", t) == T2023  # 22:13:20 is exactly T2023


@settings(max_examples=300, deadline=None)
@given(t=ns_times)
def test_every_second_at_ns_resolution_away_from_the_boundary(t: int) -> None:
    """Nanosecond times not in the last microsecond before a second boundary."""
    if NS - t % NS <= 1000:
        t -= 1000
    assert nxt("0/1 * * * * *", t) == (t // NS + 1) * NS


# --- examples from the guide -------------------------------------------------------------------
@pytest.mark.parametrize("expr, after, expected", [
    ("0/5 * * * * *", "2023-11-14T22:13:20", ["2023-11-14T22:13:25", "2023-11-14T22:13:30", "2023-11-14T22:13:35"]),
    ("0/5 * * * * *", "2023-11-14T22:13:21", ["2023-11-14T22:13:25", "2023-11-14T22:13:30"]),
    ("0/2 * * * * *", "2023-11-14T22:13:59", ["2023-11-14T22:14:00", "2023-11-14T22:14:02"]),
    ("30 * * * * *", "2023-11-14T22:13:20", ["2023-11-14T22:13:30", "2023-11-14T22:14:30"]),
    ("59 3 15 * * MON", "2023-11-14T22:13:20", ["2023-11-20T15:03:59", "2023-11-27T15:03:59"]),
    ("59 3 15 * * MON", "2023-11-20T15:03:59", ["2023-11-27T15:03:59"]),
    ("0 0 15 24 12 *", "2023-11-14T22:13:20", ["2023-12-24T15:00:00", "2024-12-24T15:00:00"]),
    ("0 0 15 24 12 *", "2023-12-24T15:00:00", ["2024-12-24T15:00:00"]),
    ("@daily", "2023-11-14T22:13:20", ["2023-11-15T00:00:00", "2023-11-16T00:00:00"]),
    ("@midnight", "2023-11-14T22:13:20", ["2023-11-15T00:00:00"]),
    ("@hourly", "2023-11-14T22:13:20", ["2023-11-14T23:00:00", "2023-11-15T00:00:00"]),
    ("@weekly", "2023-11-14T22:13:20", ["2023-11-19T00:00:00"]),  # Sunday
    ("@monthly", "2023-11-14T22:13:20", ["2023-12-01T00:00:00", "2024-01-01T00:00:00"]),
    ("@yearly", "2023-11-14T22:13:20", ["2024-01-01T00:00:00"]),
    ("@annually", "2023-11-14T22:13:20", ["2024-01-01T00:00:00"]),
    ("*/15 * * * *", "2023-11-14T22:13:20", ["2023-11-14T22:15:00", "2023-11-14T22:30:00"]),  # 5 fields
    ("0 0 12 * * sun", "2023-11-14T22:13:20", ["2023-11-19T12:00:00"]),
    ("0 0 0 1 jan *", "2023-11-14T22:13:20", ["2024-01-01T00:00:00"]),
    ("0 0 0 ? * 0", "2023-11-14T22:13:20", ["2023-11-19T00:00:00"]),
])
def test_guide_examples(expr: str, after: str, expected: list[str]) -> None:
    spec, t, got = CronSpec(f"TZ=UTC {expr}"), utc(after), []
    for _ in expected:
        t = spec.next_after(t)
        got.append(iso(t))
    assert got == expected


def test_every_descriptor_is_a_fixed_period() -> None:
    assert nxt("@every 10s", T2023) == T2023 + 10 * NS
    assert nxt("@every 1m30s", T2023 + 7) == T2023 + 7 + 90 * NS
    assert nxt("@every 500ms", T2023) == T2023 + 500_000_000
    assert nxt("TZ=Europe/Stockholm @every 2h", T2023) == T2023 + 7200 * NS


@pytest.mark.parametrize("text, ns", [
    ("10s", 10 * NS), ("1m30s", 90 * NS), ("2h", 7200 * NS), ("500ms", 500_000_000), ("1.5s", 1_500_000_000),
    ("1h2m3s", 3723 * NS), ("250us", 250_000), ("250µs", 250_000), ("7ns", 7), (" 3s ", 3 * NS),
])
def test_parse_duration(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


def test_time_zone_prefix_shifts_the_schedule() -> None:
    t = utc("2023-11-14T12:00:00")
    assert iso(nxt("TZ=UTC 0 0 2 * * *", t)) == "2023-11-15T02:00:00"
    assert iso(nxt("TZ=Europe/Stockholm 0 0 2 * * *", t)) == "2023-11-15T01:00:00"  # CET = UTC+1
    assert iso(nxt("CRON_TZ=America/New_York 0 0 2 * * *", t)) == "2023-11-15T07:00:00"  # EST = UTC-5
    assert iso(nxt("CRON_TZ=Asia/Kolkata 0 30 5 * * *", t)) == "2023-11-15T00:00:00"  # UTC+5:30


def test_day_of_month_and_day_of_week_or_when_both_given() -> None:
    # 13th of the month OR a Friday (robfig/Vixie semantics): from Tue 2023-11-14 the next is Fri 17th
    assert iso(nxt("TZ=UTC 0 0 0 13 * FRI", utc("2023-11-14T00:00:00"))) == "2023-11-17T00:00:00"
    # with dow '*', only the day of month counts
    assert iso(nxt("TZ=UTC 0 0 0 13 * *", utc("2023-11-14T00:00:00"))) == "2023-12-13T00:00:00"


# --- validation -----------------------------------------------------------------------------------
@pytest.mark.parametrize("expr, words", [
    ("", ["cron expression or an interval"]),
    ("every second", ["'every second'", "6 fields"]),
    ("* * * *", ["'* * * *'", "6 fields"]),
    ("* * * * * * *", ["6 fields"]),
    ("61 * * * * *", ["'61 * * * * *'"]),
    ("0 60 * * * *", ["'0 60 * * * *'"]),
    ("0 0 25 * * *", ["'0 0 25 * * *'"]),
    ("0 0 0 32 * *", ["'0 0 0 32 * *'"]),
    ("0 0 0 * 13 *", ["'0 0 0 * 13 *'"]),
    ("0 0 0 * * FOO", ["'0 0 0 * * FOO'"]),
    ("@fortnightly", ["'@fortnightly'"]),
    ("@every", ["duration"]),
    ("@every 0s", ["duration", "'0s'"]),
    ("@every 10", ["duration", "'10'"]),
    ("@every 10x", ["duration", "'10x'"]),
    ("@every -5s", ["duration"]),
    ("TZ=Mars/Olympus * * * * * *", ["time zone", "Mars/Olympus"]),
    ("CRON_TZ=Nowhere 0 0 * * * *", ["time zone", "Nowhere"]),
])
def test_invalid_expressions_raise_bad_request_naming_the_problem(expr: str, words: list[str]) -> None:
    with pytest.raises(BadRequest) as info:
        validate(expr, -1, False)
    assert info.value.status == 400
    for w in words:
        assert w in info.value.message, info.value.message


@pytest.mark.parametrize("interval", [0, -2, -100])
def test_invalid_intervals(interval: int) -> None:
    with pytest.raises(BadRequest, match="Cron interval must be -1 \\(disabled\\) or larger than 0"):
        validate("", interval, False)
    with pytest.raises(BadRequest, match="interval"):
        validate("0/1 * * * * *", interval, True)


def test_random_needs_an_interval() -> None:
    with pytest.raises(BadRequest, match="Random cron is only supported when specifying intervals"):
        validate("0/1 * * * * *", -1, True)


def test_neither_expression_nor_interval() -> None:
    with pytest.raises(BadRequest, match="cron expression or an interval"):
        validate("", -1, False)


@pytest.mark.parametrize("expr, interval, random_", [
    ("0/1 * * * * *", -1, False), ("*/15 * * * *", -1, False), ("@daily", -1, False), ("@every 10s", -1, False),
    ("TZ=UTC 0 0 3 * * *", -1, False), ("", 5, False), ("", 1, True), ("ignored when interval > 0", 10, False),
])
def test_valid_schedules(expr: str, interval: int, random_: bool) -> None:
    validate(expr, interval, random_)


# --- interval windows -------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(interval=st.integers(1, 3600), anchor=micro_times, offset=st.integers(-10 * NS, 10_000 * NS))
def test_plain_interval_fires_at_the_next_window_start(interval: int, anchor: int, offset: int) -> None:
    now = anchor + offset
    n = next_run("", interval, False, anchor, now)
    step = interval * NS
    assert n > now
    assert (n - anchor) % step == 0
    assert n - step <= now or n == anchor  # the first window start after now


def test_plain_interval_sequence_is_anchored_not_drifting() -> None:
    anchor, step = T2023 + 123_456_789, 2 * NS
    assert next_run("", 2, False, anchor, anchor) == anchor + step  # added now: first run one interval later
    now, fires = anchor, []
    for k in range(1, 200):
        n = next_run("", 2, False, anchor, now)
        fires.append(n)
        now = n + random.Random(k).randrange(0, 900_000_000)  # scheduler latency < 1 interval
    assert fires == [anchor + k * step for k in range(1, 200)]


def test_plain_interval_after_a_long_pause_skips_to_the_next_window() -> None:
    anchor = T2023
    assert next_run("", 10, False, anchor, anchor + 3600 * NS + 1) == anchor + 3610 * NS
    assert next_run("", 10, False, anchor, anchor + 3600 * NS) == anchor + 3610 * NS


def simulate_random(interval: int, anchor: int, windows: int, seed: int) -> list[int]:
    """Fire a random interval cron at each of its next runs; returns the fire times."""
    rng, now, fires = random.Random(seed), anchor, []
    while True:
        n = next_run("", interval, True, anchor, now, rng)
        assert n > now
        if n >= anchor + (windows + 1) * interval * NS:
            return fires
        fires.append(n)
        now = n


@settings(max_examples=100, deadline=None)
@given(interval=st.integers(1, 100), anchor=micro_times, seed=st.integers(0, 2**32))
def test_random_interval_fires_exactly_once_per_window(interval: int, anchor: int, seed: int) -> None:
    step = interval * NS
    fires = simulate_random(interval, anchor, 50, seed)
    windows = [(f - anchor) // step for f in fires]
    assert windows == list(range(1, 51))  # window 0 is the one the cron was added in


@settings(max_examples=100, deadline=None)
@given(interval=st.integers(1, 100), anchor=micro_times, seed=st.integers(0, 2**32),
       gaps=st.lists(st.floats(0.0, 5.0), min_size=1, max_size=30))
def test_random_interval_late_scheduler_never_fires_twice_in_a_window(
        interval: int, anchor: int, seed: int, gaps: list[float]) -> None:
    """Whatever the (late) wake-ups, fires land in strictly increasing windows."""
    rng, step, now, windows = random.Random(seed), interval * NS, anchor, []
    due = next_run("", interval, True, anchor, now, rng)
    for g in gaps:
        now = max(now, due) + int(g * step)  # the scheduler wakes at or after the due time
        windows.append((now - anchor) // step if now >= due else None)
        due = next_run("", interval, True, anchor, now, rng)
        assert due > now
        assert (due - anchor) // step == (now - anchor) // step + 1  # next run is in the next window
    assert all(w is not None for w in windows)
    assert windows == sorted(set(windows))


def test_random_interval_is_uniform_inside_windows() -> None:
    interval, anchor, bins, n = 10, T2023 + 777, 10, 4000
    step = interval * NS
    fires = simulate_random(interval, anchor, n, seed=20240601)
    assert len(fires) == n
    counts = [0] * bins
    for f in fires:
        counts[((f - anchor) % step) * bins // step] += 1
    expected = n / bins
    chi2 = sum((c - expected) ** 2 / expected for c in counts)
    assert chi2 < 27.9, counts  # p ≈ 0.001 for 9 degrees of freedom
    assert min(counts) > 0.75 * expected and max(counts) < 1.25 * expected, counts


def test_random_interval_is_reproducible_with_a_seeded_rng() -> None:
    a = simulate_random(5, T2023, 30, seed=7)
    b = simulate_random(5, T2023, 30, seed=7)
    c = simulate_random(5, T2023, 30, seed=8)
    assert a == b
    assert a != c


def test_next_run_dispatches_on_interval() -> None:
    assert next_run("0/1 * * * * *", -1, False, 0, T2023 + 5) == T2023 + NS
    assert next_run("@every 3s", -1, False, T2023, T2023) == T2023 + 3 * NS  # anchored like intervals
    assert next_run("0/1 * * * * *", 7, False, T2023, T2023) == T2023 + 7 * NS  # interval wins


@pytest.mark.parametrize("text", ["99999999999h", "9" * 400 + "h", "876001h"])
def test_durations_beyond_100_years_are_refused(text: str) -> None:
    with pytest.raises(BadRequest):
        parse_duration(text)


def test_interval_beyond_100_years_is_refused() -> None:
    validate("", 100 * 365 * 86_400, False)
    with pytest.raises(BadRequest):
        validate("", 100 * 365 * 86_400 + 1, False)
