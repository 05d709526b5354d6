"""domain/crons.py and domain/generators.py on a real temp SQLite database (PROTOCOL §6.7, §6.8).

Each unit of work runs in its own transaction on a plain sqlite3 connection migrated with
`storage.db.migrate`; time is a parameter, so "60 seconds" of scheduling run in milliseconds:

* fire_due: a `0/1` cron fires once per second with no drift or bursts; a missed cron (restart)
  fires once, then its next run is in the future;
* waitforprevprocessgraph: blocks while the previous graph runs, unblocks when it is SUCCESS,
  FAILED or CANCELLED; the previous graph's leaf outputs become the next run's root `in`;
* generators: by count (in pack order), by timeout (from the oldest waiting arg), no arg lost or
  duplicated in random interleavings of packs and flushes, removal removes the args.
"""
from __future__ import annotations

import json
import random
import sqlite3
import tempfile
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from colonies_pkg.clock import NS
from colonies_pkg.crypto import generate_prvkey, id_of_prvkey
from colonies_pkg.domain import (
    colonies,
    crons,
    executors,
    generators,
    processes,
    workflows,
)
from colonies_pkg.errors import BadRequest, ColoniesError, Forbidden
from colonies_pkg.models.colony import Colony, User
from colonies_pkg.models.cron import CronRequest, Generator
from colonies_pkg.models.executor import Executor
from colonies_pkg.models.process import ProcessState
from colonies_pkg.storage.db import Tx, migrate

SERVER_ID = id_of_prvkey("fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d")
COLONY_ID = id_of_prvkey("ba949fa134981372d6da62b6a56f336ab4d843b22c02a4257dcf7d0d73097514")
USER_ID = id_of_prvkey("ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05")
EXEC_ID = id_of_prvkey(generate_prvkey())
STRANGER_ID = id_of_prvkey(generate_prvkey())
COLONY = "dev"
T0 = 1_700_000_000 * NS  # a whole second
EVERY_SECOND = "0/1 * * * * *"


# --- harness ----------------------------------------------------------------------------------
class World:
    """A migrated SQLite file with colony `dev`, user `myuser` and approved executor `e1` (cli)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = self._connect()
        self.unit(self._bootstrap, T0 - 3600 * NS)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = OFF")
        migrate(conn)
        return conn

    def reopen(self) -> None:
        """Close and reopen the file, as a server restart does."""
        self.conn.close()
        self.conn = self._connect()

    @staticmethod
    def _bootstrap(tx: Tx, now: int) -> None:
        colonies.ensure_server_id(tx, now, SERVER_ID)
        colonies.add_colony(tx, now, SERVER_ID, Colony(colonyid=COLONY_ID, name=COLONY))
        colonies.add_user(tx, now, COLONY_ID, User(colonyname=COLONY, userid=USER_ID, name="myuser"))
        executors.add_executor(tx, now, COLONY_ID, Executor(executorid=EXEC_ID, executortype="cli",
                                                            executorname="e1", colonyname=COLONY))
        executors.approve_executor(tx, now, COLONY_ID, COLONY, "e1")

    def unit(self, fn: Any, *args: Any) -> Any:
        """Run fn(tx, *args) in one transaction, like the single writer does."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(Tx(self.conn), *args)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        return result

    def q(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    # helpers
    def graph_count(self) -> int:
        return self.q("SELECT COUNT(*) FROM processgraphs")[0][0]

    def graphs(self) -> list[sqlite3.Row]:
        return self.q("SELECT * FROM processgraphs ORDER BY rowid")

    def cron_row(self, cronid: str) -> sqlite3.Row:
        return self.q("SELECT * FROM crons WHERE cronid = ?", (cronid,))[0]

    def graph_processes(self, graphid: str) -> dict[str, sqlite3.Row]:
        rows = self.q("SELECT * FROM processes WHERE processgraphid = ? ORDER BY rowid", (graphid,))
        return {json.loads(r["spec"])["nodename"]: r for r in rows}

    def add_cron(self, now: int, expr: str = EVERY_SECOND, interval: int = -1, random_: bool = False,
                 wait: bool = False, spec: str | None = None, name: str = "c1", typo: bool = False,
                 rng: random.Random | None = None) -> str:
        req = CronRequest(name=name, colonyname=COLONY, cronexpression=expr, interval=interval, random=random_,
                          workflowspec=spec or workflow([node("a")]))
        if typo:
            req.waitforprevprocessgrap = wait
        else:
            req.waitforprevprocessgraph = wait
        return self.unit(crons.add, now, USER_ID, req, rng).cronid

    def fire(self, now: int, rng: random.Random | None = None) -> crons.Due:
        return self.unit(crons.fire_due, now, rng)

    def run_graph(self, graphid: str, now: int, outputs: dict[str, list[Any]], fail: str = "") -> None:
        """Assign and close every process of the graph (nodename → output); `fail` fails that node."""
        for _ in range(10):
            res = self.unit(processes.try_assign, now, EXEC_ID, COLONY)
            if res.process is None:
                return
            assert res.process.processgraphid == graphid
            spec = self.q("SELECT spec FROM processes WHERE processid = ?", (res.process.processid,))[0][0]
            nodename = json.loads(spec)["nodename"]
            if nodename == fail:
                self.unit(processes.close_failed, now, EXEC_ID, res.process.processid, ["boom"])
            else:
                self.unit(processes.close_successful, now, EXEC_ID, res.process.processid, outputs.get(nodename, []))


def node(name: str, deps: list[str] | None = None, args: list[Any] | None = None, funcname: str = "echo",
         kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"nodename": name, "funcname": funcname, "args": args or [], "kwargs": kwargs or {},
            "maxexectime": -1, "conditions": {"executortype": "cli", "dependencies": deps or []}}


def workflow(nodes: list[dict[str, Any]]) -> str:
    return json.dumps({"colonyname": COLONY, "functionspecs": nodes})


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path / "colonies.db")
    yield w
    w.conn.close()


# --- fire_due: every second -----------------------------------------------------------------------
def test_every_second_cron_over_a_simulated_minute_no_drift_no_bursts(world: World) -> None:
    """The scheduler sleeps until the earliest due cron and wakes a little late each time."""
    rng = random.Random(1)
    added = T0 + 300_000_000
    cronid = world.add_cron(added)
    assert world.cron_row(cronid)["nextrun"] == T0 + NS
    now, fire_times, nextruns = added, [], []
    while True:
        due = world.fire(now)
        assert due.fired in (0, 1)
        if due.fired:
            fire_times.append(now)
        nextruns.append(due.next_due)
        now = due.next_due + rng.randrange(0, 50_000_000)  # 0-50 ms late
        if now > added + 60 * NS:
            break
    assert len(fire_times) == 60
    assert world.graph_count() == 60
    # each fire belongs to its own whole second, consecutive, none skipped
    assert [t // NS for t in fire_times] == [T0 // NS + k for k in range(1, 61)]
    assert sorted(set(nextruns)) == [T0 + k * NS for k in range(1, 62)]
    row = world.cron_row(cronid)
    assert row["lastrun"] == fire_times[-1]
    assert row["prevprocessgraphid"] == world.graphs()[-1]["processgraphid"]
    assert [g["submissiontime"] for g in world.graphs()] == fire_times


def test_every_second_cron_with_a_polling_scheduler(world: World) -> None:
    """Called every ~100 ms at arbitrary moments: still exactly one run per whole second."""
    rng = random.Random(2)
    world.add_cron(T0 + 10)
    now, fired, per_second = T0 + 10, 0, {}
    while now < T0 + 60 * NS + 500_000_000:
        due = world.fire(now)
        assert due.fired <= 1
        if due.fired:
            per_second[now // NS] = per_second.get(now // NS, 0) + 1
            fired += 1
        assert due.next_due > now
        now += rng.randrange(50_000_000, 150_000_000)
    assert fired == 60
    assert set(per_second.values()) == {1}
    assert sorted(per_second) == [T0 // NS + k for k in range(1, 61)]


def test_nothing_fires_before_nextrun(world: World) -> None:
    world.add_cron(T0 + 5)
    due = world.fire(T0 + NS - 1)
    assert due.fired == 0 and due.next_due == T0 + NS and not due.blocked
    assert world.fire(T0 + NS).fired == 1


def test_no_crons_means_no_next_due(world: World) -> None:
    assert world.fire(T0) == crons.Due(0, 0, False)


def test_two_crons_fire_independently_and_next_due_is_the_earliest(world: World) -> None:
    world.add_cron(T0, EVERY_SECOND, name="fast")
    world.add_cron(T0, "0/10 * * * * *", name="slow")
    fired = 0
    now = T0
    for _ in range(25):
        due = world.fire(now)
        fired += due.fired
        now = due.next_due
    # 25 wake-ups at the earliest due time: seconds 1..24 plus the slow cron's ticks at 10 and 20
    assert world.graph_count() == fired == 24 + 2


def test_every_descriptor_does_not_drift_under_scheduler_latency(world: World) -> None:
    world.add_cron(T0, "@every 1s")
    now, nextruns = T0, []
    for _ in range(60):
        due = world.fire(now)
        nextruns.append(due.next_due)
        now = due.next_due + 20_000_000  # 20 ms late each time
    gaps = {b - a for a, b in pairwise(nextruns)}
    assert gaps == {NS}


def test_interval_cron_fires_at_anchor_plus_k_intervals(world: World) -> None:
    rng = random.Random(3)
    added = T0 + 123_456_789
    world.add_cron(added, expr="", interval=2)
    now, fires = added, []
    while now < added + 61 * NS:
        due = world.fire(now)
        if due.fired:
            fires.append(now)
        now = due.next_due + rng.randrange(0, 300_000_000)
    assert len(fires) == 30
    assert [(t - added) // (2 * NS) for t in fires] == list(range(1, 31))
    assert all((t - added) % (2 * NS) < 300_000_000 for t in fires)  # near the window start


def test_random_interval_cron_fires_once_per_window(world: World) -> None:
    rng = random.Random(4)
    added = T0 + 7
    world.add_cron(added, expr="", interval=3, random_=True, rng=rng)
    now, fires = added, []
    while now < added + 300 * NS:
        due = world.fire(now, rng)
        if due.fired:
            fires.append(now)
        now = due.next_due  # wake exactly on time
    windows = [(t - added) // (3 * NS) for t in fires]
    assert windows == list(range(1, len(windows) + 1))
    assert len(windows) in (99, 100)
    offsets = [((t - added) % (3 * NS)) / (3 * NS) for t in fires]
    assert min(offsets) < 0.2 and max(offsets) > 0.8  # spread over the window, not pinned to its start


# --- restart semantics ----------------------------------------------------------------------------
@pytest.mark.parametrize("expr, interval, random_", [
    (EVERY_SECOND, -1, False), ("@daily", -1, False), ("@every 10s", -1, False), ("", 60, False), ("", 60, True),
])
def test_a_missed_cron_fires_once_after_a_restart(world: World, expr: str, interval: int, random_: bool) -> None:
    rng = random.Random(5)
    added = T0 - 3 * 86_400 * NS  # three days ago, the server has been down since
    cronid = world.add_cron(added, expr, interval, random_, rng=rng)
    assert world.cron_row(cronid)["nextrun"] < T0
    world.reopen()
    now = T0 + 250_000_000
    due = world.fire(now, rng)
    assert due.fired == 1
    assert world.graph_count() == 1
    nextrun = world.cron_row(cronid)["nextrun"]
    assert nextrun > now and due.next_due == nextrun
    assert world.fire(now, rng).fired == 0
    assert world.fire(nextrun - 1, rng).fired == 0
    assert world.fire(nextrun, rng).fired == 1
    assert world.graph_count() == 2


def test_a_cron_survives_a_restart_with_its_schedule(world: World) -> None:
    cronid = world.add_cron(T0, "0/5 * * * * *")
    assert world.fire(T0 + 5 * NS).fired == 1
    before = world.cron_row(cronid)
    world.reopen()
    after = world.cron_row(cronid)
    assert dict(after) == dict(before)
    assert after["nextrun"] == T0 + 10 * NS
    assert world.fire(T0 + 10 * NS).fired == 1


# --- wait for the previous graph -------------------------------------------------------------------
@pytest.mark.parametrize("typo", [False, True], ids=["waitforprevprocessgraph", "waitforprevprocessgrap"])
@pytest.mark.parametrize("finish", ["success", "failed", "cancelled"])
def test_waitforprev_blocks_until_the_previous_graph_finishes(world: World, finish: str, typo: bool) -> None:
    cronid = world.add_cron(T0, wait=True, typo=typo, spec=workflow([node("a"), node("b", ["a"])]))
    assert world.cron_row(cronid)["waitforprevprocessgraph"] == 1
    assert world.fire(T0 + NS).fired == 1
    g1 = world.graphs()[0]["processgraphid"]
    # waiting, then running: blocked, nextrun unchanged, the scheduler is told to look again
    for k in range(2, 6):
        due = world.fire(T0 + k * NS)
        assert due.fired == 0 and due.blocked
        assert world.cron_row(cronid)["nextrun"] == T0 + 2 * NS
    res = world.unit(processes.try_assign, T0 + 6 * NS, EXEC_ID, COLONY)
    assert res.process is not None and res.process.processgraphid == g1
    due = world.fire(T0 + 7 * NS)
    assert due.fired == 0 and due.blocked
    assert world.graph_count() == 1
    # finish the previous graph
    now = T0 + 8 * NS
    if finish == "success":
        world.unit(processes.close_successful, now, EXEC_ID, res.process.processid, ["x"])
        world.run_graph(g1, now, {"b": ["y"]})
        expected_state = ProcessState.SUCCESS
    elif finish == "failed":
        world.unit(processes.close_failed, now, EXEC_ID, res.process.processid, ["boom"])
        expected_state = ProcessState.FAILED
    else:
        world.unit(workflows.cancel, now, USER_ID, g1)
        expected_state = ProcessState.CANCELLED
    assert world.graphs()[0]["state"] == expected_state
    due = world.fire(T0 + 8 * NS + 1000)
    assert due.fired == 1 and not due.blocked
    assert world.graph_count() == 2
    row = world.cron_row(cronid)
    assert row["prevprocessgraphid"] == world.graphs()[1]["processgraphid"]
    assert row["nextrun"] == T0 + 9 * NS
    # and the new graph blocks the next run in turn
    assert world.fire(T0 + 9 * NS).blocked


def test_without_waitforprev_runs_pile_up(world: World) -> None:
    world.add_cron(T0, wait=False)
    for k in range(1, 6):
        due = world.fire(T0 + k * NS)
        assert due.fired == 1 and not due.blocked
    assert world.graph_count() == 5


def test_waitforprev_when_the_previous_graph_was_removed(world: World) -> None:
    world.add_cron(T0, wait=True)
    assert world.fire(T0 + NS).fired == 1
    g1 = world.graphs()[0]["processgraphid"]
    assert world.fire(T0 + 2 * NS).blocked
    world.unit(workflows.remove, T0 + 2 * NS, USER_ID, g1)
    assert world.fire(T0 + 3 * NS).fired == 1


def test_blocked_cron_fires_once_when_unblocked_not_a_burst(world: World) -> None:
    world.add_cron(T0, wait=True)
    world.fire(T0 + NS)
    g1 = world.graphs()[0]["processgraphid"]
    for k in range(2, 30):
        world.fire(T0 + k * NS)
    world.run_graph(g1, T0 + 30 * NS, {"a": ["done"]})
    due = world.fire(T0 + 30 * NS + 5)
    assert due.fired == 1
    assert due.next_due == T0 + 31 * NS
    assert world.graph_count() == 2


# --- leaf outputs become root inputs ---------------------------------------------------------------
def test_previous_leaf_outputs_become_the_next_roots_input(world: World) -> None:
    # a → b, and c alone: roots a and c; leaves b and c (in creation order)
    spec = workflow([node("a", args=["arg-a"]), node("b", ["a"]), node("c", args=["arg-c"])])
    world.add_cron(T0, wait=True, spec=spec)
    assert world.fire(T0 + NS).fired == 1
    g1 = world.graphs()[0]["processgraphid"]
    first = world.graph_processes(g1)
    assert {n: json.loads(r["input"]) for n, r in first.items()} == {"a": [], "b": [], "c": []}
    world.run_graph(g1, T0 + NS + 10, {"a": ["from-a"], "b": ["b1", "b2"], "c": [3, {"k": "v"}]})
    assert world.graphs()[0]["state"] == ProcessState.SUCCESS
    assert json.loads(world.graph_processes(g1)["b"]["input"]) == ["from-a"]  # parent output → child input
    assert world.fire(T0 + 2 * NS).fired == 1
    g2 = world.graphs()[1]["processgraphid"]
    second = world.graph_processes(g2)
    assert json.loads(second["a"]["input"]) == ["b1", "b2", 3, {"k": "v"}]
    assert json.loads(second["c"]["input"]) == ["b1", "b2", 3, {"k": "v"}]
    assert json.loads(second["b"]["input"]) == []  # not a root
    # the roots keep their own args
    assert json.loads(second["a"]["spec"])["args"] == ["arg-a"]


def test_first_run_and_empty_outputs_give_empty_input(world: World) -> None:
    world.add_cron(T0, wait=True)
    world.fire(T0 + NS)
    g1 = world.graphs()[0]["processgraphid"]
    world.run_graph(g1, T0 + NS, {})
    world.fire(T0 + 2 * NS)
    g2 = world.graphs()[1]["processgraphid"]
    assert json.loads(world.graph_processes(g2)["a"]["input"]) == []


# --- run now ------------------------------------------------------------------------------------------
def test_run_now_starts_a_run_and_reschedules(world: World) -> None:
    cronid = world.add_cron(T0, "0 0 0 1 1 *")  # yearly
    before = world.cron_row(cronid)
    reply = world.unit(crons.run_now, T0 + 500, USER_ID, cronid)
    assert reply.cronid == cronid and reply.prevprocessgraphid == ""  # the cron before the run
    assert world.graph_count() == 1
    row = world.cron_row(cronid)
    assert row["lastrun"] == T0 + 500
    assert row["prevprocessgraphid"] == world.graphs()[0]["processgraphid"]
    assert row["nextrun"] == before["nextrun"]  # still the next new year


def test_run_now_checks_membership_before_running(world: World) -> None:
    cronid = world.add_cron(T0)
    with pytest.raises(Forbidden):
        world.unit(crons.run_now, T0 + 1, STRANGER_ID, cronid)
    assert world.graph_count() == 0
    with pytest.raises(ColoniesError):
        world.unit(crons.run_now, T0 + 1, USER_ID, "0" * 64)


def test_run_now_honours_waitforprev(world: World) -> None:
    cronid = world.add_cron(T0, "0 0 0 1 1 *", wait=True)
    world.unit(crons.run_now, T0 + 1, USER_ID, cronid)
    world.unit(crons.run_now, T0 + 2, USER_ID, cronid)
    assert world.graph_count() == 1


# --- add / get / list / remove -------------------------------------------------------------------------
def test_add_validates_and_names_are_unique(world: World) -> None:
    world.add_cron(T0, name="dup")
    with pytest.raises(BadRequest, match="already exists"):
        world.add_cron(T0, name="dup")
    with pytest.raises(BadRequest, match="Cron interval must be -1"):
        world.add_cron(T0, expr="", interval=0, name="i0")
    with pytest.raises(BadRequest, match="Random cron is only supported"):
        world.add_cron(T0, random_=True, name="r")
    with pytest.raises(BadRequest, match="Invalid cron expression"):
        world.add_cron(T0, expr="61 * * * * *", name="bad")
    with pytest.raises(BadRequest, match="invalid dependencies"):
        world.add_cron(T0, spec=workflow([node("a", ["nope"])]), name="deps")
    with pytest.raises(BadRequest):
        world.add_cron(T0, spec="{not json", name="json")
    with pytest.raises(Forbidden):
        world.unit(crons.add, T0, STRANGER_ID, CronRequest(name="x", colonyname=COLONY, cronexpression=EVERY_SECOND,
                                                           workflowspec=workflow([node("a")])))
    assert world.q("SELECT COUNT(*) FROM crons")[0][0] == 1


def test_get_list_remove(world: World) -> None:
    ids = [world.add_cron(T0, name=f"c{i}") for i in range(3)]
    got = world.unit(crons.get, T0, USER_ID, ids[0])
    assert got.name == "c0" and got.checkerperiod == crons.CHECKER_PERIOD_MS
    assert got.initiatorid == USER_ID and got.initiatorname == "myuser"
    assert [c.name for c in world.unit(crons.list_crons, T0, USER_ID, COLONY, 10)] == ["c0", "c1", "c2"]
    assert len(world.unit(crons.list_crons, T0, USER_ID, COLONY, 2)) == 2
    world.unit(crons.remove, T0, USER_ID, ids[1])
    with pytest.raises(ColoniesError, match="cron is nil"):
        world.unit(crons.get, T0, USER_ID, ids[1])
    assert [c.name for c in world.unit(crons.list_crons, T0, USER_ID, COLONY, 10)] == ["c0", "c2"]
    due = world.fire(T0 + NS)
    assert due.fired == 2  # the removed cron does not fire


# --- generators ----------------------------------------------------------------------------------------
GEN_SPEC = workflow([node("root", args=["orig"], kwargs={"k": "v"}), node("child", ["root"], args=["child-arg"])])


def add_generator(world: World, trigger: int, timeout: int = -1, name: str = "g", spec: str = GEN_SPEC,
                  now: int = T0) -> str:
    gen = Generator(name=name, colonyname=COLONY, workflowspec=spec, trigger=trigger, timeout=timeout)
    return world.unit(generators.add, now, USER_ID, gen).generatorid


def pack(world: World, gid: str, arg: str, now: int = T0) -> int:
    return world.unit(generators.pack, now, USER_ID, gid, arg)


def root_args_by_graph(world: World, funcname: str | None = None) -> list[list[Any]]:
    """The root process args of every graph, in creation order."""
    sql = ("SELECT p.spec FROM processgraphs g JOIN processes p ON p.processgraphid = g.processgraphid "
           "WHERE p.parents = '[]'")
    params: tuple = ()
    if funcname is not None:
        sql += " AND p.funcname = ?"
        params = (funcname,)
    return [json.loads(r[0])["args"] for r in world.q(sql + " ORDER BY g.rowid", params)]


def queue(world: World, gid: str) -> list[str]:
    return [r[0] for r in world.q("SELECT arg FROM generatorargs WHERE generatorid = ? ORDER BY id", (gid,))]


def test_generator_by_count(world: World) -> None:
    gid = add_generator(world, 5)
    for i in range(4):
        assert pack(world, gid, f"hello{i + 1}", T0 + i) == 0
    assert world.graph_count() == 0
    assert world.unit(generators.get, T0, USER_ID, gid).queuesize == 4
    assert pack(world, gid, "hello5", T0 + 4) == 1
    assert world.graph_count() == 1
    assert root_args_by_graph(world) == [["hello1", "hello2", "hello3", "hello4", "hello5"]]
    g = world.graphs()[0]
    procs = world.graph_processes(g["processgraphid"])
    root_spec, child_spec = json.loads(procs["root"]["spec"]), json.loads(procs["child"]["spec"])
    assert root_spec["kwargs"] == {}
    assert child_spec["args"] == ["child-arg"]  # non-roots unchanged
    assert procs["root"]["initiatorid"] == USER_ID and g["initiatorid"] == USER_ID
    assert queue(world, gid) == []
    got = world.unit(generators.get, T0, USER_ID, gid)
    assert got.queuesize == 0 and got.lastrun != "0001-01-01T00:00:00Z"


def test_generator_many_batches_keep_pack_order(world: World) -> None:
    gid = add_generator(world, 5)
    started = sum(pack(world, gid, f"a{i:02d}", T0 + i) for i in range(12))
    assert started == 2
    assert root_args_by_graph(world) == [[f"a{i:02d}" for i in range(5)], [f"a{i:02d}" for i in range(5, 10)]]
    assert queue(world, gid) == ["a10", "a11"]


def test_generator_trigger_one(world: World) -> None:
    gid = add_generator(world, 1)
    for i in range(3):
        assert pack(world, gid, str(i)) == 1
    assert root_args_by_graph(world) == [["0"], ["1"], ["2"]]


def test_generator_by_timeout_counts_from_the_oldest_waiting_arg(world: World) -> None:
    gid = add_generator(world, 10, timeout=2)
    pack(world, gid, "x1", T0)
    pack(world, gid, "x2", T0 + 500_000_000)
    pack(world, gid, "x3", T0 + NS)
    assert world.unit(generators.flush_expired, T0 + 2 * NS - 1) == 0
    assert world.graph_count() == 0
    assert world.unit(generators.flush_expired, T0 + 2 * NS) == 1
    assert root_args_by_graph(world) == [["x1", "x2", "x3"]]
    assert queue(world, gid) == []
    assert world.unit(generators.flush_expired, T0 + 100 * NS) == 0
    # a new batch times out from its own first arg
    pack(world, gid, "y1", T0 + 50 * NS)
    assert world.unit(generators.flush_expired, T0 + 51 * NS) == 0
    assert world.unit(generators.flush_expired, T0 + 52 * NS) == 1
    assert root_args_by_graph(world)[-1] == ["y1"]


def test_generator_without_timeout_never_flushes(world: World) -> None:
    gid = add_generator(world, 10, timeout=-1)
    pack(world, gid, "z")
    assert world.unit(generators.flush_expired, T0 + 10**6 * NS) == 0
    assert queue(world, gid) == ["z"]
    gid0 = add_generator(world, 10, timeout=0, name="g0")  # 0 = no timeout
    assert world.unit(generators.get, T0, USER_ID, gid0).timeout == -1


@pytest.mark.parametrize("trigger", [0, -1, -100])
def test_generator_trigger_must_be_positive(world: World, trigger: int) -> None:
    with pytest.raises(BadRequest, match="trigger"):
        add_generator(world, trigger)
    assert world.q("SELECT COUNT(*) FROM generators")[0][0] == 0


def test_generator_validates_spec_and_membership(world: World) -> None:
    with pytest.raises(BadRequest):
        add_generator(world, 5, spec="[]")
    with pytest.raises(BadRequest, match="invalid dependencies"):
        add_generator(world, 5, spec=workflow([node("a", ["zz"])]))
    with pytest.raises(Forbidden):
        world.unit(generators.add, T0, STRANGER_ID, Generator(name="g", colonyname=COLONY, workflowspec=GEN_SPEC,
                                                               trigger=1))
    gid = add_generator(world, 5)
    with pytest.raises(Forbidden):
        world.unit(generators.pack, T0, STRANGER_ID, gid, "x")
    with pytest.raises(ColoniesError, match="generator is nil"):
        world.unit(generators.pack, T0, USER_ID, "f" * 64, "x")
    assert queue(world, gid) == []


def test_removing_a_generator_removes_its_args(world: World) -> None:
    gid = add_generator(world, 10, timeout=1)
    other = add_generator(world, 10, name="other")
    for i in range(3):
        pack(world, gid, f"a{i}")
    pack(world, other, "keep")
    world.unit(generators.remove, T0, USER_ID, gid)
    assert world.q("SELECT COUNT(*) FROM generatorargs WHERE generatorid = ?", (gid,))[0][0] == 0
    assert queue(world, other) == ["keep"]
    with pytest.raises(ColoniesError):
        world.unit(generators.get, T0, USER_ID, gid)
    assert world.unit(generators.flush_expired, T0 + 100 * NS) == 0
    assert world.graph_count() == 0


def test_list_and_resolve_generators(world: World) -> None:
    a = add_generator(world, 3, name="a")
    add_generator(world, 3, name="b")
    pack(world, a, "1")
    listed = world.unit(generators.list_generators, T0, USER_ID, COLONY, 10)
    assert [(g.name, g.queuesize) for g in listed] == [("a", 1), ("b", 0)]
    assert world.unit(generators.resolve, T0, USER_ID, COLONY, "a").generatorid == a
    with pytest.raises(ColoniesError):
        world.unit(generators.resolve, T0, USER_ID, COLONY, "nope")


# --- no arg lost or duplicated ---------------------------------------------------------------------------
GENS = 3
ops = st.lists(
    st.one_of(
        st.tuples(st.just("pack"), st.integers(0, GENS - 1)),
        st.tuples(st.just("tick"), st.integers(1, 3 * NS)),
        st.tuples(st.just("flush"), st.just(0)),
    ),
    min_size=200, max_size=400,
)
gen_configs = st.lists(st.tuples(st.integers(1, 17), st.sampled_from([-1, 1, 2, 5])), min_size=GENS, max_size=GENS)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(configs=gen_configs, script=ops, extra=st.lists(st.integers(0, GENS - 1), min_size=200, max_size=200))
def test_no_arg_lost_or_duplicated_in_random_interleavings(configs: list[tuple[int, int]], script: list[tuple[str, int]],
                                                           extra: list[int]) -> None:
    with tempfile.TemporaryDirectory() as d:
        world = World(Path(d) / "g.db")
        try:
            gids = [add_generator(world, trigger, timeout, name=f"g{i}",
                                  spec=workflow([node("root", funcname=f"gen{i}"), node("leaf", ["root"])]))
                    for i, (trigger, timeout) in enumerate(configs)]
            # exactly 200 packs: the script's packs first (interleaved with ticks and flushes), then the rest
            steps: list[tuple[str, int]] = []
            npacks = 0
            for op in script:
                if op[0] == "pack":
                    if npacks == 200:
                        continue
                    npacks += 1
                steps.append(op)
            steps += [("pack", g) for g in extra[: 200 - npacks]]
            packed: list[list[str]] = [[] for _ in range(GENS)]
            now, n = T0, 0
            for kind, val in steps:
                if kind == "pack":
                    arg = f"arg-{n:03d}"
                    n += 1
                    packed[val].append(arg)
                    pack(world, gids[val], arg, now)
                elif kind == "tick":
                    now += val
                else:
                    world.unit(generators.flush_expired, now)
            assert n == 200
            world.unit(generators.flush_expired, now + 3600 * NS)
            everything: list[str] = []
            for i, gid in enumerate(gids):
                trigger, timeout = configs[i]
                batches = root_args_by_graph(world, f"gen{i}")
                left = queue(world, gid)
                # FIFO: batches then leftovers give back exactly the packed sequence
                assert [a for b in batches for a in b] + left == packed[i]
                assert all(0 < len(b) <= trigger for b in batches)
                if timeout > 0:
                    assert left == []  # the final flush took everything
                else:
                    assert all(len(b) == trigger for b in batches)
                    assert len(left) < trigger
                everything += [a for b in batches for a in b] + left
            assert sorted(everything) == [f"arg-{k:03d}" for k in range(200)]
        finally:
            world.conn.close()
