"""`GET /metrics` on a real `dev` server: every family present in the Prometheus text format,
values equal to the statistics RPCs after a known run, lifecycle counters and histograms per
colony, and scrapes that never wait for the database writer."""
from __future__ import annotations

import base64
import json
import sqlite3
import threading
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from .conftest import SERVER_PRV, ColonyEnv, ServerProcess, poll_until, sign_envelope

GO_GAUGES = {
    "colonies_server_colonies": "colonies", "colonies_server_executors": "executors",
    "colonies_server_executors_active": "activeexecutors",
    "colonies_server_executors_unregistered": "unregisteredexecutors",
    "colonies_server_processes_waiting": "waitingprocesses", "colonies_server_processes_running": "runningprocesses",
    "colonies_server_processes_successful": "successfulprocesses",
    "colonies_server_processes_failed": "failedprocesses", "colonies_server_processes_cancelled": "cancelledprocesses",
    "colonies_server_workflows_waiting": "waitingworkflows", "colonies_server_workflows_running": "runningworkflows",
    "colonies_server_workflows_successful": "successfulworkflows",
    "colonies_server_workflows_failed": "failedworkflows", "colonies_server_workflows_cancelled": "cancelledworkflows",
}
OPERATOR_FAMILIES = {
    "colonies_processes": "gauge", "colonies_queue_depth": "gauge", "colonies_queue_oldest_age_seconds": "gauge",
    "colonies_assign_waiters": "gauge", "colonies_executors": "gauge", "colonies_workflows": "gauge",
    "colonies_colony_assignments_paused": "gauge",
    "colonies_processes_queued": "counter", "colonies_processes_assigned": "counter",
    "colonies_processes_closed": "counter", "colonies_processes_retried": "counter",
    "colonies_processes_deadline_expired": "counter",
    "colonies_process_wait_seconds": "histogram", "colonies_process_run_seconds": "histogram",
    "colonies_rpc_requests": "counter", "colonies_rpc_duration_seconds": "histogram",
    "colonies_assign_request_seconds": "histogram",
    "colonies_db_writer_batch_units": "histogram", "colonies_db_writer_commit_seconds": "histogram",
    "colonies_db_writer_units": "counter", "colonies_db_writer_queue_depth": "gauge",
    "colonies_ws_subscribers": "gauge", "colonies_loop_runs": "counter", "colonies_loop_errors": "counter",
    "colonies_stats_refresh_timestamp_seconds": "gauge", "colonies_build_info": "gauge",
    "colonies_channels": "gauge", "colonies_channel_entries": "gauge", "colonies_channel_bytes": "gauge",
}


def scrape(server: ServerProcess) -> dict[str, Any]:
    r = requests.get(server.base_url + "/metrics", timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {f.name: f for f in text_string_to_metric_families(r.text)}


def value(families: dict[str, Any], name: str, **labels: str) -> float:
    """The sample `name` (a sample name, e.g. ..._total or ..._count) whose labels include `labels`."""
    family = name
    for suffix in ("_total", "_count", "_sum", "_bucket"):
        if name.endswith(suffix) and name.removesuffix(suffix) in families:
            family = name.removesuffix(suffix)
    total = 0.0
    for sample in families[family].samples if family in families else []:
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
            total += sample.value
    return total


def test_metrics_route_is_exact_and_lists_every_family(server: ServerProcess) -> None:
    r = requests.get(server.base_url + "/metrics", timeout=10, allow_redirects=False)
    assert r.status_code == 200  # an explicit route: no 307 to /metrics/
    families = scrape(server)
    for name in GO_GAUGES:
        assert families[name].type == "gauge", name
        assert not families[name].samples[0].labels, f"{name} must stay unlabelled like Go's"
    missing = {n: t for n, t in OPERATOR_FAMILIES.items() if n not in families or families[n].type != t}
    assert not missing, f"missing or mistyped families: {missing}"
    assert "process_resident_memory_bytes" in families  # the client library's process collector


def test_values_equal_statistics_after_a_known_run(server: ServerProcess, colony: ColonyEnv) -> None:
    c = colony.client
    worker = colony.new_executor()
    colony.new_executor(approve=False)  # a pending executor: counted, not active
    done = [colony.submit(args=[i]) for i in range(3)]
    for i in range(3):
        p = c.assign(colony.name, 5, worker.prv)
        if i < 2:
            c.close(p.processid, [i], worker.prv)
        else:
            c.fail(p.processid, ["boom"], worker.prv)
    left = colony.submit()              # stays waiting: the queue depth and its age
    gone = colony.submit()
    c.remove_process(gone.processid, colony.user.prv)
    assert len(done) == 3 and left.processid

    def converged() -> dict[str, Any] | None:
        families = scrape(server)
        stats = _stats(server)
        got = {name: value(families, name) for name in GO_GAUGES}
        want = {name: float(stats[field]) for name, field in GO_GAUGES.items()}
        ours = {s: value(families, "colonies_processes", colony=colony.name, state=s)
                for s in ("waiting", "running", "successful", "failed")}
        return families if got == want and ours == {"waiting": 1, "running": 0, "successful": 2, "failed": 1} \
            else None

    families = poll_until(converged, 15, what="/metrics to equal getstatisticsmsg")
    key = {"colony": colony.name, "executor_type": colony.default_type}
    assert value(families, "colonies_processes_closed_total", outcome="successful", **key) == 2
    assert value(families, "colonies_processes_closed_total", outcome="failed", **key) == 1
    assert value(families, "colonies_processes_assigned_total", **key) == 3
    assert value(families, "colonies_processes_queued_total", **key) == 5
    assert value(families, "colonies_process_wait_seconds_count", **key) == 3
    assert value(families, "colonies_process_run_seconds_count", outcome="successful", **key) == 2
    assert value(families, "colonies_process_run_seconds_bucket", outcome="failed", le="+Inf", **key) == 1
    assert value(families, "colonies_queue_depth", **key) == 1
    assert value(families, "colonies_queue_oldest_age_seconds", **key) > 0
    assert value(families, "colonies_executors", colony=colony.name, state="approved") == 1
    assert value(families, "colonies_executors", colony=colony.name, state="pending") == 1
    assert value(families, "colonies_rpc_requests_total", msgtype="submitfuncspecmsg", status="ok") >= 5
    assert value(families, "colonies_rpc_requests_total", msgtype="assignprocessmsg", status="ok") >= 3
    assert value(families, "colonies_db_writer_units_total") > 0
    assert value(families, "colonies_loop_runs_total", loop="deadlines") > 0


def _stats(server: ServerProcess) -> dict[str, Any]:
    r = requests.post(server.api_url, json=sign_envelope({"msgtype": "getstatisticsmsg"}, SERVER_PRV), timeout=10)
    assert r.status_code == 200, r.text
    return json.loads(base64.b64decode(r.json()["payload"]))


def test_retries_and_deadline_expiries_are_counted(server: ServerProcess, colony: ColonyEnv) -> None:
    c = colony.client
    worker = colony.new_executor()
    colony.submit(maxexectime=1, maxretries=1)   # assigned, never closed: put back once
    c.assign(colony.name, 5, worker.prv)
    expired = colony.submit(maxwaittime=1, executortype="nobody-runs-this")
    key = {"colony": colony.name}

    def counted() -> dict[str, Any] | None:
        families = scrape(server)
        retried = value(families, "colonies_processes_retried_total", reason="retry", **key)
        deadline = value(families, "colonies_processes_deadline_expired_total", kind="max_wait_time", **key)
        return families if retried == 1 and deadline == 1 else None

    families = poll_until(counted, 15, what="a retry and a max_wait_time expiry in /metrics")
    assert value(families, "colonies_processes_closed_total", outcome="failed", executor_type="nobody-runs-this",
                 **key) == 1
    assert c.get_process(expired.processid, colony.user.prv).state == 3


def test_a_scrape_never_waits_for_the_writer(server: ServerProcess, colony: ColonyEnv) -> None:
    """Hold SQLite's write lock (PostgreSQL: a lock on the processes table) from outside: the submit
    is stuck, and /metrics still answers (with it not yet acknowledged); then let go and it completes."""
    colony.new_executor()
    url = server.env.get("COLONIES_DATABASE_URL")
    if url:  # PostgreSQL: a table lock that lets reads through and holds every insert of a process
        import psycopg

        db: Any = psycopg.connect(url, autocommit=True)
    else:
        db = sqlite3.connect(str(server.data_dir / "colonies.db"), timeout=5, isolation_level=None)
    outcome: dict[str, Any] = {}
    try:
        if url:
            db.execute("BEGIN")
            db.execute("LOCK TABLE processes IN EXCLUSIVE MODE")
        else:
            db.execute("BEGIN IMMEDIATE")

        def submit() -> None:
            outcome["process"] = colony.submit()

        submitter = threading.Thread(target=submit, daemon=True)
        submitter.start()
        scrapes = [scrape(server) for _ in range(3)]
        assert submitter.is_alive() and "process" not in outcome, "the submit should wait for the lock"
        assert all("colonies_server_processes_waiting" in s for s in scrapes)
    finally:
        db.execute("ROLLBACK")
        db.close()
    submitter.join(15)
    assert outcome["process"].state == 0


def test_scrapes_during_load_see_the_writer_progress(server: ServerProcess, colony: ColonyEnv) -> None:
    colony.new_executor()
    stop = threading.Event()
    seen: list[float] = []

    def scraper() -> None:
        while not stop.is_set():
            seen.append(value(scrape(server), "colonies_db_writer_units_total"))

    t = threading.Thread(target=scraper, daemon=True)
    t.start()
    try:
        procs = [colony.submit(args=[i]) for i in range(60)]
    finally:
        stop.set()
        t.join(15)
    assert len(procs) == 60 and all(p.state == 0 for p in procs)
    assert len(seen) >= 2 and seen == sorted(seen) and seen[-1] > seen[0], seen


def test_metrics_can_be_turned_off(tmp_path_factory: pytest.TempPathFactory) -> None:
    base = tmp_path_factory.mktemp("nometrics")
    srv = ServerProcess(data_dir=base / "data", log_dir=base / "logs", env={"COLONIES_METRICS": "false"})
    srv.start()
    try:
        assert requests.get(srv.base_url + "/metrics", timeout=5).status_code == 404
        assert requests.get(srv.base_url + "/health", timeout=5).status_code == 200
    finally:
        srv.stop()
