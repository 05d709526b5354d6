"""The Observer: in-memory tallies of what the server did, for `/metrics` and the dashboard.

Fed by hooks, never by scrapes:
- `on_commit(events)` after every COMMIT (chained in front of the Hub): lifecycle counters,
  wait/run histograms, throughput per minute, and change signals for live dashboard pages;
- `on_batch(units, seconds)` from the writer: batch size and commit latency;
- `on_rpc(msgtype, status, seconds)` from `POST /api`: requests and latency by message type;
- a refresher task that re-reads the fleet aggregates (`storage.stats.snapshot`) at start, soon
  after any change (at most once per `min_interval`, and spending at most 1/REFRESH_DUTY of the
  time on it when the tables are large), and every `reconcile` seconds.

Reading any of this is pure memory access, so a scrape never waits for the database.
Label values that come from users (colony names, executor types) are capped per label.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from bisect import bisect_left
from typing import Any

from ..domain.events import LogAdded, ProcessChanged, ProcessesRemoved
from ..models.process import ProcessState
from ..storage import Backend
from ..storage import stats as stats_store

log = logging.getLogger("colonies")

WAIT_BUCKETS = (.001, .005, .01, .05, .1, .5, 1, 5, 10, 30, 60, 300, 1800, 3600)
RUN_BUCKETS = (.01, .1, .5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400)
FAST_BUCKETS = (.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
MAX_LABEL_VALUES = 200
OTHER = "_other"
OUTCOMES: dict[int, str] = {s: s.word for s in (ProcessState.SUCCESS, ProcessState.FAILED, ProcessState.CANCELLED)}
# Write messages that change counts without a process event: refresh the aggregates after them.
STATS_MSGTYPES = frozenset({
    "addcolonymsg", "removecolonymsg", "addexecutormsg", "approveexecutormsg", "rejectexecutormsg",
    "removeexecutormsg", "removeprocessmsg", "removeallprocessesmsg", "removeprocessgraphmsg",
    "removeallprocessgraphsmsg", "submitworkflowspecmsg", "pauseassignmentsmsg", "resumeassignmentsmsg"})
STATUS_NAMES = {200: "ok", 400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                408: "timeout", 413: "too_large", 503: "unavailable"}


class Histogram:
    """Cumulative-free bucket counts; Prometheus' `le` semantics (value ≤ bound)."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value


class Family:
    """Counters or histograms of one metric, by label tuple."""

    def __init__(self, labels: tuple[str, ...], buckets: tuple[float, ...] | None = None) -> None:
        self.labels = labels
        self.buckets = buckets
        self.values: dict[tuple[str, ...], Any] = {}

    def inc(self, key: tuple[str, ...], amount: float = 1.0) -> None:
        self.values[key] = self.values.get(key, 0.0) + amount

    def observe(self, key: tuple[str, ...], value: float) -> None:
        hist = self.values.get(key)
        if hist is None:
            assert self.buckets is not None
            hist = self.values[key] = Histogram(self.buckets)
        hist.observe(value)


REFRESH_DUTY = 20  # after a refresh that took t seconds, the next one waits at least 20·t


class Observer:
    def __init__(self, db: Backend | None = None, *, min_interval: float = 0.5, reconcile: float = 10.0) -> None:
        self.db = db
        self.min_interval = min_interval
        self.reconcile = reconcile
        self.started = time.time()
        self.snapshot: stats_store.Snapshot | None = None
        self.refreshed_at = 0.0
        self.refresh_errors = 0
        self._dirty = asyncio.Event()    # something counted changed: refresh within min_interval
        self._committed = False          # some write committed: refresh at the next reconcile
        self._seen_labels: dict[str, set[str]] = collections.defaultdict(set)
        f = self.families = {
            "processes_queued_total": Family(("colony", "executor_type")),
            "processes_assigned_total": Family(("colony", "executor_type")),
            "processes_closed_total": Family(("colony", "executor_type", "outcome")),
            "processes_retried_total": Family(("colony", "executor_type", "reason")),
            "processes_deadline_expired_total": Family(("colony", "executor_type", "kind")),
            "process_wait_seconds": Family(("colony", "executor_type"), WAIT_BUCKETS),
            "process_run_seconds": Family(("colony", "executor_type", "outcome"), RUN_BUCKETS),
            "rpc_requests_total": Family(("msgtype", "status")),
            "rpc_duration_seconds": Family(("msgtype",), FAST_BUCKETS),
            "assign_request_seconds": Family(("result",), WAIT_BUCKETS),
            "db_writer_batch_units": Family((), BATCH_BUCKETS),
            "db_writer_commit_seconds": Family((), FAST_BUCKETS),
            "db_writer_units_total": Family(()),
        }
        self._f_queued = f["processes_queued_total"]
        self._f_assigned = f["processes_assigned_total"]
        self._f_closed = f["processes_closed_total"]
        self._f_retried = f["processes_retried_total"]
        self._f_expired = f["processes_deadline_expired_total"]
        self._f_wait = f["process_wait_seconds"]
        self._f_run = f["process_run_seconds"]
        # Throughput: per colony, per minute: [minute, closed successful, closed failed]
        self._minutes: dict[str, collections.deque[list[int]]] = {}
        # Live dashboard pages: a generation per colony and per watched process.
        self._colony_gen: dict[str, int] = collections.defaultdict(int)
        self._process_gen: dict[str, int] = {}
        self._watchers: collections.Counter[str] = collections.Counter()
        self._changed = asyncio.Event()
        self.closing = False  # the server is shutting down: live streams end

    # --- labels -----------------------------------------------------------------------------------
    def label(self, kind: str, value: str) -> str:
        seen = self._seen_labels[kind]
        if value in seen:
            return value
        if len(seen) >= MAX_LABEL_VALUES:
            return OTHER
        seen.add(value)
        return value

    # --- hooks ------------------------------------------------------------------------------------
    def on_commit(self, events: list[Any]) -> None:
        touched: set[str] = set()
        for ev in events:
            if isinstance(ev, ProcessChanged):
                self._process_event(ev)
                touched.add(ev.colonyname)
                if ev.processid in self._process_gen:
                    self._process_gen[ev.processid] += 1
            elif isinstance(ev, ProcessesRemoved):
                touched.add(ev.colonyname)
            elif isinstance(ev, LogAdded) and ev.processid in self._process_gen:
                self._process_gen[ev.processid] += 1
                self._signal()
        if touched:
            for colony in touched:
                self._colony_gen[colony] += 1
            self._dirty.set()
            self._signal()

    def _process_event(self, ev: ProcessChanged) -> None:
        key = (self.label("colony", ev.colonyname), self.label("executor_type", ev.executortype))
        state = ev.state
        if state == 0:
            if ev.reason:
                self._f_retried.inc((*key, ev.reason))
            elif ev.assignable:
                self._f_queued.inc(key)
        elif state == 1:
            self._f_assigned.inc(key)
            self._f_wait.observe(key, max(ev.seconds, 0.0))
        else:
            outcome = OUTCOMES.get(state, "unknown")
            self._f_closed.inc((*key, outcome))
            if ev.seconds > 0:
                self._f_run.observe((*key, outcome), ev.seconds)
            if ev.reason:
                self._f_expired.inc((*key, ev.reason))
            if state in (2, 3):
                self._tick_minute(ev.colonyname, state)

    def _tick_minute(self, colony: str, state: int) -> None:
        minute = int(time.time() // 60)
        buf = self._minutes.get(colony)
        if buf is None:
            if len(self._minutes) >= MAX_LABEL_VALUES:
                return
            buf = self._minutes[colony] = collections.deque(maxlen=60)
        if not buf or buf[-1][0] != minute:
            buf.append([minute, 0, 0])
        buf[-1][1 if state == 2 else 2] += 1

    def on_batch(self, units: int, seconds: float) -> None:
        self._committed = True
        self.families["db_writer_batch_units"].observe((), units)
        self.families["db_writer_commit_seconds"].observe((), seconds)
        self.families["db_writer_units_total"].inc((), units)

    def on_rpc(self, msgtype: str, status: int, seconds: float) -> None:
        name = STATUS_NAMES.get(status, "error")
        self.families["rpc_requests_total"].inc((msgtype or "invalid", name))
        if msgtype == "assignprocessmsg":
            result = "assigned" if status == 200 else ("timeout" if status == 404 else name)
            self.families["assign_request_seconds"].observe((result,), seconds)
        else:
            self.families["rpc_duration_seconds"].observe((msgtype or "invalid",), seconds)
        if status == 200 and msgtype in STATS_MSGTYPES:
            self.mark_dirty()

    def mark_dirty(self) -> None:
        """Something changed that no event describes (a dashboard action): refresh soon."""
        self._dirty.set()
        self._signal()

    # --- the refresher ----------------------------------------------------------------------------
    async def refresh(self) -> None:
        assert self.db is not None
        self.snapshot = await self.db.read(stats_store.snapshot)
        self.refreshed_at = time.time()

    async def run(self) -> None:
        """Load at start; then refresh soon after a change, and every `reconcile` seconds after
        writes that no event describes (retention, stale executors, bootstrap units)."""
        while True:
            self._dirty.clear()
            self._committed = False
            started = time.perf_counter()
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.refresh_errors += 1
                log.exception("statistics refresh failed; keeping the previous values")
            # a refresh counts whole tables: on a deep queue it is not free, so it takes at most
            # 1/REFRESH_DUTY of the time (the pause after it grows with what it cost)
            pause = max(self.min_interval, REFRESH_DUTY * (time.perf_counter() - started))
            while True:
                # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that arrives as
                # the event is set (a write during shutdown), and the stop then waits forever
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.reconcile):
                        await self._dirty.wait()
                if self._dirty.is_set() or self._committed:
                    break
            await asyncio.sleep(pause)

    # --- derived views --------------------------------------------------------------------------
    def statistics(self, colony: str | None = None) -> dict[str, int]:
        """The getstatisticsmsg / getcolonystatsmsg numbers from the last refresh."""
        snap = self.snapshot
        out = dict.fromkeys(("colonies", "executors", "activeexecutors", "unregisteredexecutors",
                             "waitingprocesses", "runningprocesses", "successfulprocesses", "failedprocesses",
                             "cancelledprocesses", "waitingworkflows", "runningworkflows", "successfulworkflows",
                             "failedworkflows", "cancelledworkflows"), 0)
        if snap is None:
            return out
        out["colonies"] = snap.colonies if colony is None else 1
        names = [state.word for state in ProcessState]
        for (c, _t, state), n in snap.processes.items():
            if (colony is None or c == colony) and 0 <= state <= 4:
                out[f"{names[state]}processes"] += n
        for (c, state), n in snap.workflows.items():
            if (colony is None or c == colony) and 0 <= state <= 4:
                out[f"{names[state]}workflows"] += n
        for (c, _t, state), n in snap.executors.items():
            if colony is None or c == colony:
                out["executors"] += n
                out["activeexecutors"] += n if state == 1 else 0
                out["unregisteredexecutors"] += n if state == 3 else 0
        if colony is None:
            out["executors"] -= out["unregisteredexecutors"]  # as the server-wide statistics RPC counts
        return out

    def queues(self, colony: str) -> list[dict[str, Any]]:
        """Per executor type of a colony: assignable, oldest wait, running, parked assigners (with `hub`)."""
        snap = self.snapshot
        if snap is None:
            return []
        now = time.time_ns()
        types: dict[str, dict[str, Any]] = {}
        for (c, t), (n, oldest) in snap.queues.items():
            if c == colony:
                types.setdefault(t, _queue_row(t))
                types[t].update(waiting=n, oldest_seconds=max(now - oldest, 0) / 1e9)
        for (c, t, state), n in snap.processes.items():
            if c == colony and state == 1:
                types.setdefault(t, _queue_row(t))["running"] = n
        for (c, t, state), n in snap.executors.items():
            if c == colony and state == 1:
                types.setdefault(t, _queue_row(t))["executors"] = n
        return [types[t] for t in sorted(types)]

    def throughput(self, colony: str) -> list[tuple[int, int]]:
        """(successful, failed) per minute over the last hour, oldest first."""
        now = int(time.time() // 60)
        by_minute = {m: (ok, bad) for m, ok, bad in self._minutes.get(colony, ())}
        return [by_minute.get(m, (0, 0)) for m in range(now - 59, now + 1)]

    # --- change signals for live pages ------------------------------------------------------------
    def version(self, colony: str, processid: str = "") -> tuple[int, int]:
        return self._colony_gen.get(colony, 0), self._process_gen.get(processid, 0)

    def watch(self, processid: str) -> None:
        self._watchers[processid] += 1
        self._process_gen.setdefault(processid, 0)

    def unwatch(self, processid: str) -> None:
        self._watchers[processid] -= 1
        if self._watchers[processid] <= 0:
            del self._watchers[processid]
            self._process_gen.pop(processid, None)

    def close(self) -> None:
        """Shutdown began: wake every live stream so that it ends (and the server can stop)."""
        self.closing = True
        self._signal()

    def _signal(self) -> None:
        self._changed.set()  # wakes everyone waiting on this event; later waiters get a fresh one
        self._changed = asyncio.Event()

    async def wait_changed(self, timeout: float) -> None:
        """Return after the next change anywhere, or after `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._changed.wait()


def _queue_row(executortype: str) -> dict[str, Any]:
    return {"executortype": executortype, "waiting": 0, "oldest_seconds": 0.0, "running": 0, "executors": 0}


# --- wiring (called by create_app) -------------------------------------------------------------
def setup(services: Any) -> None:
    """Create the Observer when `/metrics` or the dashboard is on."""
    if services.config.metrics or services.config.dashboard:
        services.observer = Observer()


def start(services: Any, db: Backend) -> list[asyncio.Task[None]]:
    """Hook the Observer into the open database; returns its refresher task."""
    obs: Observer | None = services.observer
    if obs is None:
        return []
    obs.db = db
    publish = db.on_commit

    def on_commit(events: list[Any]) -> None:
        if publish is not None:
            publish(events)
        obs.on_commit(events)

    db.on_commit = on_commit
    db.on_batch = obs.on_batch
    return [asyncio.create_task(obs.run(), name="colonies-stats")]


class _Lazy:
    """An ASGI app imported on its first request, so the server starts without loading it."""

    def __init__(self, services: Any, module: str) -> None:
        self.services = services
        self.module = module
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.app is None:
            import importlib

            self.app = importlib.import_module(self.module, __package__).build(self.services)
        await self.app(scope, receive, send)


def end_streams_on_exit(server: Any, app: Any) -> None:
    """Make uvicorn's exit signal also end the dashboard's open event streams at once; otherwise
    each open tab holds the graceful shutdown until its timeout."""
    original = server.handle_exit

    def handle_exit(sig: int, frame: Any) -> None:
        services = getattr(app.state, "services", None)
        observer = getattr(services, "observer", None)
        if observer is not None:
            with contextlib.suppress(RuntimeError):  # the loop may already be closed
                asyncio.get_event_loop().call_soon_threadsafe(observer.close)
        original(sig, frame)

    server.handle_exit = handle_exit


def routes(services: Any) -> list[Any]:
    from starlette.routing import Mount, Route

    out: list[Any] = []
    if services.config.metrics:
        out.append(Route("/metrics", _Lazy(services, ".metrics"), methods=["GET"]))
    if services.config.dashboard:
        out.append(Mount("/ui", app=_Lazy(services, ".ui")))
    return out
