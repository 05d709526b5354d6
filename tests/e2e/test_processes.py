"""Process life cycle over a real socket with pycolonies 1.0.25 (PROTOCOL §4.5, §4.6, §6.1, §6.2)."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest
from pycolonies import ColoniesConnectionError

from .conftest import ColonyEnv, run_with_timeout

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _pids(processes: list[dict[str, Any]] | None) -> set[str]:
    assert isinstance(processes, list), f"expected a list, got {processes!r}"
    return {p["processid"] for p in processes}


def test_submit_and_get(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    p = colony.submit(funcname="echo", args=["a", 1], priority=3, maxexectime=30, maxretries=2)
    assert HEX64.match(p.processid)
    assert p.state == 0
    assert p.isassigned is False
    assert p.assignedexecutorid == ""
    assert p.initiatorid == user.id
    assert p.initiatorname == user.name
    assert p.retries == 0
    assert p.processgraphid == ""
    assert p.spec.funcname == "echo"
    assert p.spec.args == ["a", 1]
    assert p.spec.priority == 3
    assert p.spec.maxexectime == 30
    assert p.spec.maxretries == 2
    assert p.spec.conditions.colonyname == colony.name
    assert p.spec.conditions.executortype == colony.default_type
    assert p.errors == [] and p.parents == [] and p.children == []

    g = c.get_process(p.processid, user.prv)
    assert g.processid == p.processid
    assert g.state == 0
    assert g.spec.args == ["a", 1]
    assert g.prioritytime == p.prioritytime
    assert g.submissiontime == p.submissiontime


def test_assign_close(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    p = colony.submit()
    a = c.assign(colony.name, 5, ex.prv)
    assert a.processid == p.processid
    assert a.state == 1
    assert a.isassigned is True
    assert a.assignedexecutorid == ex.id

    running = c.get_process(p.processid, user.prv)
    assert running.state == 1
    assert running.starttime >= running.submissiontime

    assert c.close(p.processid, ["a", 1, 2.5], ex.prv) == {}
    done = c.get_process(p.processid, user.prv)
    assert done.state == 2
    assert done.output == ["a", 1, 2.5]
    assert done.errors == []
    assert done.endtime >= done.starttime
    # isassigned/assignedexecutorid stay set after close (PROTOCOL §5.5)
    assert done.isassigned is True
    assert done.assignedexecutorid == ex.id


def test_fail(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    p = colony.submit()
    c.assign(colony.name, 5, ex.prv)
    assert c.fail(p.processid, ["boom", "bang"], ex.prv) == {}
    f = c.get_process(p.processid, user.prv)
    assert f.state == 3
    assert f.errors == ["boom", "bang"]
    # a failed process cannot be closed as successful
    with pytest.raises(ColoniesConnectionError, match="Tried to set failed process as successful"):
        c.close(p.processid, ["x"], ex.prv)


def test_set_output(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    p = colony.submit()
    c.assign(colony.name, 5, ex.prv)
    assert c.set_output(p.processid, ["partial", 7], ex.prv) == {}
    r = c.get_process(p.processid, user.prv)
    assert r.state == 1
    assert r.output == ["partial", 7]
    # closing with an empty output keeps the earlier set_output (PROTOCOL §4.6)
    c.close(p.processid, [], ex.prv)
    d = c.get_process(p.processid, user.prv)
    assert d.state == 2
    assert d.output == ["partial", 7]
    # set_output on a process that is not running
    with pytest.raises(ColoniesConnectionError, match="Failed to set output, process is not running"):
        c.set_output(p.processid, ["late"], ex.prv)


def test_list_processes_by_state(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    ps = [colony.submit(args=[i]) for i in range(5)]
    # FIFO: assign takes ps[0], ps[1], ps[2]
    a = [c.assign(colony.name, 5, ex.prv) for _ in range(3)]
    assert [x.processid for x in a] == [p.processid for p in ps[:3]]
    c.close(ps[0].processid, ["ok"], ex.prv)
    c.fail(ps[1].processid, ["bad"], ex.prv)

    waiting = c.list_processes(colony.name, 100, 0, user.prv)
    running = c.list_processes(colony.name, 100, 1, user.prv)
    success = c.list_processes(colony.name, 100, 2, user.prv)
    failed = c.list_processes(colony.name, 100, 3, user.prv)
    assert _pids(waiting) == {ps[3].processid, ps[4].processid}
    assert _pids(running) == {ps[2].processid}
    assert _pids(success) == {ps[0].processid}
    assert _pids(failed) == {ps[1].processid}
    # waiting processes are sorted by prioritytime ascending
    assert [p["processid"] for p in waiting] == [ps[3].processid, ps[4].processid]
    assert all(p["state"] == 0 for p in waiting)
    # count limits the result
    assert len(c.list_processes(colony.name, 1, 0, user.prv)) == 1
    # count > 100 is refused
    with pytest.raises(ColoniesConnectionError, match=r"Count is larger than MaxCount limit <100>"):
        c.list_processes(colony.name, 101, 0, user.prv)


def test_remove_process(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    p = colony.submit()
    assert c.remove_process(p.processid, user.prv) == {}
    with pytest.raises(ColoniesConnectionError, match="Failed to get process, process not found"):
        c.get_process(p.processid, user.prv)
    assert c.list_processes(colony.name, 100, 0, user.prv) == []

    r = colony.submit()
    c.assign(colony.name, 5, ex.prv)
    with pytest.raises(ColoniesConnectionError, match="Failed to remove process, cannot remove a running process"):
        c.remove_process(r.processid, user.prv)
    assert c.get_process(r.processid, user.prv).state == 1


def test_remove_all_processes(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    s = colony.submit()
    c.assign(colony.name, 5, ex.prv)
    c.close(s.processid, [], ex.prv)
    w = [colony.submit() for _ in range(3)]

    # state filter: only the successful one goes
    c.remove_all_processes(colony.name, colony.colony_prv, state=2)
    assert c.list_processes(colony.name, 100, 2, user.prv) == []
    assert _pids(c.list_processes(colony.name, 100, 0, user.prv)) == {p.processid for p in w}

    with pytest.raises(ColoniesConnectionError, match="Not possible to remove running processes"):
        c.remove_all_processes(colony.name, colony.colony_prv, state=1)

    # default -1: everything
    assert c.remove_all_processes(colony.name, colony.colony_prv) == {}
    for state in range(4):
        assert c.list_processes(colony.name, 100, state, user.prv) == []
    with pytest.raises(ColoniesConnectionError):
        c.get_process(w[0].processid, user.prv)


def test_priority_order(colony: ColonyEnv) -> None:
    c = colony.client
    ex = colony.new_executor()
    low = colony.submit(priority=0, args=["low"])
    high = colony.submit(priority=5, args=["high"])
    mid = colony.submit(priority=2, args=["mid"])
    neg = colony.submit(priority=-1, args=["neg"])
    # prioritytime = submission_ns - priority * 1 day (PROTOCOL §5.5)
    day = 86_400_000_000_000
    assert high.prioritytime < mid.prioritytime < low.prioritytime < neg.prioritytime
    assert abs((low.prioritytime - high.prioritytime) - 5 * day) < 60 * 10**9

    order = [c.assign(colony.name, 5, ex.prv).processid for _ in range(4)]
    assert order == [high.processid, mid.processid, low.processid, neg.processid]


def test_equal_priority_fifo(colony: ColonyEnv) -> None:
    c = colony.client
    ex = colony.new_executor()
    ps = [colony.submit(priority=1, args=[i]) for i in range(6)]
    order = [c.assign(colony.name, 5, ex.prv).processid for _ in range(6)]
    assert order == [p.processid for p in ps]


def test_priority_out_of_range(colony: ColonyEnv) -> None:
    with pytest.raises(ColoniesConnectionError, match=r"priority outside range \[-50000, 50000\]"):
        colony.submit(priority=50001)


def test_executornames_targeting(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    e1 = colony.new_executor()
    e2 = colony.new_executor()
    targeted = colony.submit(executornames=[e2.name], args=["for-e2"])
    untargeted = colony.submit(args=["anyone"])

    # e1 skips the older targeted process and takes the untargeted one
    got = c.assign(colony.name, 2, e1.prv)
    assert got.processid == untargeted.processid
    # nothing else for e1
    with pytest.raises(ColoniesConnectionError, match="No process available for assignment"):
        c.assign(colony.name, 1, e1.prv)
    assert c.get_process(targeted.processid, user.prv).state == 0

    got2 = c.assign(colony.name, 2, e2.prv)
    assert got2.processid == targeted.processid
    assert got2.assignedexecutorid == e2.id
    assert got2.spec.conditions.executornames == [e2.name]


def test_executortype_matching(colony: ColonyEnv) -> None:
    c = colony.client
    ea = colony.new_executor("type-a")
    eb = colony.new_executor("type-b")
    pb = colony.submit(executortype="type-b")
    with pytest.raises(ColoniesConnectionError, match="No process available for assignment"):
        c.assign(colony.name, 1, ea.prv)
    assert c.assign(colony.name, 2, eb.prv).processid == pb.processid


def test_unapproved_executor_cannot_assign(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    pending = colony.new_executor(approve=False)
    p = colony.submit()
    with pytest.raises(ColoniesConnectionError):
        c.assign(colony.name, 1, pending.prv)
    assert c.get_process(p.processid, user.prv).state == 0
    # after approval it works
    c.approve_executor(colony.name, pending.name, colony.colony_prv)
    assert c.assign(colony.name, 2, pending.prv).processid == p.processid


def test_assign_long_poll_wakes_on_submit(colony: ColonyEnv) -> None:
    c = colony.client
    ex = colony.new_executor()
    box: dict[str, Any] = {}

    def assign() -> None:
        box["start"] = time.monotonic()
        try:
            box["process"] = c.assign(colony.name, 5, ex.prv)
        except Exception as e:
            box["error"] = e
        box["end"] = time.monotonic()

    t = threading.Thread(target=assign, daemon=True)
    t.start()
    time.sleep(0.7)
    assert t.is_alive(), f"assign returned before anything was submitted: {box}"
    t_submit = time.monotonic()
    p = colony.submit()
    t.join(10)
    assert not t.is_alive()
    assert "error" not in box, box.get("error")
    assert box["process"].processid == p.processid
    latency = box["end"] - t_submit
    assert latency < 2.0, f"long-poll assign returned {latency:.2f}s after the submit"
    assert box["end"] - box["start"] >= 0.6


def test_assign_timeout_nothing_available(colony: ColonyEnv) -> None:
    c = colony.client
    ex = colony.new_executor()
    t0 = time.monotonic()
    with pytest.raises(ColoniesConnectionError) as ei:
        run_with_timeout(lambda: c.assign(colony.name, 1, ex.prv), 10, "assign(timeout=1)")
    elapsed = time.monotonic() - t0
    assert str(ei.value) == "No process available for assignment"
    assert 0.8 <= elapsed < 5.0, elapsed


def test_assign_timeout_zero_refused(colony: ColonyEnv) -> None:
    c = colony.client
    ex = colony.new_executor()
    with pytest.raises(ColoniesConnectionError, match="Invalid timeout value, timeout cannot be zero"):
        c.assign(colony.name, 0, ex.prv)


def test_assign_is_exclusive_under_concurrency(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    n_threads, n_procs = 8, 40
    executors = [colony.new_executor() for _ in range(n_threads)]
    lock = threading.Lock()
    got: list[tuple[str, str]] = []  # (processid, executorid)
    errors: list[str] = []
    stop = threading.Event()

    def worker(ex: Any) -> None:
        while not stop.is_set():
            try:
                p = c.assign(colony.name, 1, ex.prv)
            except Exception as e:
                if "No process available" not in str(e):
                    errors.append(str(e))
                continue
            with lock:
                got.append((p.processid, ex.id))
            try:
                c.close(p.processid, [ex.name], ex.prv)
            except Exception as e:
                errors.append(f"close: {e}")

    threads = [threading.Thread(target=worker, args=(ex,), daemon=True) for ex in executors]
    for t in threads:
        t.start()
    submitted = [colony.submit(args=[i]).processid for i in range(n_procs)]

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with lock:
            if len(got) >= n_procs:
                break
        time.sleep(0.05)
    # give a possible double-assignment a moment to show up
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(10)

    pids = [pid for pid, _ in got]
    assert errors == []
    assert len(pids) == len(set(pids)), "a process was assigned more than once"
    assert set(pids) == set(submitted)
    owner = dict(got)
    for pid in submitted[:10]:
        p = c.get_process(pid, user.prv)
        assert p.state == 2
        assert p.assignedexecutorid == owner[pid]
    assert c.list_processes(colony.name, 100, 0, user.prv) == []


def test_colony_stats(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    colony.new_executor(approve=False)
    ps = [colony.submit() for _ in range(5)]
    for _ in range(3):
        c.assign(colony.name, 5, ex.prv)
    c.close(ps[0].processid, [], ex.prv)
    c.fail(ps[1].processid, ["x"], ex.prv)

    st = c.stats(colony.name, user.prv)
    assert st["colonies"] == 1
    assert st["executors"] == 2
    assert st["activeexecutors"] == 1
    assert st["waitingprocesses"] == 2
    assert st["runningprocesses"] == 1
    assert st["successfulprocesses"] == 1
    assert st["failedprocesses"] == 1
    assert st["cancelledprocesses"] == 0
    for k in ("waitingworkflows", "runningworkflows", "successfulworkflows", "failedworkflows"):
        assert st[k] == 0


def test_function_registration_and_counters(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    e1 = colony.new_executor()
    e2 = colony.new_executor()
    f = c.add_function(colony.name, e1.name, "f1", e1.prv)
    assert HEX64.match(f["functionid"])
    assert f["funcname"] == "f1"
    assert f["executorname"] == e1.name
    assert f["colonyname"] == colony.name
    assert f["counter"] == 0
    c.add_function(colony.name, e1.name, "f2", e1.prv)
    c.add_function(colony.name, e2.name, "f1", e2.prv)

    by_e1 = c.get_functions_by_executor(colony.name, e1.name, user.prv)
    assert sorted(x["funcname"] for x in by_e1) == ["f1", "f2"]
    assert all(x["executorname"] == e1.name for x in by_e1)
    by_colony = c.get_functions_by_colony(colony.name, user.prv)
    assert sorted((x["executorname"], x["funcname"]) for x in by_colony) == sorted(
        [(e1.name, "f1"), (e1.name, "f2"), (e2.name, "f1")]
    )

    # run f1 twice on e1; counters are per (closing executor, funcname)
    for _ in range(2):
        p = colony.submit(funcname="f1")
        a = c.assign(colony.name, 5, e1.prv)
        assert a.processid == p.processid
        c.close(p.processid, ["ok"], e1.prv)

    counters = {
        (x["executorname"], x["funcname"]): x
        for x in c.get_functions_by_colony(colony.name, user.prv)
    }
    assert counters[(e1.name, "f1")]["counter"] == 2
    assert counters[(e1.name, "f2")]["counter"] == 0
    assert counters[(e2.name, "f1")]["counter"] == 0
    for k in ("minwaittime", "maxwaittime", "minexectime", "maxexectime", "avgwaittime", "avgexectime"):
        assert counters[(e1.name, "f1")][k] >= 0


def test_wait_returns_at_once_for_already_successful_process(colony: ColonyEnv) -> None:
    """subscribeprocessmsg pushes immediately when the process is already in the state (§1.7)."""
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    p = colony.submit()
    c.assign(colony.name, 5, ex.prv)
    c.close(p.processid, ["done"], ex.prv)
    t0 = time.monotonic()
    done = run_with_timeout(lambda: c.wait(p, 10, user.prv), 20, "wait() on a finished process")
    assert time.monotonic() - t0 < 3.0
    assert done.state == 2
    assert done.output == ["done"]


def test_wait_on_failed_process_ends_only_at_timeout(colony: ColonyEnv) -> None:
    """pycolonies wait() subscribes for SUCCESS only: a FAILED process must not be pushed, so
    wait() ends only when the server closes the socket at the subscription timeout (§1.7, §8 #5).

    (With the Go server the socket is dropped without a close frame and recv() raises; a server
    that sends a proper close frame makes recv() return "" and wait() then returns the FAILED
    process via get_process. Both are accepted here; the timing is what is checked.)"""
    c = colony.client
    ex = colony.new_executor()
    p = colony.submit()
    c.assign(colony.name, 5, ex.prv)
    c.fail(p.processid, ["nope"], ex.prv)
    t0 = time.monotonic()
    box: dict[str, Any] = {}

    def call() -> None:
        try:
            box["process"] = c.wait(p, 2, colony.user.prv)
        except Exception as e:
            box["error"] = e

    run_with_timeout(call, 20, "wait() on a failed process")
    elapsed = time.monotonic() - t0
    assert 1.5 <= elapsed < 10, f"wait() ended after {elapsed:.2f}s: {box}"
    if "process" in box:
        assert box["process"].state == 3
