"""domain/blueprints.py on a real temp SQLite database, time as a parameter (CHANNELS_BLUEPRINTS §4.13).

* the periodic reconcile is an ordinary cron: `crons.fire_due` starts it every handler interval
  (60 s by default), and not while its previous run is unfinished;
* a unit that fails part-way (a forced reconcile of a kind without handler) leaves nothing behind;
* an update that changes nothing writes no history and submits nothing.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import msgspec
import pytest

from colonies_pkg.clock import NS
from colonies_pkg.crypto import generate_prvkey, id_of_prvkey
from colonies_pkg.domain import blueprint_schema, blueprints, colonies, crons, executors, processes
from colonies_pkg.errors import BadRequest
from colonies_pkg.models.blueprint import Blueprint, BlueprintDefinition
from colonies_pkg.models.colony import Colony
from colonies_pkg.models.executor import Executor
from colonies_pkg.storage.db import Tx, migrate

SERVER_ID = id_of_prvkey(generate_prvkey())
COLONY_ID = id_of_prvkey(generate_prvkey())
MEMBER_ID = id_of_prvkey(generate_prvkey())
RECONCILER_ID = id_of_prvkey(generate_prvkey())
T0 = 1_700_000_000 * NS


class World:
    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(str(path), isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA foreign_keys = ON")
        migrate(self.conn)
        self.unit(self._bootstrap, T0 - 3600 * NS)

    @staticmethod
    def _bootstrap(tx: Tx, now: int) -> None:
        colonies.ensure_server_id(tx, now, SERVER_ID)
        colonies.add_colony(tx, now, SERVER_ID, Colony(colonyid=COLONY_ID, name="c"))
        for eid, name, etype in ((MEMBER_ID, "m", "cli"), (RECONCILER_ID, "r", "rec")):
            executors.add_executor(tx, now, COLONY_ID, Executor(executorid=eid, executortype=etype, executorname=name,
                                                                colonyname="c"))
            executors.approve_executor(tx, now, COLONY_ID, "c", name)

    def unit(self, fn: Any, *args: Any) -> Any:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(Tx(self.conn), *args)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        return result

    def count(self, table: str) -> int:
        return self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def definition(kind: str, handler: dict[str, Any] | None = None) -> BlueprintDefinition:
    spec: dict[str, Any] = {"names": {"kind": kind}}
    if handler:
        spec["handler"] = handler
    return msgspec.convert({"metadata": {"name": kind.lower(), "colonyname": "c"}, "spec": spec}, BlueprintDefinition)


def blueprint(kind: str, name: str, spec: dict[str, Any]) -> Blueprint:
    return msgspec.convert({"kind": kind, "metadata": {"name": name, "colonyname": "c"}, "spec": spec}, Blueprint)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path / "colonies.db")


@pytest.mark.parametrize("interval", [0, 5])
def test_periodic_reconcile_is_a_cron_fired_by_the_scheduler(world: World, interval: int) -> None:
    handler = {"executorType": "rec", "functionName": "reconcile", "reconcileInterval": interval}
    world.unit(blueprints.add_definition, T0, COLONY_ID, definition("Light", handler))
    world.unit(blueprints.add_blueprint, T0, MEMBER_ID, blueprint("Light", "l1", {"on": True}))
    period = (interval or 60) * NS
    immediate = world.unit(processes.try_assign, T0, RECONCILER_ID, "c").process  # the add's own process
    assert immediate is not None and json.loads(bytes(immediate.spec))["kwargs"] == {"kind": "Light", "blueprintName": "l1"}
    world.unit(processes.close_successful, T0, RECONCILER_ID, immediate.processid, [])

    assert world.unit(crons.fire_due, T0 + period - 1).fired == 0
    due = world.unit(crons.fire_due, T0 + period)
    assert due.fired == 1 and due.next_due == T0 + 2 * period
    run = world.unit(processes.try_assign, T0 + period, RECONCILER_ID, "c").process
    assert run is not None and run.processgraphid
    spec = json.loads(bytes(run.spec))
    assert (spec["funcname"], spec["kwargs"], spec["nodename"]) == ("reconcile", {"kind": "Light"}, "rec-reconcile")
    # the run is still going: the next period is skipped, then it goes on once the run is done
    assert world.unit(crons.fire_due, T0 + 2 * period).fired == 0
    world.unit(processes.close_successful, T0 + 2 * period, RECONCILER_ID, run.processid, [])
    assert world.unit(crons.fire_due, T0 + 2 * period + NS).fired == 1

    world.unit(blueprints.remove_blueprint, T0 + 3 * period, MEMBER_ID, "c", "l1")
    assert world.count("crons") == 0
    assert world.unit(crons.fire_due, T0 + 10 * period).fired == 0


def test_a_failing_unit_leaves_nothing_behind(world: World) -> None:
    world.unit(blueprints.add_definition, T0, COLONY_ID, definition("Plain"))
    world.unit(blueprints.add_blueprint, T0, MEMBER_ID, blueprint("Plain", "p", {"x": 1}))
    with pytest.raises(BadRequest, match="Blueprint has no handler with executor type defined"):
        world.unit(blueprints.reconcile, T0, MEMBER_ID, "c", "p", True)  # the generation bump is undone too
    assert world.unit(blueprints.get_blueprint, T0, MEMBER_ID, "c", "p").metadata.gen == 0
    assert world.count("processes") == 0


def test_an_update_without_change_writes_nothing(world: World) -> None:
    handler = {"executorType": "rec", "functionName": "reconcile"}
    world.unit(blueprints.add_definition, T0, COLONY_ID, definition("Light", handler))
    added = world.unit(blueprints.add_blueprint, T0, MEMBER_ID, blueprint("Light", "l1", {"on": True, "n": 1}))
    before = (world.count("blueprinthistory"), world.count("processes"))
    same = world.unit(blueprints.update_blueprint, T0 + NS, MEMBER_ID,
                      blueprint("Light", "l1", {"n": 1.0, "on": True}), False)  # 1.0 == 1 for JSON numbers
    assert same.blueprintid == added.blueprintid and same.metadata.gen == 0
    assert (world.count("blueprinthistory"), world.count("processes")) == before
    forced = world.unit(blueprints.update_blueprint, T0 + NS, MEMBER_ID, blueprint("Light", "l1", {"on": True, "n": 1}),
                        True)
    assert forced.metadata.gen == 1
    changed = world.unit(blueprints.update_blueprint, T0 + NS, MEMBER_ID, blueprint("Light", "l1", {"on": 1, "n": 1}),
                         False)  # but true is not 1
    assert changed.metadata.gen == 2
    assert (world.count("blueprinthistory"), world.count("processes")) == (before[0] + 2, before[1] + 2)


@pytest.mark.parametrize(("a", "b", "same"), [
    ({"a": 1}, {"a": 1.0}, True), ({"a": True}, {"a": 1}, False), ({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]},
                                                                       True),
    ({"a": [1]}, {"a": [1, 2]}, False), ({"a": "1"}, {"a": 1}, False), ({}, {"a": None}, False),
])
def test_same_json(a: dict, b: dict, same: bool) -> None:
    assert blueprint_schema.same_json(a, b) is same
