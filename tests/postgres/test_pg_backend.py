"""The PostgreSQL backend on a real cluster: concurrent units on two database objects (as two
replicas would run them), the lease, the database clock, and the CLI's one-line errors."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from colonies_pkg.clock import NS
from colonies_pkg.crypto import generate_prvkey, id_of_prvkey
from colonies_pkg.domain import colonies, executors, processes, workflows
from colonies_pkg.models import Colony, Conditions, FunctionSpec, User
from colonies_pkg.models.blueprint import Blueprint
from colonies_pkg.models.executor import Executor
from colonies_pkg.models.workflow import WorkflowSpec
from colonies_pkg.storage import blueprints as bp_store
from colonies_pkg.storage.postgres import PgDatabase

REPO = Path(__file__).resolve().parents[2]
T0 = 1_700_000_000 * NS


class Replica:
    """A PgDatabase on its own event loop in its own thread: a second server's storage."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.db: PgDatabase = self.call(PgDatabase.open(url, pool_size=4))

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def write(self, fn: Any, *args: Any) -> Any:
        return self.call(self.db.write(fn, *args))

    def close(self) -> None:
        self.call(self.db.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


@pytest.fixture
def two(pg_cluster):
    url = pg_cluster.new_database()
    a = Replica(url)
    b = Replica(url)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def _setup(db: Replica, n_executors: int) -> tuple[str, list[str]]:
    server, owner, user = (id_of_prvkey(generate_prvkey()) for _ in range(3))
    db.write(colonies.ensure_server_id, T0, server)
    db.write(colonies.add_colony, T0, server, Colony(colonyid=owner, name="c"))
    db.write(colonies.add_user, T0, owner, User(colonyname="c", userid=user, name="u"))
    ids = []
    for i in range(n_executors):
        eid = id_of_prvkey(generate_prvkey())
        db.write(executors.add_executor, T0, owner, Executor(executorid=eid, executortype="t", executorname=f"e{i}",
                                                             colonyname="c"))
        db.write(executors.approve_executor, T0, owner, "c", f"e{i}")
        ids.append(eid)
    return user, ids


def _node(name: str, deps: list[str]) -> FunctionSpec:
    return FunctionSpec(funcname="f", nodename=name, maxexectime=-1,
                        conditions=Conditions(colonyname="c", executortype="t", dependencies=deps))


def test_two_parents_closing_at_once_on_two_replicas_release_their_child(two) -> None:
    """Each close locks the graph before resolving it, so the second sees the first's commit:
    the child is released exactly when both parents are done, however the closes interleave."""
    a, b = two
    user, (e1, e2) = _setup(a, 2)
    for round_ in range(15):
        graph = a.write(workflows.submit, T0, user, WorkflowSpec(colonyname="c", functionspecs=[
            _node("p1", []), _node("p2", []), _node("child", ["p1", "p2"])]))
        p = a.write(processes.try_assign, T0, e1, "c").process
        q = b.write(processes.try_assign, T0, e2, "c").process
        assert {p.processid, q.processid} <= set(graph.processids)
        barrier = threading.Barrier(2)

        def close(db: Replica, executor: str, pid: str, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            db.write(processes.close_successful, T0 + NS, executor, pid, [pid[:4]])

        threads = [threading.Thread(target=close, args=(a, e1, p.processid)),
                   threading.Thread(target=close, args=(b, e2, q.processid))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        child = a.write(processes.try_assign, T0 + 2 * NS, e1, "c").process
        assert child is not None, f"round {round_}: the child was never released"
        assert sorted(msgspec.json.decode(child.in_)) == sorted([p.processid[:4], q.processid[:4]])
        a.write(processes.close_successful, T0 + 3 * NS, e1, child.processid, [])
        assert a.write(workflows.get, T0, user, graph.processgraphid).state == 2


def test_concurrent_assigners_on_two_replicas_never_share_a_process(two) -> None:
    a, b = two
    user, ids = _setup(a, 6)
    spec = FunctionSpec(funcname="f", maxexectime=-1, conditions=Conditions(colonyname="c", executortype="t"))
    submitted = {a.write(processes.submit, T0, user, spec).processid for _ in range(300)}
    got: list[str] = []

    def drain(db: Replica, executor: str) -> None:
        while (result := db.write(processes.try_assign, T0, executor, "c")).process is not None:
            got.append(result.process.processid)

    threads = [threading.Thread(target=drain, args=((a, b)[i % 2], e)) for i, e in enumerate(ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == len(set(got)) == len(submitted) and set(got) == submitted


def test_the_lease_has_one_holder_and_passes_on_when_it_expires(two) -> None:
    a, b = two
    assert a.call(a.db.acquire_lease("test", "A", 0.5))
    assert not b.call(b.db.acquire_lease("test", "B", 0.5))  # held by A
    assert a.call(a.db.acquire_lease("test", "A", 0.5))  # A renews
    assert b.call(b.db.lease_holder("test")) == "A"
    deadline = time.monotonic() + 10
    while not b.call(b.db.acquire_lease("test", "B", 5)):  # A stopped renewing
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert not a.call(a.db.acquire_lease("test", "A", 5))
    assert a.call(a.db.lease_holder("test")) == "B"
    b.call(b.db.release_lease("test", "B"))
    assert a.call(a.db.acquire_lease("test", "A", 5))


def test_now_is_the_database_clock(two) -> None:
    a, _ = two

    def db_now(tx: Any) -> int:
        return int(tx.one("SELECT (extract(epoch FROM clock_timestamp()) * 1000000000)::bigint")[0])

    before = a.db.now()
    server = a.call(a.db.read(db_now))
    after = a.db.now()
    # the database's reading falls between two of ours, give or take the measured round trip
    assert before - NS < server < after + NS


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "colonies.py", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, COLONIES_SERVER_PRVKEY=generate_prvkey(), **(env or {})))


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql://u:secret@127.0.0.1:1/db", "Connection refused"),
    ("mysql://u@host/db", "must look like postgresql://"),
])
def test_an_unusable_database_url_is_one_clear_line(url: str, expected: str, tmp_path: Path) -> None:
    for argv in (["server", "start", "--port", "0", "--data-dir", str(tmp_path)],
                 ["dev", "--no-executor", "--port", "0", "--data-dir", str(tmp_path)]):
        out = _cli(*argv, env={"COLONIES_DATABASE_URL": url})
        assert out.returncode == 1
        assert "Traceback" not in out.stderr
        lines = [line for line in out.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error: ") and expected in lines[0], out.stderr
        assert "secret" not in out.stderr


def test_a_missing_database_and_a_wrong_password_are_one_clear_line(pg_cluster, tmp_path: Path) -> None:
    import psycopg

    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute("CREATE ROLE pwuser LOGIN PASSWORD 'right'")
        # trust stays for the test superuser; this role must give its password
        conn.execute("ALTER SYSTEM SET password_encryption = 'scram-sha-256'")
    hba = pg_cluster.data / "pg_hba.conf"
    text = hba.read_text()
    if "pwuser" not in text:
        hba.write_text("host all pwuser 127.0.0.1/32 scram-sha-256\n" + text)
        with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
    base = pg_cluster.url("postgres").rsplit("/", 1)[0].replace("postgres@", "")
    cases = [(f"{base.replace('://', '://pwuser:wrong@')}/postgres", "password authentication failed"),
             (f"{base.replace('://', '://postgres@')}/nosuchdb", 'database "nosuchdb" does not exist')]
    for url, expected in cases:
        out = _cli("server", "start", "--port", "0", "--data-dir", str(tmp_path), env={"COLONIES_DATABASE_URL": url})
        lines = [line for line in out.stderr.splitlines() if line.strip()]
        assert out.returncode == 1 and len(lines) == 1 and expected in lines[0], out.stderr
        assert "wrong" not in out.stderr


def test_deadline_sweeps_on_two_replicas_handle_each_expired_process_once(two) -> None:
    """Every replica runs the deadline loop; SKIP LOCKED splits the expired rows between them."""
    a, b = two
    user, (e1,) = _setup(a, 1)
    spec = FunctionSpec(funcname="f", maxexectime=1, maxretries=0,
                        conditions=Conditions(colonyname="c", executortype="t"))
    pids = {a.write(processes.submit, T0, user, spec).processid for _ in range(200)}
    while a.write(processes.try_assign, T0, e1, "c").process is not None:
        pass
    counts: list[int] = []
    barrier = threading.Barrier(4)

    def sweep(db: Replica) -> None:
        barrier.wait()
        counts.append(db.write(processes.enforce_deadlines, T0 + 10 * NS))

    threads = [threading.Thread(target=sweep, args=(db,)) for db in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == len(pids)  # each expired process failed by exactly one sweep
    failed = a.write(processes.list_processes, T0, user, "c", 100, 3)
    assert len(failed) == 100
    assert all(msgspec.json.decode(p.errors) == ["Maximum execution time limit exceeded"] for p in failed)
    assert a.write(processes.list_processes, T0, user, "c", 100, 1) == []


def test_a_unit_that_deadlocks_is_rolled_back_and_run_again(two) -> None:
    """Two units lock two rows in opposite orders; PostgreSQL aborts one (40P01), which the
    backend runs again from the start: both complete, each effect exactly once."""
    a, b = two
    _user, _ = _setup(a, 0)
    a.write(lambda tx: tx.run("INSERT INTO sequences(name, value) VALUES ('x', 0), ('y', 0)"))
    barrier = threading.Barrier(2, timeout=10)
    runs: list[str] = []

    def unit(tx: Any, first: str, second: str) -> None:
        runs.append(first)
        tx.one("SELECT value FROM sequences WHERE name = ? FOR UPDATE", (first,))
        if runs.count(first) == 1:  # only the first attempt waits for the other unit
            barrier.wait()
        tx.one("SELECT value FROM sequences WHERE name = ? FOR UPDATE", (second,))
        tx.run("UPDATE sequences SET value = value + 1 WHERE name IN (?, ?)", (first, second))

    threads = [threading.Thread(target=a.write, args=(unit, "x", "y")),
               threading.Thread(target=b.write, args=(unit, "y", "x"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert a.db.retries + b.db.retries == 1 and len(runs) == 3
    values = a.call(a.db.read(lambda tx: tx.all("SELECT name, value FROM sequences WHERE name IN ('x', 'y') "
                                                "ORDER BY name")))
    assert [tuple(v) for v in values] == [("x", 2), ("y", 2)]


def test_pool_figures_for_monitoring(two) -> None:
    a, _ = two
    figures = a.db.stats()
    assert figures["pool_max"] == 4 and figures["tx_retries"] == 0 and figures["pool_size"] >= 2


def test_a_blueprint_read_by_a_write_unit_is_locked_so_no_change_is_lost(two) -> None:
    """A reconciler's status report (blueprints.update_status) and a forced reconcile each read the
    blueprint and write it back whole, on two connections at once: the read locks the row, so the
    second waits for the first to commit and keeps its change. (Unlocked, the report wrote the old
    generation back over the bump.)"""
    a, b = two
    _setup(a, 0)
    a.write(bp_store.add_blueprint, msgspec.convert(
        {"blueprintid": "b" * 64, "kind": "K", "metadata": {"name": "n", "colonyname": "c"}, "spec": {}}, Blueprint))
    read, bumped = threading.Event(), threading.Event()

    def report(tx: Any) -> None:  # as blueprints.update_status
        bp = bp_store.get_blueprint(tx, "c", "n")
        read.set()
        bumped.wait(1.0)  # the bump cannot happen while this unit holds the row
        bp.status = {"seen": True}
        bp.__post_init__()
        bp_store.replace_blueprint(tx, bp)

    def bump(tx: Any) -> None:  # as blueprints.reconcile(force=True)
        assert read.wait(30)
        bp = bp_store.get_blueprint(tx, "c", "n")
        bp.metadata.generation = bp.metadata.gen + 1
        bp_store.replace_blueprint(tx, bp)
        bumped.set()

    threads = [threading.Thread(target=a.write, args=(report,)), threading.Thread(target=b.write, args=(bump,))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    final = a.call(a.db.read(lambda tx: bp_store.get_blueprint(tx, "c", "n")))
    assert (final.status, final.metadata.gen) == ({"seen": True}, 1)
