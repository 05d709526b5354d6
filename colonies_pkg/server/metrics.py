"""`GET /metrics`: the Observer's numbers in the Prometheus text format (prometheus_client).

Imported on the first scrape only. A scrape reads memory (the Observer, the Hub, loop tallies)
and never the database. Go's ten gauges keep their names and meaning (fleet-wide, unlabelled);
the labelled families are ours, all prefixed `colonies_`.
"""
from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, exposition, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import request_response
from starlette.types import ASGIApp

from .. import loops
from ..models.executor import ExecutorState
from ..models.process import ProcessState
from .context import Services
from .observe import Family, Observer

# The classic text format every Prometheus version reads (newer clients default to 1.0.0).
CONTENT_TYPE = getattr(exposition, "CONTENT_TYPE_PLAIN_0_0_4", CONTENT_TYPE_LATEST)
STATES = tuple(state.word for state in ProcessState)
EXECUTOR_STATES = tuple(state.word for state in ExecutorState)
# Go's gauges (pkg/monitoring/monitoring_server.go) and the four statistics Go leaves out.
GO_GAUGES = (
    ("colonies_server_colonies", "colonies", "Number of colonies"),
    ("colonies_server_executors", "executors", "Number of registered executors"),
    ("colonies_server_executors_active", "activeexecutors", "Number of approved executors"),
    ("colonies_server_executors_unregistered", "unregisteredexecutors", "Number of unregistered executors"),
    ("colonies_server_processes_waiting", "waitingprocesses", "Number of waiting processes"),
    ("colonies_server_processes_running", "runningprocesses", "Number of running processes"),
    ("colonies_server_processes_successful", "successfulprocesses", "Number of successful processes"),
    ("colonies_server_processes_failed", "failedprocesses", "Number of failed processes"),
    ("colonies_server_processes_cancelled", "cancelledprocesses", "Number of cancelled processes"),
    ("colonies_server_workflows_waiting", "waitingworkflows", "Number of waiting workflows"),
    ("colonies_server_workflows_running", "runningworkflows", "Number of running workflows"),
    ("colonies_server_workflows_successful", "successfulworkflows", "Number of successful workflows"),
    ("colonies_server_workflows_failed", "failedworkflows", "Number of failed workflows"),
    ("colonies_server_workflows_cancelled", "cancelledworkflows", "Number of cancelled workflows"),
)
HELP = {
    "processes_queued_total": "Processes that became assignable (submitted, or released when their parents finished)",
    "processes_assigned_total": "Processes assigned to an executor",
    "processes_closed_total": "Processes closed, by outcome (successful, failed, cancelled)",
    "processes_retried_total": "Running processes put back in the queue (retry: max exec time; executor_gone)",
    "processes_deadline_expired_total": "Processes failed by a deadline (max_exec_time with no retries left, max_wait_time)",
    "process_wait_seconds": "Time from submission (or release) to assignment",
    "process_run_seconds": "Time from assignment to close",
    "rpc_requests_total": "RPC requests by message type and status",
    "rpc_duration_seconds": "RPC handling time by message type (assign long-polls excluded)",
    "assign_request_seconds": "Whole assign calls including parking, by result",
    "db_writer_batch_units": "Units of work per writer COMMIT (group commit)",
    "db_writer_commit_seconds": "Writer batch time, BEGIN IMMEDIATE to COMMIT (fsync included)",
    "db_writer_units_total": "Units of work run by the writer",
}


def _histogram(name: str, fam: Family) -> Metric:
    metric = HistogramMetricFamily(name, HELP.get(name.removeprefix("colonies_"), name), labels=fam.labels)
    assert fam.buckets is not None
    for key, hist in sorted(fam.values.items()):
        cumulative, buckets = 0, []
        for bound, count in zip((*fam.buckets, float("inf")), hist.counts, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(float(bound)), cumulative))
        metric.add_metric(list(key), buckets, hist.sum)
    return metric


class ColoniesCollector:
    def __init__(self, services: Services, observer: Observer) -> None:
        self.services = services
        self.observer = observer

    def collect(self) -> Iterator[Metric]:
        obs, hub = self.observer, self.services.hub
        stats = obs.statistics()
        for name, field, text in GO_GAUGES:
            yield GaugeMetricFamily(name, text, value=stats[field])
        yield GaugeMetricFamily("colonies_stats_refresh_timestamp_seconds",
                                "When the gauges above were last read from the database", value=obs.refreshed_at)
        yield CounterMetricFamily("colonies_stats_refresh_errors", "Failed statistics refreshes",
                                  value=obs.refresh_errors)
        yield from self._fleet(obs, hub)
        for name, fam in obs.families.items():
            full = f"colonies_{name}"
            if fam.buckets is not None:
                yield _histogram(full, fam)
            else:
                metric = CounterMetricFamily(full, HELP.get(name, name), labels=fam.labels)
                for key, value in sorted(fam.values.items()):
                    metric.add_metric(list(key), value)
                yield metric
        subs = GaugeMetricFamily("colonies_ws_subscribers", "Live WebSocket subscriptions", labels=["kind"])
        for kind, n in sorted(hub.subscriber_counts().items()):
            subs.add_metric([kind], n)
        yield subs
        channels = getattr(self.services, "channels", None)
        if channels is not None:
            held = channels.stats()
            yield GaugeMetricFamily("colonies_channels", "Process channels held in memory", value=held["channels"])
            yield GaugeMetricFamily("colonies_channel_entries", "Messages held in process channels",
                                    value=held["entries"])
            yield GaugeMetricFamily("colonies_channel_bytes", "Bytes held in process channels", value=held["bytes"])
        queue = getattr(self.services.db, "_queue", None)
        yield GaugeMetricFamily("colonies_db_writer_queue_depth", "Units waiting for the writer",
                                value=queue.qsize() if queue is not None else 0)
        yield from self._replication()
        runs = CounterMetricFamily("colonies_loop_runs", "Background loop iterations", labels=["loop"])
        errors = CounterMetricFamily("colonies_loop_errors", "Background loop iterations that failed", labels=["loop"])
        for name in sorted(set(loops.loop_runs) | set(loops.loop_errors)):
            runs.add_metric([name], loops.loop_runs[name])
            errors.add_metric([name], loops.loop_errors[name])
        yield runs
        yield errors
        from .. import __version__

        info = GaugeMetricFamily("colonies_build_info", "Build of this server", labels=["version", "python"])
        info.add_metric([self.services.config.build_version or __version__, sys.version.split()[0]], 1)
        yield info

    def _replication(self) -> Iterator[Metric]:
        """With PostgreSQL: the connection pool, retried units, the NOTIFY bridge and the lease."""
        services = self.services
        db = services.db
        if not db.replicated:
            return
        pool = db.stats()
        yield GaugeMetricFamily("colonies_db_pool_size", "Open connections in the PostgreSQL pool",
                                value=pool.get("pool_size", 0))
        yield GaugeMetricFamily("colonies_db_pool_available", "Idle connections in the PostgreSQL pool",
                                value=pool.get("pool_available", 0))
        yield GaugeMetricFamily("colonies_db_pool_requests_waiting", "Units waiting for a pool connection",
                                value=pool.get("requests_waiting", 0))
        yield CounterMetricFamily("colonies_db_pool_timeouts", "Units that gave up waiting for a pool connection",
                                  value=pool.get("requests_errors", 0))
        yield CounterMetricFamily("colonies_db_tx_retries", "Units run again after a serialization failure or deadlock",
                                  value=pool.get("tx_retries", 0))
        bridge = services.bridge
        if bridge is not None:
            yield CounterMetricFamily("colonies_replica_notifications_sent",
                                      "NOTIFY payloads sent to other replicas", value=bridge.sent)
            yield CounterMetricFamily("colonies_replica_notifications_received",
                                      "Notifications received from other replicas", value=bridge.received)
            yield CounterMetricFamily("colonies_replica_listener_reconnects",
                                      "Times the LISTEN connection was re-established", value=bridge.reconnects)
        if services.leader is not None:
            yield GaugeMetricFamily("colonies_replica_leader",
                                    "1 while this replica holds the leader lease (crons, generators, retention)",
                                    value=int(services.leader.is_leader()))

    def _fleet(self, obs: Observer, hub: Any) -> Iterator[Metric]:
        snap = obs.snapshot
        lbl = obs.label
        procs = GaugeMetricFamily("colonies_processes", "Processes by colony, executor type and state",
                                  labels=["colony", "executor_type", "state"])
        depth = GaugeMetricFamily("colonies_queue_depth", "Assignable waiting processes",
                                  labels=["colony", "executor_type"])
        oldest = GaugeMetricFamily("colonies_queue_oldest_age_seconds",
                                   "Age of the oldest assignable waiting process", labels=["colony", "executor_type"])
        execs = GaugeMetricFamily("colonies_executors", "Executors by colony, type and state",
                                  labels=["colony", "executor_type", "state"])
        flows = GaugeMetricFamily("colonies_workflows", "Workflows by colony and state", labels=["colony", "state"])
        paused = GaugeMetricFamily("colonies_colony_assignments_paused", "1 when assignments are paused",
                                   labels=["colony"])
        waiters = GaugeMetricFamily("colonies_assign_waiters", "Parked assign calls (long-poll and WebSocket)",
                                    labels=["colony", "executor_type"])
        if snap is not None:
            import time

            now = time.time_ns()
            for (c, t, s), n in sorted(snap.processes.items()):
                if 0 <= s < len(STATES):
                    procs.add_metric([lbl("colony", c), lbl("executor_type", t), STATES[s]], n)
            for (c, t), (n, first) in sorted(snap.queues.items()):
                key = [lbl("colony", c), lbl("executor_type", t)]
                depth.add_metric(key, n)
                oldest.add_metric(key, max(now - first, 0) / 1e9)
            for (c, t, s), n in sorted(snap.executors.items()):
                if 0 <= s < len(EXECUTOR_STATES):
                    execs.add_metric([lbl("colony", c), lbl("executor_type", t), EXECUTOR_STATES[s]], n)
            for (c, s), n in sorted(snap.workflows.items()):
                if 0 <= s < len(STATES):
                    flows.add_metric([lbl("colony", c), STATES[s]], n)
            for c in sorted(snap.paused):
                paused.add_metric([lbl("colony", c)], 1)
        for (c, t), n in sorted(hub.waiting_counts().items()):
            waiters.add_metric([lbl("colony", c), lbl("executor_type", t)], n)
        yield from (procs, depth, oldest, execs, flows, paused, waiters)


def make_registry(services: Services, observer: Observer) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ColoniesCollector(services, observer))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def build(services: Services) -> ASGIApp:
    """The ASGI endpoint for GET /metrics, with a registry of its own (one per server)."""
    registry = make_registry(services, services.observer)

    async def endpoint(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE)

    return request_response(endpoint)
