"""Storage contract, once per backend (SQLite and PostgreSQL, through `backend_db`): the areas
test_processes_domain.py does not walk — users, functions and their statistics, logs and log
search, attributes, crons, generators, workflows, statistics and retention — give the same
results on both."""
from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from colonies_pkg.clock import NS
from colonies_pkg.crypto import generate_prvkey, id_of_prvkey
from colonies_pkg.domain import (
    attributes,
    colonies,
    crons,
    executors,
    generators,
    logs,
    processes,
    retention,
    workflows,
)
from colonies_pkg.errors import BadRequest
from colonies_pkg.models import Colony, Conditions, FunctionSpec, User
from colonies_pkg.models.cron import CronRequest, Generator
from colonies_pkg.models.executor import Executor, Function
from colonies_pkg.models.process import Attribute
from colonies_pkg.models.workflow import WorkflowSpec

T0 = 1_750_000_000 * NS


class World:
    def __init__(self, db: Any) -> None:
        self.db = db
        self.server, self.owner, self.user, self.ex = (id_of_prvkey(generate_prvkey()) for _ in range(4))
        db.write(colonies.ensure_server_id, T0, self.server)
        db.write(colonies.add_colony, T0, self.server, Colony(colonyid=self.owner, name="c"))
        db.write(colonies.add_user, T0, self.owner, User(colonyname="c", userid=self.user, name="u"))
        db.write(executors.add_executor, T0, self.owner, Executor(executorid=self.ex, executortype="t",
                                                                  executorname="e", colonyname="c"))
        db.write(executors.approve_executor, T0, self.owner, "c", "e")

    def spec(self, name: str = "", deps: list[str] | None = None, **kw: Any) -> FunctionSpec:
        kw.setdefault("maxexectime", -1)
        return FunctionSpec(funcname="f", nodename=name,
                            conditions=Conditions(colonyname="c", executortype="t", dependencies=deps or []), **kw)

    def run_one(self, now: int, out: list[Any] | None = None) -> str | None:
        p = self.db.write(processes.try_assign, now, self.ex, "c").process
        if p is None:
            return None
        self.db.write(processes.close_successful, now + NS, self.ex, p.processid, out or [])
        return p.processid


@pytest.fixture
def world(backend_db) -> World:
    return World(backend_db)


def test_users(world: World) -> None:
    db = world.db
    assert [u.name for u in db.read(colonies.list_users, T0, world.user, "c")] == ["u"]
    with pytest.raises(BadRequest):
        db.write(colonies.add_user, T0, world.owner, User(colonyname="c", userid=world.user, name="u"))
    db.write(colonies.remove_user, T0, world.owner, "c", "u")
    assert db.read(colonies.list_users, T0, world.ex, "c") == []


def test_functions_count_calls(world: World) -> None:
    db = world.db
    db.write(executors.add_function, T0, world.ex, Function(executorname="e", colonyname="c", funcname="f"))
    db.write(processes.submit, T0, world.user, world.spec())
    world.run_one(T0 + NS)
    [f] = db.read(executors.list_functions, T0, world.user, "c", "e")
    assert (f.counter, f.minwaittime, f.minexectime) == (1, 1.0, 1.0)


def test_logs_and_search(world: World) -> None:
    db = world.db
    pid = db.write(processes.submit, T0, world.user, world.spec()).processid
    db.write(processes.try_assign, T0, world.ex, "c")
    for i, text in enumerate(["alpha", "beta 100%", "Alpha_2"]):
        db.write(logs.add_log, T0 + i, world.ex, pid, text)
    got = db.read(logs.get_logs, T0, world.user, "c", pid, "", 10, 0, False)
    assert [g.message for g in got] == ["alpha", "beta 100%", "Alpha_2"]
    search = db.read(logs.search_logs, T0 + 10, world.user, "c", "lpha", 1, 10)
    assert [g.message for g in search] == ["Alpha_2", "alpha"]  # newest first
    search = db.read(logs.search_logs, T0 + 10, world.user, "c", "alpha", 1, 10)
    assert [g.message for g in search] == ["alpha"]  # case-sensitive on both backends
    assert [g.message for g in db.read(logs.search_logs, T0 + 10, world.user, "c", "100%", 1, 10)] == ["beta 100%"]
    assert [g.message for g in db.read(logs.search_logs, T0 + 10, world.user, "c", "a_", 1, 10)] == ["Alpha_2"]


def test_attributes(world: World) -> None:
    db = world.db
    pid = db.write(processes.submit, T0, world.user, world.spec(env={"A": "1"})).processid
    db.write(processes.try_assign, T0, world.ex, "c")
    a = db.write(attributes.add_attribute, T0, world.ex, Attribute(targetid=pid, key="k", value="v", attributetype=1))
    assert db.read(attributes.get_attribute, T0, world.user, a.attributeid).value == "v"
    p = db.read(processes.get, T0, world.user, pid)
    assert [(x.key, x.value) for x in p.attributes] == [("A", "1"), ("k", "v")]  # insertion order


def test_workflow_resolution_and_statistics(world: World) -> None:
    db = world.db
    graph = db.write(workflows.submit, T0, world.user, WorkflowSpec(colonyname="c", functionspecs=[
        world.spec("a"), world.spec("b", ["a"])]))
    world.run_one(T0, ["x"])
    second = db.write(processes.try_assign, T0 + 5 * NS, world.ex, "c").process
    assert msgspec.json.decode(second.in_) == ["x"]
    db.write(processes.close_successful, T0 + 6 * NS, world.ex, second.processid, [])
    assert db.read(workflows.get, T0, world.user, graph.processgraphid).state == 2
    stats = db.read(colonies.colony_statistics, T0, world.user, "c")
    assert (stats.successfulprocesses, stats.successfulworkflows, stats.executors) == (2, 1, 1)
    assert db.write(retention.apply, T0 + 100 * NS, T0 + 50 * NS) >= 1
    assert db.read(workflows.list_graphs, T0, world.user, "c", 10, -1) == []


def test_crons_fire_due_once(world: World) -> None:
    db = world.db
    spec = json.dumps({"colonyname": "c", "functionspecs": [
        {"nodename": "n", "funcname": "f", "conditions": {"executortype": "t"}}]})
    cron = db.write(crons.add, T0, world.user, CronRequest(name="x", colonyname="c", interval=10, workflowspec=spec))
    assert db.write(crons.fire_due, T0 + 5 * NS).fired == 0
    due = db.write(crons.fire_due, T0 + 10 * NS)
    assert due.fired == 1 and due.next_due == T0 + 20 * NS
    assert db.write(crons.fire_due, T0 + 10 * NS).fired == 0  # the same tick again: nothing
    assert db.read(crons.get, T0, world.user, cron.cronid).lastrun != ""


def test_generators_pack_and_flush(world: World) -> None:
    db = world.db
    spec = json.dumps({"colonyname": "c", "functionspecs": [
        {"nodename": "n", "funcname": "f", "conditions": {"executortype": "t"}}]})
    gen = db.write(generators.add, T0, world.user, Generator(name="g", colonyname="c", workflowspec=spec,
                                                             trigger=2, timeout=5))
    assert db.write(generators.pack, T0, world.user, gen.generatorid, "a") == 0
    assert db.write(generators.pack, T0, world.user, gen.generatorid, "b") == 1
    assert db.write(generators.pack, T0, world.user, gen.generatorid, "c") == 0
    assert db.write(generators.flush_expired, T0 + 2 * NS) == 0
    assert db.write(generators.flush_expired, T0 + 6 * NS) == 1
    args = []
    while (p := db.write(processes.try_assign, T0 + 7 * NS, world.ex, "c").process) is not None:
        args.append(msgspec.json.decode(p.spec)["args"])
    assert args == [["a", "b"], ["c"]]


def test_a_negative_count_means_no_limit_on_both_backends(world: World) -> None:
    db = world.db
    spec = json.dumps({"colonyname": "c", "functionspecs": [
        {"nodename": "n", "funcname": "f", "conditions": {"executortype": "t"}}]})
    for name in ("a", "b"):
        db.write(crons.add, T0, world.user, CronRequest(name=name, colonyname="c", interval=10, workflowspec=spec))
    assert [c.name for c in db.read(crons.list_crons, T0, world.user, "c", -1)] == ["a", "b"]
    assert [c.name for c in db.read(crons.list_crons, T0, world.user, "c", 1)] == ["a"]


def test_a_huge_maxexectime_clamps_the_deadline_on_both_backends(world: World) -> None:
    db = world.db
    db.write(processes.submit, T0, world.user, world.spec(maxexectime=2**62))
    p = db.write(processes.try_assign, T0, world.ex, "c").process
    assert p.execdeadline == "2262-04-11T23:47:16.854775807Z"  # the largest int64 nanosecond
    assert db.write(processes.enforce_deadlines, T0 + 10**6 * NS) == 0


def test_equal_priority_times_are_assigned_in_submission_order(world: World) -> None:
    """Roots of one workflow share their priority time; both backends assign them in spec order."""
    db = world.db
    names = ["r1", "r2", "r3", "r4", "r5"]
    db.write(workflows.submit, T0, world.user, WorkflowSpec(colonyname="c", functionspecs=[
        world.spec(n) for n in names]))
    order = []
    while (p := db.write(processes.try_assign, T0, world.ex, "c").process) is not None:
        order.append(msgspec.json.decode(p.spec)["nodename"])
    assert order == names
