"""Domain rules of the process state machine, run on a real temp SQLite database and on a real
PostgreSQL one (the contract both backends keep), with time passed in explicitly (no server,
no clock): queue order, executor filtering, deadlines and retries (PROTOCOL §6.1, §6.4), and
the authorization errors of PROTOCOL §3."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from colonies_pkg.clock import NS, ZERO_TIME
from colonies_pkg.crypto import generate_prvkey, id_of_prvkey
from colonies_pkg.domain import colonies, executors, processes
from colonies_pkg.domain.events import ColonyResumed, ProcessChanged
from colonies_pkg.errors import BadRequest, ColoniesError, Forbidden, Unavailable
from colonies_pkg.models import Colony, Conditions, FunctionSpec, User
from colonies_pkg.models.executor import Executor
from colonies_pkg.storage import Tx
from colonies_pkg.storage import processes as process_store

T0 = 1_700_000_000 * NS  # a whole second, so deadline arithmetic below is exact
DAY = 86_400 * NS
WAITING, RUNNING, SUCCESS, FAILED = 0, 1, 2, 3
EXEC_ERR = "Maximum execution time limit exceeded"
WAIT_ERR = "Maximum waiting time limit exceeded"


def new_id() -> tuple[str, str]:
    prv = generate_prvkey()
    return prv, id_of_prvkey(prv)


@dataclass
class World:
    db: Any
    server: str
    owner: str
    e1: str
    e2: str
    pending: str
    user: str
    outsider: str

    def spec(self, *, colony: str = "dev", etype: str = "cli", names: list[str] | None = None,
             **kw: Any) -> FunctionSpec:
        kw.setdefault("maxexectime", -1)
        kw.setdefault("maxwaittime", -1)
        kw.setdefault("maxretries", -1)
        return FunctionSpec(funcname="echo", conditions=Conditions(colonyname=colony, executortype=etype,
                                                                    executornames=names), **kw)

    def submit(self, now: int, caller: str | None = None, **kw: Any) -> str:
        return self.db.write(processes.submit, now, caller or self.e1, self.spec(**kw)).processid

    def assign(self, now: int, executor: str, colony: str = "dev", cpu: str = "", mem: str = "") -> str | None:
        result = self.db.write(processes.try_assign, now, executor, colony, cpu, mem)
        return result.process.processid if result.process is not None else None

    def row(self, pid: str) -> dict[str, Any]:
        def get(tx: Tx) -> dict[str, Any]:
            r = process_store.get_row(tx, pid)
            assert r is not None
            return r._asdict()

        return self.db.read(get)

    def enforce(self, now: int) -> int:
        return self.db.write(processes.enforce_deadlines, now)

    def events_of(self, fn: Any, *args: Any) -> list[Any]:
        """Run a unit of work and return the events it recorded for publication."""
        def unit(tx: Tx) -> list[Any]:
            fn(tx, *args)
            return list(tx.events)

        return self.db.write(unit)


@pytest.fixture
def world(backend_db) -> World:
    db = backend_db
    _, server = new_id()
    _, owner = new_id()
    ids = [new_id()[1] for _ in range(5)]
    w = World(db, server, owner, *ids)
    db.write(colonies.ensure_server_id, T0, server)
    db.write(colonies.add_colony, T0, server, Colony(colonyid=owner, name="dev"))
    db.write(colonies.add_colony, T0, server, Colony(colonyid=new_id()[1], name="prod"))
    for name, eid, approve in (("e1", w.e1, True), ("e2", w.e2, True), ("e3", w.pending, False)):
        db.write(executors.add_executor, T0, owner,
                 Executor(executorid=eid, executortype="cli", executorname=name, colonyname="dev"))
        if approve:
            db.write(executors.approve_executor, T0, owner, "dev", name)
    db.write(colonies.add_user, T0, owner, User(colonyname="dev", userid=w.user, name="alice"))
    return w


def forbidden(message: str, fn: Any, *args: Any, db: Any) -> None:
    with pytest.raises(Forbidden) as info:
        db.write(fn, *args)
    assert info.value.message == message
    assert info.value.status == 403


# --- queue order ----------------------------------------------------------------------------
def test_prioritytime_is_submission_minus_one_day_per_priority_point(world: World) -> None:
    for priority in (0, 1, 5, -2):
        pid = world.submit(T0, priority=priority)
        assert world.row(pid)["prioritytime"] == T0 - priority * DAY


def test_higher_priority_is_assigned_first(world: World) -> None:
    low = world.submit(T0, priority=0)
    high = world.submit(T0 + NS, priority=1)
    low2 = world.submit(T0 + 2 * NS, priority=0)
    older_than_a_day = world.submit(T0 + 3 * NS - 2 * DAY, priority=0)  # 2 days of queue age beats 1 point
    order = [world.assign(T0 + 10 * NS, world.e1) for _ in range(4)]
    assert order == [older_than_a_day, high, low, low2]
    assert world.assign(T0 + 10 * NS, world.e1) is None


def test_fifo_on_equal_priority(world: World) -> None:
    pids = [world.submit(T0 + i * NS) for i in range(6)]
    assigned = [world.assign(T0 + 100 * NS, world.e1 if i % 2 else world.e2) for i in range(6)]
    assert assigned == pids


def test_assignment_marks_process_running(world: World) -> None:
    pid = world.submit(T0, maxexectime=30)
    assert world.assign(T0 + 5 * NS, world.e1) == pid
    row = world.row(pid)
    assert (row["state"], row["isassigned"], row["assignedexecutorid"]) == (RUNNING, 1, world.e1)
    assert row["starttime"] == T0 + 5 * NS
    assert row["execdeadline"] == T0 + 35 * NS
    assert world.assign(T0 + 6 * NS, world.e2) is None  # exclusive


@pytest.mark.parametrize("maxexectime", [30, 0, -1, 2**62])
def test_the_assigned_process_is_exactly_what_is_stored(world: World, maxexectime: int) -> None:
    """The claim builds the assigned process from the row it updated, without reading it back:
    every field equals a fresh read (a huge maxexectime: the end of time, not an overflow)."""
    pid = world.submit(T0, maxexectime=maxexectime)
    assigned = world.db.write(processes.try_assign, T0 + 5 * NS, world.e1, "dev", "", "").process
    assert assigned is not None and assigned.processid == pid
    assert assigned == world.db.read(processes.get, T0 + 6 * NS, world.e1, pid)


def test_executornames_filtering(world: World) -> None:
    only_e2 = world.submit(T0, names=["e2"])
    anyone = world.submit(T0 + NS)
    star = world.submit(T0 + 2 * NS, names=["*"])
    assert world.assign(T0 + 10 * NS, world.e1) == anyone  # skips the older process reserved for e2
    assert world.assign(T0 + 10 * NS, world.e1) == star
    assert world.assign(T0 + 10 * NS, world.e1) is None
    assert world.assign(T0 + 10 * NS, world.e2) == only_e2


def test_executortype_and_colony_filtering(world: World) -> None:
    world.submit(T0, etype="python")
    assert world.assign(T0 + NS, world.e1) is None
    cli = world.submit(T0 + NS)
    assert world.assign(T0 + 2 * NS, world.e1) == cli


def test_available_cpu_and_mem_filtering(world: World) -> None:
    spec = world.spec()
    spec.conditions.cpu, spec.conditions.mem = "2", "8Gi"
    heavy = world.db.write(processes.submit, T0, world.e1, spec).processid
    assert world.assign(T0 + NS, world.e1, cpu="1000m") is None
    assert world.assign(T0 + NS, world.e1, cpu="4", mem="4Gi") is None
    assert world.assign(T0 + NS, world.e1, cpu="4", mem="16Gi") == heavy


def test_waiting_for_parents_is_not_assignable(world: World) -> None:
    def submit_child(tx: Tx) -> str:
        spec = world.spec().normalize()
        row = processes.new_process_row(spec, T0, world.e1, "e1", processgraphid="g", waitforparents=True)
        processes.insert_process(tx, row, {})
        return row["processid"]

    world.db.write(submit_child)
    assert world.assign(T0 + NS, world.e1) is None


# --- closing --------------------------------------------------------------------------------
def test_close_successful_and_failed(world: World) -> None:
    ok = world.submit(T0)
    bad = world.submit(T0 + NS)
    assert world.assign(T0 + 2 * NS, world.e1) == ok
    assert world.assign(T0 + 2 * NS, world.e2) == bad
    world.db.write(processes.close_successful, T0 + 3 * NS, world.e1, ok, ["r", 1])
    world.db.write(processes.close_failed, T0 + 4 * NS, world.e2, bad, ["oops"])
    ok_row, bad_row = world.row(ok), world.row(bad)
    assert (ok_row["state"], json.loads(ok_row["output"]), ok_row["endtime"]) == (SUCCESS, ["r", 1], T0 + 3 * NS)
    assert (bad_row["state"], json.loads(bad_row["errors"]), bad_row["endtime"]) == (FAILED, ["oops"], T0 + 4 * NS)
    assert ok_row["isassigned"] == 1 and ok_row["assignedexecutorid"] == world.e1  # stay set after close
    world.db.write(processes.close_successful, T0 + 5 * NS, world.e1, ok, None)  # closing twice is harmless
    with pytest.raises(BadRequest, match="Tried to set failed process as successful"):
        world.db.write(processes.close_successful, T0 + 5 * NS, world.e2, bad, None)
    with pytest.raises(BadRequest, match="Tried to set successful process as failed"):
        world.db.write(processes.close_failed, T0 + 5 * NS, world.e1, ok, None)


def test_only_the_assigned_executor_may_close(world: World) -> None:
    pid = world.submit(T0)
    with pytest.raises(Forbidden):  # not assigned yet
        world.db.write(processes.close_successful, T0 + NS, world.e1, pid, None)
    world.assign(T0 + NS, world.e1)
    for caller in (world.e2, world.user):
        with pytest.raises(Forbidden):
            world.db.write(processes.close_successful, T0 + 2 * NS, caller, pid, None)
        with pytest.raises(Forbidden):
            world.db.write(processes.close_failed, T0 + 2 * NS, caller, pid, None)
    assert world.row(pid)["state"] == RUNNING


def test_events_recorded_for_the_hub(world: World) -> None:
    submitted = world.events_of(processes.submit, T0, world.e1, world.spec(maxexectime=5, maxretries=3))
    assert len(submitted) == 1 and submitted[0].assignable and submitted[0].state == WAITING
    pid = submitted[0].processid
    assigned = world.events_of(processes.try_assign, T0 + NS, world.e1, "dev")
    assert assigned == [ProcessChanged(pid, RUNNING, "dev", "cli", False, 1.0)]  # waited 1 s (for metrics)
    requeued = world.events_of(processes.enforce_deadlines, T0 + 10 * NS)
    assert requeued == [ProcessChanged(pid, WAITING, "dev", "cli", True, 0.0, "retry")]
    world.assign(T0 + 11 * NS, world.e1)
    closed = world.events_of(processes.close_successful, T0 + 12 * NS, world.e1, pid, None)
    assert closed == [ProcessChanged(pid, SUCCESS, "dev", "cli", False, 1.0)]  # ran 1 s


# --- deadlines (PROTOCOL §6.4) ----------------------------------------------------------------
def test_maxexectime_requeues_then_fails_after_maxretries(world: World) -> None:
    pid = world.submit(T0, maxexectime=10, maxretries=2)
    prioritytime = world.row(pid)["prioritytime"]
    t = T0 + 100 * NS
    for attempt in (1, 2):
        assert world.assign(t, world.e1) == pid
        assert world.enforce(t + 10 * NS) == 0  # deadline second itself: not yet (whole seconds)
        assert world.enforce(t + 10 * NS + NS - 1) == 0
        assert world.enforce(t + 11 * NS) == 1
        row = world.row(pid)
        assert (row["state"], row["isassigned"], row["assignedexecutorid"]) == (WAITING, 0, "")
        assert row["retries"] == attempt
        assert row["prioritytime"] == prioritytime  # keeps its place in the queue
        assert row["starttime"] == t and row["endtime"] == t + 11 * NS
        t += 20 * NS
    assert world.assign(t, world.e1) == pid
    assert world.enforce(t + 11 * NS) == 1
    row = world.row(pid)
    assert row["state"] == FAILED
    assert json.loads(row["errors"]) == [EXEC_ERR]
    assert row["retries"] == 2
    assert world.assign(t + 12 * NS, world.e1) is None
    assert world.enforce(t + 1000 * NS) == 0


def test_maxretries_zero_fails_on_first_expiry(world: World) -> None:
    pid = world.submit(T0, maxexectime=1, maxretries=0)
    world.assign(T0, world.e1)
    assert world.enforce(T0 + 2 * NS) == 1
    assert world.row(pid)["state"] == FAILED


def test_maxretries_minus_one_retries_forever(world: World) -> None:
    pid = world.submit(T0, maxexectime=1, maxretries=-1)
    t = T0
    for _ in range(5):
        assert world.assign(t, world.e1) == pid
        assert world.enforce(t + 2 * NS) == 1
        t += 3 * NS
    row = world.row(pid)
    assert (row["state"], row["retries"]) == (WAITING, 5)


def test_requeued_process_goes_back_to_the_front(world: World) -> None:
    first = world.submit(T0, maxexectime=5)
    second = world.submit(T0 + NS)
    assert world.assign(T0 + 2 * NS, world.e1) == first
    world.enforce(T0 + 10 * NS)
    assert world.assign(T0 + 11 * NS, world.e2) == first
    with pytest.raises(Forbidden):  # the executor that timed out no longer owns it
        world.db.write(processes.close_successful, T0 + 12 * NS, world.e1, first, None)
    assert world.assign(T0 + 12 * NS, world.e1) == second


def test_requeue_resets_the_wait_deadline(world: World) -> None:
    pid = world.submit(T0, maxexectime=5, maxwaittime=30)
    world.assign(T0 + NS, world.e1)
    world.enforce(T0 + 10 * NS)  # unassigned at T0+10s: waitdeadline = T0+40s
    assert world.row(pid)["waitdeadline"] == T0 + 40 * NS
    assert world.enforce(T0 + 40 * NS) == 0
    assert world.enforce(T0 + 41 * NS) == 1
    assert json.loads(world.row(pid)["errors"]) == [WAIT_ERR]


def test_maxwaittime_fails_a_waiting_process(world: World) -> None:
    pid = world.submit(T0, maxwaittime=5)
    other = world.submit(T0)  # maxwaittime -1
    assert world.row(pid)["waitdeadline"] == T0 + 5 * NS
    assert world.enforce(T0 + 5 * NS) == 0
    assert world.enforce(T0 + 6 * NS) == 1
    row = world.row(pid)
    assert row["state"] == FAILED and json.loads(row["errors"]) == [WAIT_ERR] and row["endtime"] == T0 + 6 * NS
    assert world.row(other)["state"] == WAITING
    assert world.assign(T0 + 7 * NS, world.e1) == other


def test_maxwaittime_does_not_apply_once_running(world: World) -> None:
    pid = world.submit(T0, maxwaittime=5)
    world.assign(T0 + NS, world.e1)
    assert world.enforce(T0 + 100 * NS) == 0
    assert world.row(pid)["state"] == RUNNING


@pytest.mark.parametrize("maxwaittime", [0, -1])
def test_maxwaittime_zero_or_minus_one_never_expires(world: World, maxwaittime: int) -> None:
    pid = world.submit(T0, maxwaittime=maxwaittime)
    assert world.row(pid)["waitdeadline"] == 0
    assert world.enforce(T0 + 3650 * DAY) == 0
    assert world.row(pid)["state"] == WAITING


@pytest.mark.parametrize("maxexectime", [0, -1])
def test_maxexectime_zero_or_minus_one_never_expires(world: World, maxexectime: int) -> None:
    """Documented choice (domain/processes.enforce_deadlines): 0 means no limit, unlike Go,
    which expires it at once (PROTOCOL §6.4 gotcha); pycolonies' FuncSpec() defaults to 0."""
    pid = world.submit(T0, maxexectime=maxexectime, maxretries=0)
    world.assign(T0, world.e1)
    assert world.row(pid)["execdeadline"] == 0
    assert world.enforce(T0 + 3650 * DAY) == 0
    assert world.row(pid)["state"] == RUNNING
    process = world.db.read(processes.get, T0, world.e1, pid)
    assert process.execdeadline == ZERO_TIME


# --- pause / resume ------------------------------------------------------------------------
def test_paused_colony_refuses_assignment_until_resumed(world: World) -> None:
    pid = world.submit(T0)
    world.db.write(processes.pause, T0, world.owner, "dev")
    assert world.db.read(processes.pause_status, T0, world.e1, "dev") is True
    with pytest.raises(Unavailable) as info:
        world.assign(T0 + NS, world.e1)
    assert info.value.status == 503
    assert world.events_of(processes.resume, T0 + 2 * NS, world.owner, "dev") == [ColonyResumed("dev")]
    assert world.assign(T0 + 3 * NS, world.e1) == pid


# --- authorization (PROTOCOL §3) ------------------------------------------------------------
def test_only_the_server_owner_manages_colonies(world: World) -> None:
    db = world.db
    for caller in (world.owner, world.e1, world.user, ""):
        forbidden("Access denied, not server owner", colonies.add_colony, T0, caller,
                  Colony(colonyid=new_id()[1], name="x"), db=db)
        forbidden("Access denied, not server owner", colonies.list_colonies, T0, caller, db=db)
        forbidden("Access denied, not server owner", colonies.remove_colony, T0, caller, "dev", db=db)
    assert [c.name for c in db.read(colonies.list_colonies, T0, world.server)] == ["dev", "prod"]


def test_only_the_colony_owner_manages_executors(world: World) -> None:
    db = world.db
    executor = Executor(executorid=new_id()[1], executortype="cli", executorname="e9", colonyname="dev")
    for caller in (world.server, world.e1, world.user):
        forbidden("Access denied, not colony owner", executors.add_executor, T0, caller, executor, db=db)
        forbidden("Access denied, not colony owner", executors.approve_executor, T0, caller, "dev", "e3", db=db)
        forbidden("Access denied, not colony owner", processes.remove_all, T0, caller, "dev", -1, db=db)
        forbidden("Access denied, not colony owner", processes.pause, T0, caller, "dev", db=db)
    forbidden("Colony with name nope does not exists", executors.add_executor, T0, world.owner,
              Executor(executorid=new_id()[1], executortype="cli", executorname="e9", colonyname="nope"), db=db)


def test_members_only_may_submit(world: World) -> None:
    db = world.db
    message = "Access denied, not a member of Colony with name dev"
    for caller in (world.owner, world.server, world.pending, world.outsider, ""):
        forbidden(message, processes.submit, T0, caller, world.spec(), db=db)
        forbidden(message, processes.list_processes, T0, caller, "dev", 10, 0, db=db)
    forbidden("Colony with name nope does not exists", processes.submit, T0, world.e1, world.spec(colony="nope"), db=db)
    forbidden("Access denied, not a member of Colony with name prod", processes.submit, T0, world.e1,
              world.spec(colony="prod"), db=db)
    forbidden("Empty Colony name", processes.submit, T0, world.e1, world.spec(colony=""), db=db)
    assert world.db.read(processes.list_processes, T0, world.e1, "dev", 10, 0) == []


def test_users_may_submit_but_not_assign(world: World) -> None:
    pid = world.submit(T0, caller=world.user)
    row = world.row(pid)
    assert (row["initiatorid"], row["initiatorname"]) == (world.user, "alice")
    with pytest.raises(ColoniesError):  # Go: 500 "executor not found"; here 403
        world.assign(T0 + NS, world.user)
    assert world.assign(T0 + NS, world.e1) == pid
    assert world.row(pid)["initiatorname"] == "alice"


def test_pending_and_rejected_executors_cannot_assign(world: World) -> None:
    world.submit(T0)
    with pytest.raises(Forbidden):
        world.assign(T0 + NS, world.pending)
    world.db.write(executors.reject_executor, T0, world.owner, "dev", "e2")
    with pytest.raises(Forbidden):
        world.assign(T0 + NS, world.e2)
    with pytest.raises(Forbidden):
        world.assign(T0 + NS, world.e1, colony="prod")


def test_failed_unit_leaves_no_trace(world: World) -> None:
    """A unit that submits and then fails commits nothing: its savepoint is rolled back."""
    def submit_then_fail(tx: Tx) -> None:
        processes.submit(tx, T0, world.e1, world.spec(env={"K": "V"}))
        assert tx.events
        raise RuntimeError("later step failed")

    with pytest.raises(RuntimeError):
        world.db.write(submit_then_fail)
    assert world.db.read(processes.list_processes, T0, world.e1, "dev", 10, 0) == []
    assert world.db.read(lambda tx: tx.one("SELECT COUNT(*) FROM attributes")[0]) == 0


@pytest.mark.parametrize(("change", "message"), [
    ({"priority": 50_001}, "priority outside range"),
    ({"priority": -50_001}, "priority outside range"),
    ({"etype": ""}, "executortype is empty"),
    ({"cpu": "lots"}, "Invalid cpu quantity"),
    ({"mem": "12 parsecs"}, "Invalid memory quantity"),
])
def test_invalid_specs_are_rejected(world: World, change: dict[str, Any], message: str) -> None:
    change = dict(change)  # the parameter is shared by both backends' runs
    cpu, mem = change.pop("cpu", ""), change.pop("mem", "")
    spec = world.spec(**change)
    spec.conditions.cpu, spec.conditions.mem = cpu, mem
    with pytest.raises(BadRequest, match=message):
        world.db.write(processes.submit, T0, world.e1, spec)
    assert world.db.read(processes.list_processes, T0, world.e1, "dev", 10, 0) == []


def test_removed_executor_running_processes_are_requeued_without_retry(world: World) -> None:
    pid = world.submit(T0, maxexectime=60, maxretries=1)
    world.assign(T0 + NS, world.e1)
    events = world.events_of(executors.remove_executor, T0 + 2 * NS, world.owner, "dev", "e1")
    assert ProcessChanged(pid, WAITING, "dev", "cli", True, 0.0, "executor_gone") in events
    row = world.row(pid)
    assert (row["state"], row["isassigned"], row["assignedexecutorid"], row["retries"]) == (WAITING, 0, "", 0)
    assert world.row(pid)["prioritytime"] == T0
    with pytest.raises(Forbidden):  # unregistered: no longer a member
        world.assign(T0 + 3 * NS, world.e1)
    assert world.assign(T0 + 3 * NS, world.e2) == pid
    states = {e.executorname: e.state for e in world.db.read(executors.list_executors, T0, world.e2, "dev")}
    assert states["e1"] == 3  # UNREGISTERED, still listed


def test_stale_executors_are_unregistered_and_their_work_requeued(world: World) -> None:
    pid = world.submit(T0)
    world.assign(T0 + NS, world.e1)  # e1 last heard from at T0+1s; e2 never (zero time: never stale)
    assert world.db.write(executors.unregister_stale, T0 + 700 * NS, T0 + 100 * NS) == 1
    assert world.row(pid)["state"] == WAITING
    assert world.assign(T0 + 701 * NS, world.e2) == pid
    assert world.db.write(executors.unregister_stale, T0 + 800 * NS, T0 + 100 * NS) == 0  # e2 heard at 701s


def test_reporting_allocations_keeps_a_busy_executor_from_going_stale(world: World) -> None:
    pid = world.submit(T0)
    world.assign(T0 + NS, world.e1)  # then busy: no assign calls for a long time
    world.db.write(executors.report_allocations, T0 + 650 * NS, world.e1, "dev", "e1", None)
    assert world.db.write(executors.unregister_stale, T0 + 700 * NS, T0 + 100 * NS) == 0
    assert world.row(pid)["state"] == RUNNING
    with pytest.raises(Forbidden, match="only executor e1 may update itself"):
        world.db.write(executors.report_allocations, T0 + 701 * NS, world.e2, "dev", "e1", None)
    with pytest.raises(Forbidden):
        world.db.write(executors.report_allocations, T0 + 701 * NS, world.user, "dev", "e1", None)
    assert world.db.write(executors.unregister_stale, T0 + 1300 * NS, T0 + 651 * NS) == 1  # silent since 650 s
