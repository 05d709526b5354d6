"""Retention removes old successful work and logs, and keeps failures and recent work."""
from __future__ import annotations

from colonies_pkg.clock import NS
from colonies_pkg.crypto import generate_prvkey, id_of_prvkey
from colonies_pkg.domain import colonies, executors, logs, processes, retention, workflows
from colonies_pkg.models.colony import Colony
from colonies_pkg.models.executor import Executor
from colonies_pkg.models.process import Conditions, FunctionSpec
from colonies_pkg.models.workflow import WorkflowSpec

T0 = 1_800_000_000 * NS


def _setup(tx):
    server, owner, ex = (id_of_prvkey(generate_prvkey()) for _ in range(3))
    colonies.ensure_server_id(tx, T0, server)
    colonies.add_colony(tx, T0, server, Colony(colonyid=owner, name="c"))
    executors.add_executor(tx, T0, owner, Executor(executorid=ex, executortype="t", executorname="e", colonyname="c"))
    executors.approve_executor(tx, T0, owner, "c", "e")
    return tx, ex


def _spec(name: str = "") -> FunctionSpec:
    return FunctionSpec(funcname="f", nodename=name, conditions=Conditions(colonyname="c", executortype="t"))


def _run_one(tx, ex, now, ok=True):
    p = processes.try_assign(tx, now, ex, "c").process
    logs.add_log(tx, now, ex, p.processid, "hello")
    if ok:
        processes.close_successful(tx, now, ex, p.processid, ["x"])
    else:
        processes.close_failed(tx, now, ex, p.processid, ["boom"])
    return p.processid


def test_retention_removes_old_successes_and_logs_only(tx):
    tx, ex = _setup(tx)
    processes.submit(tx, T0, ex, _spec())
    old_ok = _run_one(tx, ex, T0)
    processes.submit(tx, T0, ex, _spec())
    old_failed = _run_one(tx, ex, T0, ok=False)
    graph = workflows.submit(tx, T0, ex, WorkflowSpec(colonyname="c", functionspecs=[_spec("a")]))
    _run_one(tx, ex, T0)
    later = T0 + 500 * NS
    processes.submit(tx, later, ex, _spec())
    new_ok = _run_one(tx, ex, later)

    removed = retention.apply(tx, later, later - 200 * NS)

    assert removed > 0
    remaining = {r[0] for r in tx.all("SELECT processid FROM processes")}
    assert old_ok not in remaining
    assert old_failed in remaining and new_ok in remaining
    assert tx.one("SELECT 1 FROM processgraphs WHERE processgraphid = ?", (graph.processgraphid,)) is None
    assert [r[0] for r in tx.all("SELECT processid FROM logs")] == [new_ok]
