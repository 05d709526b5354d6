"""Workflows (process graphs) over a real socket with the unmodified pycolonies 1.0.25 SDK.

PROTOCOL.md §4.8 (messages), §5.8-5.9 (shapes), §6.5 (resolution, graph state, failure),
§6.6 (add child), §8 #1-#3 (pycolonies quirks). Every test works in a fresh colony with fresh
keys and a unique executor type, so tests do not see each other's processes.

Deviations from Go that the project chose deliberately, and that these tests pin down:
* an invalid spec (cycle, unknown dependency, missing or duplicate nodename) is a 400 and
  nothing is written;
* a failed non-leaf fails every WAITING/RUNNING process of the graph with the error
  "Workflow failed: process X failed";
* removeallprocessgraphsmsg removes only the graphs in the given state and their processes;
* getprocessesmsg accepts state -1 together with processgraphid.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from model import Conditions, FuncSpec, ProcessGraph, Workflow
from pycolonies import Colonies, ColoniesConnectionError

from .conftest import (
    DEV_COLONY_NAME,
    DEV_USER_PRV,
    SERVER_PRV,
    ColonyEnv,
    Member,
    new_key,
    poll_until,
    run_with_timeout,
)

WAITING, RUNNING, SUCCESS, FAILED, CANCELLED = 0, 1, 2, 3, 4

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def workflow(colony: ColonyEnv, nodes: list[tuple[str, list[str]]], *, executortype: str | None = None,
             funcname: str = "echo", args: Callable[[str], list[Any]] | None = None) -> Workflow:
    """A Workflow of echo nodes: [(nodename, [dependencies...]), ...]; args default to [nodename]."""
    specs = [
        colony.spec(funcname=funcname, executortype=executortype, nodename=name, dependencies=deps,
                    args=args(name) if args else [name])
        for name, deps in nodes
    ]
    return Workflow(colonyname=colony.name, functionspecs=specs)


def submit(colony: ColonyEnv, nodes: list[tuple[str, list[str]]], **kw: Any) -> ProcessGraph:
    return colony.client.submit_workflow(workflow(colony, nodes, **kw), colony.user.prv)


def by_name(client: Colonies, graph: ProcessGraph, prv: str) -> dict[str, Any]:
    """nodename -> Process (model.Process), read fresh from the server."""
    out = {}
    for pid in graph.processids:
        p = client.get_process(pid, prv)
        out[p.spec.nodename] = p
    return out


def graph_state(client: Colonies, gid: str, prv: str) -> int:
    return client.get_processgraph(gid, prv).state


def wait_graph_state(client: Colonies, gid: str, prv: str, state: int, timeout: float = 10) -> ProcessGraph:
    return poll_until(lambda: (g := client.get_processgraph(gid, prv)).state == state and g,
                      timeout, interval=0.05, what=f"graph {gid[:8]} in state {state}")


def cancel_graph(client: Colonies, gid: str, prv: str) -> Any:
    # pycolonies 1.0.25 has no helper for cancelprocessgraphmsg (PROTOCOL §4.8)
    return client._Colonies__rpc({"msgtype": "cancelprocessgraphmsg", "processgraphid": gid}, prv)


def all_graphs(client: Colonies, colonyname: str, prv: str) -> dict[int, list[str]]:
    """state -> [graph ids] for every state 0..4."""
    return {s: [g["processgraphid"] for g in client.get_processgraphs(colonyname, 100, prv, state=s)]
            for s in range(5)}


def run_sync(colony: ColonyEnv, ex: Member, n: int, out: Callable[[Any], list[Any]] | None = None) -> list[Any]:
    """Assign and close n processes in the caller's thread; returns the assigned processes."""
    c, done = colony.client, []
    for _ in range(n):
        p = c.assign(colony.name, 5, ex.prv)
        c.close(p.processid, out(p) if out else [p.spec.nodename], ex.prv)
        done.append(p)
    return done


class Recorder:
    """Thread-safe event log shared by executor threads: (monotonic time, kind, nodename, pid, executor)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[float, str, str, str, str]] = []
        self.violations: list[str] = []

    def add(self, kind: str, p: Any, who: str) -> None:
        with self.lock:
            self.events.append((time.monotonic(), kind, p.spec.nodename, p.processid, who))

    def times(self, kind: str) -> dict[str, float]:
        with self.lock:
            return {node: t for t, k, node, _, _ in self.events if k == kind}

    def nodes(self, kind: str) -> list[str]:
        with self.lock:
            return [node for _, k, node, _, _ in self.events if k == kind]


class DagExecutor:
    """An executor thread: long-polls assign (timeout 1 s); for each assigned process it records
    "assigned", checks over the API that every parent is already SUCCESS, then runs
    `behave(self, p)` (default: sleep `hold`, record "closing", close with out=args or
    [nodename], record "closed")."""

    def __init__(self, colony: ColonyEnv, member: Member, rec: Recorder, *, hold: float = 0.0,
                 behave: Callable[[DagExecutor, Any], None] | None = None) -> None:
        self.colony, self.member, self.rec, self.hold, self.behave = colony, member, rec, hold, behave
        self.client = Colonies(colony.client.host, colony.client.port)
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"dagexec-{member.name}")

    def close(self, p: Any, out: list[Any] | None = None) -> None:
        time.sleep(self.hold)
        self.rec.add("closing", p, self.member.name)
        self.client.close(p.processid, out if out is not None else (list(p.spec.args) or [p.spec.nodename]),
                          self.member.prv)
        self.rec.add("closed", p, self.member.name)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                p = self.client.assign(self.colony.name, 1, self.member.prv)
            except ColoniesConnectionError:
                continue
            self.rec.add("assigned", p, self.member.name)
            try:
                for parent in p.parents:
                    st = self.client.get_process(parent, self.member.prv).state
                    if st != SUCCESS:
                        self.rec.violations.append(
                            f"{p.spec.nodename} assigned while parent {parent[:8]} in state {st}")
                if self.behave is not None:
                    self.behave(self, p)
                else:
                    self.close(p)
            except BaseException as e:
                self.errors.append(e)

    def __enter__(self) -> DagExecutor:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)


@contextlib.contextmanager
def running(workers: list[DagExecutor]) -> Iterator[list[DagExecutor]]:
    """Start executor threads; on exit stop them all first, then join (each long-polls 1 s)."""
    for w in workers:
        w.thread.start()
    try:
        yield workers
    finally:
        for w in workers:
            w.stop.set()
        for w in workers:
            w.thread.join(5)


def t_of(ts: str | datetime) -> datetime:
    return ts if isinstance(ts, datetime) else datetime.fromisoformat(ts)


# --------------------------------------------------------------------------------------------
# the 4-node echo DAG (PROTOCOL §6.5, examples/workflows/workflow.json of the tutorial)
# --------------------------------------------------------------------------------------------

DIAMOND = [("a", []), ("b", ["a"]), ("c", ["a"]), ("d", ["b", "c"])]


def test_diamond_dag_order_and_graph(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    execs = [colony.new_executor() for _ in range(3)]
    g = submit(colony, DIAMOND)

    # submit reply (PROTOCOL §4.8): waiting, 4 processes, one root, nodes/edges empty
    assert g.state == WAITING
    assert g.colonyname == colony.name
    assert g.initiatorid == user.id and g.initiatorname == user.name
    assert len(g.processids) == 4 and len(set(g.processids)) == 4
    assert g.nodes == [] and g.edges == []
    before = by_name(c, g, user.prv)
    assert g.rootprocessids == [before["a"].processid]
    assert before["a"].waitforparents is False
    assert all(before[n].waitforparents is True for n in "bcd")
    assert all(p.state == WAITING and p.processgraphid == g.processgraphid for p in before.values())
    assert before["b"].parents == [before["a"].processid]
    assert before["d"].parents == [before["b"].processid, before["c"].processid]
    assert set(before["a"].children) == {before["b"].processid, before["c"].processid}
    assert all(p.spec.conditions.colonyname == colony.name for p in before.values())
    assert all(p.spec.maxexectime == 60 for p in before.values())

    rec = Recorder()
    workers = [DagExecutor(colony, ex, rec, hold=0.3) for ex in execs]
    with running(workers):
        final = wait_graph_state(c, g.processgraphid, user.prv, SUCCESS, timeout=12)
    assert [e for w in workers for e in w.errors] == []
    assert rec.violations == []

    order = rec.nodes("assigned")
    assert sorted(order) == ["a", "b", "c", "d"], order  # each ran exactly once
    assert order[0] == "a" and order[-1] == "d" and set(order[1:3]) == {"b", "c"}
    assigned, closing = rec.times("assigned"), rec.times("closing")
    for child, parents in DIAMOND:
        for parent in parents:
            assert assigned[child] > closing[parent], f"{child} assigned before {parent} was closed"

    after = by_name(c, g, user.prv)
    assert all(p.state == SUCCESS for p in after.values())
    for child, parents in DIAMOND:  # server clock agrees
        for parent in parents:
            assert t_of(after[child].starttime) >= t_of(after[parent].endtime)
    # parent output -> child input, concatenated in `parents` order (PROTOCOL §6.5)
    assert after["a"].input == [] and after["a"].output == ["a"]
    assert after["b"].input == ["a"] and after["c"].input == ["a"]
    assert after["d"].input == ["b", "c"]

    # the graph as drawn by getprocessgraphmsg (PROTOCOL §5.8)
    assert final.state == SUCCESS
    assert t_of(final.endtime) >= t_of(final.starttime) >= t_of(final.submissiontime)
    assert len(final.nodes) == 4 and len(final.edges) == 4
    pid = {n: p.processid for n, p in after.items()}
    labels = {node.id: node.data["label"] for node in final.nodes}
    assert labels == {pid[n]: n for n in "abcd"}
    assert {(e.source, e.target) for e in final.edges} == {
        (pid["a"], pid["b"]), (pid["a"], pid["c"]), (pid["b"], pid["d"]), (pid["c"], pid["d"])}
    assert all(e.id == f"{e.source}-{e.target}" for e in final.edges)
    assert all(e.animated is False for e in final.edges)
    types = {labels[node.id]: node.type for node in final.nodes}
    assert types == {"a": "input", "b": "", "c": "", "d": "output"}
    assert all(node.style.get("background") == "#92d050" for node in final.nodes)  # success colour
    ys = {labels[node.id]: node.position.y for node in final.nodes}
    assert ys == {"a": 0, "b": 80, "c": 80, "d": 160}  # depth x 80 (PROTOCOL §5.8)
    xs = {labels[node.id]: node.position.x for node in final.nodes}
    assert xs["b"] != xs["c"]
    assert set(final.processids) == set(g.processids)


def test_running_graph_state_and_animated_edge(colony: ColonyEnv) -> None:
    """Graph state rolls up: WAITING -> RUNNING on the first assignment -> SUCCESS (§6.5)."""
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    g = submit(colony, [("a", []), ("b", ["a"])])
    gid = g.processgraphid
    assert graph_state(c, gid, user.prv) == WAITING
    a = c.assign(colony.name, 5, ex.prv)
    assert a.spec.nodename == "a"
    running = c.get_processgraph(gid, user.prv)
    assert running.state == RUNNING
    assert t_of(running.starttime) >= t_of(running.submissiontime)
    assert [e.animated for e in running.edges] == [True]  # the parent is RUNNING
    c.close(a.processid, ["x"], ex.prv)
    assert graph_state(c, gid, user.prv) == RUNNING  # a SUCCESS, b WAITING
    b = c.assign(colony.name, 5, ex.prv)
    assert b.spec.nodename == "b" and b.input == ["x"]
    c.close(b.processid, [], ex.prv)
    assert graph_state(c, gid, user.prv) == SUCCESS


# --------------------------------------------------------------------------------------------
# data passing with the sample executor (tutorial "Passing data between processes")
# --------------------------------------------------------------------------------------------


def test_gen_sum_with_sample_executor(dev_server) -> None:  # type: ignore[no-untyped-def]
    c = Colonies("127.0.0.1", dev_server.port)
    gen = FuncSpec(funcname="gen", nodename="gen_node",
                   conditions=Conditions(colonyname=DEV_COLONY_NAME, executortype="cli"))
    total = FuncSpec(funcname="sum", nodename="sum_node",
                     conditions=Conditions(colonyname=DEV_COLONY_NAME, executortype="cli", dependencies=["gen_node"]))
    wf = Workflow(colonyname=DEV_COLONY_NAME)
    wf.functionspecs.append(gen)
    wf.functionspecs.append(total)
    g = c.submit_workflow(wf, DEV_USER_PRV)
    s = c.find_process("sum_node", g.processids, DEV_USER_PRV)
    assert s is not None and s.parents == g.rootprocessids
    s = run_with_timeout(lambda: c.wait(s, 10, DEV_USER_PRV), 14, "wait(sum_node)")
    assert s.state == SUCCESS
    gp = c.find_process("gen_node", g.processids, DEV_USER_PRV)
    assert gp.state == SUCCESS
    assert len(gp.output) == 5 and all(isinstance(v, int) and 1 <= v <= 100 for v in gp.output)
    assert s.input == gp.output
    assert s.output == [sum(gp.output)]
    assert graph_state(c, g.processgraphid, DEV_USER_PRV) == SUCCESS


def test_gen_sum_with_own_executor(colony: ColonyEnv) -> None:
    """The tutorial's wf_executor, written with pycolonies, against our server."""
    c, user = colony.client, colony.user
    ex = colony.new_executor()

    def behave(w: DagExecutor, p: Any) -> None:
        if p.spec.funcname == "gen":
            w.close(p, [7, 11, 23, 42, 99])
        elif p.spec.funcname == "sum":
            w.close(p, [sum(p.input)])
        else:
            w.client.fail(p.processid, ["Unknown function"], w.member.prv)

    nodes = [("gen_node", []), ("sum_node", ["gen_node"])]
    wf = Workflow(colonyname=colony.name, functionspecs=[
        colony.spec(funcname=n.split("_")[0], nodename=n, dependencies=d) for n, d in nodes])
    g = c.submit_workflow(wf, user.prv)
    with DagExecutor(colony, ex, Recorder(), behave=behave) as w:
        wait_graph_state(c, g.processgraphid, user.prv, SUCCESS)
    assert w.errors == []
    procs = by_name(c, g, user.prv)
    assert procs["sum_node"].input == [7, 11, 23, 42, 99]
    assert procs["sum_node"].output == [182]


# --------------------------------------------------------------------------------------------
# failure (PROTOCOL §6.5 "Failure cascade")
# --------------------------------------------------------------------------------------------


def test_failing_parent_fails_graph(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    g = submit(colony, DIAMOND)
    rec = Recorder()

    def behave(w: DagExecutor, p: Any) -> None:
        w.rec.add("failing", p, w.member.name)
        w.client.fail(p.processid, ["boom"], w.member.prv)

    with DagExecutor(colony, ex, rec, behave=behave) as w:
        final = wait_graph_state(c, g.processgraphid, user.prv, FAILED)
        time.sleep(1.5)  # give a wrongly released child the chance to be assigned
    assert w.errors == []
    assert rec.nodes("assigned") == ["a"]
    assert final.state == FAILED
    assert t_of(final.endtime) >= t_of(final.starttime)
    procs = by_name(c, g, user.prv)
    assert procs["a"].state == FAILED and procs["a"].errors == ["boom"]
    for n in "bcd":
        p = procs[n]
        assert p.state == FAILED, n
        assert p.isassigned is False and p.assignedexecutorid == ""
        assert p.errors and "failed" in p.errors[0].lower(), p.errors
    drawn = c.get_processgraph(g.processgraphid, user.prv)
    assert all(node.style.get("background") == "#cb4239" for node in drawn.nodes)
    with pytest.raises(ColoniesConnectionError):
        c.assign(colony.name, -1, ex.prv)  # nothing is left to assign
    stats = c.stats(colony.name, user.prv)
    assert stats["failedworkflows"] == 1 and stats["failedprocesses"] == 4 and stats["waitingprocesses"] == 0


def test_failure_cascade_includes_running_siblings(colony: ColonyEnv) -> None:
    """a -> {b, c} -> d: b fails while c is RUNNING; c is failed by the cascade, and its
    executor's later close is refused (PROTOCOL §6.5)."""
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    g = submit(colony, DIAMOND)
    run_sync(colony, ex, 1)  # a
    p1 = c.assign(colony.name, 5, ex.prv)
    p2 = c.assign(colony.name, 5, ex.prv)
    assert {p1.spec.nodename, p2.spec.nodename} == {"b", "c"}
    c.fail(p1.processid, ["bad"], ex.prv)
    assert graph_state(c, g.processgraphid, user.prv) == FAILED
    assert c.get_process(p2.processid, user.prv).state == FAILED
    with pytest.raises(ColoniesConnectionError):
        c.close(p2.processid, ["late"], ex.prv)
    procs = by_name(c, g, user.prv)
    assert procs["a"].state == SUCCESS  # we do not touch already finished processes
    assert procs["d"].state == FAILED


def test_failed_leaf_fails_graph_without_cascade(colony: ColonyEnv) -> None:
    """A failed leaf triggers no cascade: its sibling still runs, the graph is FAILED (§6.5)."""
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    g = submit(colony, [("a", []), ("b", ["a"]), ("c", ["a"])])
    run_sync(colony, ex, 1)
    first = c.assign(colony.name, 5, ex.prv)
    c.fail(first.processid, ["leaf failed"], ex.prv)
    assert graph_state(c, g.processgraphid, user.prv) == FAILED
    second = c.assign(colony.name, 5, ex.prv)  # the sibling is still assignable
    assert {first.spec.nodename, second.spec.nodename} == {"b", "c"}
    c.close(second.processid, ["ok"], ex.prv)
    assert c.get_process(second.processid, user.prv).state == SUCCESS
    assert graph_state(c, g.processgraphid, user.prv) == FAILED


def test_exec_timeout_of_parent_fails_graph(colony: ColonyEnv) -> None:
    """maxexectime expiry (the 1 s server loop) goes through the same resolution (§6.4, §6.5)."""
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    wf = workflow(colony, [("a", []), ("b", ["a"])])
    wf.functionspecs[0].maxexectime = 1
    g = c.submit_workflow(wf, user.prv)
    a = c.assign(colony.name, 5, ex.prv)
    assert a.spec.nodename == "a"
    wait_graph_state(c, g.processgraphid, user.prv, FAILED, timeout=8)
    procs = by_name(c, g, user.prv)
    assert procs["a"].state == FAILED and procs["a"].errors == ["Maximum execution time limit exceeded"]
    assert procs["b"].state == FAILED
    with pytest.raises(ColoniesConnectionError):
        c.close(a.processid, ["late"], ex.prv)


# --------------------------------------------------------------------------------------------
# dynamic DAG: addchildmsg (PROTOCOL §6.6)
# --------------------------------------------------------------------------------------------


def child_spec(colony: ColonyEnv, name: str, funcname: str = "echo") -> FuncSpec:
    return colony.spec(funcname=funcname, args=[name])


def test_add_child_runs_after_parent(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    execs = [colony.new_executor() for _ in range(2)]
    g = submit(colony, [("a", [])])
    gid = g.processgraphid
    rec, added = Recorder(), {}

    def behave(w: DagExecutor, p: Any) -> None:
        if p.spec.nodename == "a":
            added["x"] = w.client.add_child(gid, p.processid, "", child_spec(colony, "x"), "x", False, w.member.prv)
            w.hold = 0.5  # the other executor polls meanwhile: x must not be handed out yet
            w.close(p, ["from-a"])
            w.hold = 0.0
        else:
            w.close(p)

    workers = [DagExecutor(colony, ex, rec, behave=behave) for ex in execs]
    with running(workers):
        final = wait_graph_state(c, gid, user.prv, SUCCESS)
        poll_until(lambda: len(rec.nodes("closed")) == 2, 5, what="x closed")
    assert [e for w in workers for e in w.errors] == []
    assert rec.violations == []
    assert rec.nodes("assigned") == ["a", "x"]
    assert rec.times("assigned")["x"] > rec.times("closing")["a"]

    x = added["x"]
    assert isinstance(x, dict) and x["state"] == WAITING and x["waitforparents"] is True
    assert x["processgraphid"] == gid and x["spec"]["nodename"] == "x"
    procs = by_name(c, c.get_processgraph(gid, user.prv), user.prv)
    assert set(procs) == {"a", "x"}
    assert procs["x"].parents == [procs["a"].processid]
    assert procs["a"].children == [procs["x"].processid]
    assert procs["x"].input == ["from-a"] and procs["x"].output == ["x"]
    assert len(final.processids) == 2
    assert {(e.source, e.target) for e in final.edges} == {(procs["a"].processid, procs["x"].processid)}


def test_add_child_insert_splices_between_parent_and_children(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    execs = [colony.new_executor() for _ in range(3)]
    g = submit(colony, [("a", []), ("b", ["a"]), ("c", ["a"])])
    gid = g.processgraphid
    rec = Recorder()

    def behave(w: DagExecutor, p: Any) -> None:
        name = p.spec.nodename
        if name == "a":
            w.client.add_child(gid, p.processid, "", child_spec(colony, "n"), "n", True, w.member.prv)
            w.close(p, ["A"])
        elif name == "n":
            w.hold = 0.4  # b and c must wait for n even though a is done
            w.close(p, ["N"])
            w.hold = 0.0
        else:
            w.close(p, [name.upper()])

    workers = [DagExecutor(colony, ex, rec, behave=behave) for ex in execs]
    with running(workers):
        final = wait_graph_state(c, gid, user.prv, SUCCESS)
    assert [e for w in workers for e in w.errors] == []
    assert rec.violations == []
    order = rec.nodes("assigned")
    assert order[:2] == ["a", "n"] and sorted(order[2:]) == ["b", "c"], order
    assigned, closing = rec.times("assigned"), rec.times("closing")
    assert assigned["n"] > closing["a"]
    assert assigned["b"] > closing["n"] and assigned["c"] > closing["n"]

    procs = by_name(c, final, user.prv)
    pid = {k: v.processid for k, v in procs.items()}
    assert procs["n"].input == ["A"]
    assert procs["b"].input == ["N"] and procs["c"].input == ["N"]
    assert procs["a"].children == [pid["n"]]
    assert set(procs["n"].children) == {pid["b"], pid["c"]}
    assert procs["b"].parents == [pid["n"]] and procs["c"].parents == [pid["n"]]
    assert {(e.source, e.target) for e in final.edges} == {(pid["a"], pid["n"]), (pid["n"], pid["b"]),
                                                          (pid["n"], pid["c"])}
    assert {n.data["label"] for n in final.nodes} == {"a", "n", "b", "c"}


def test_add_child_with_childprocessid_adds_a_parent(colony: ColonyEnv) -> None:
    """insert=False with childprocessid: the existing child now also waits for the new node, and
    its input is the concatenation of both parents' outputs (PROTOCOL §6.6)."""
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    g = submit(colony, [("a", []), ("b", ["a"])])
    gid = g.processgraphid
    b_id = c.find_process("b", g.processids, user.prv).processid
    a = c.assign(colony.name, 5, ex.prv)
    x = c.add_child(gid, a.processid, b_id, child_spec(colony, "x"), "x", False, ex.prv)
    c.close(a.processid, ["A"], ex.prv)
    nxt = c.assign(colony.name, 5, ex.prv)
    assert nxt.processid == x["processid"], "b must wait for the new parent x"
    with pytest.raises(ColoniesConnectionError):
        c.assign(colony.name, -1, ex.prv)  # b still waits for x
    c.close(nxt.processid, ["X"], ex.prv)
    b = c.assign(colony.name, 5, ex.prv)
    assert b.processid == b_id
    assert b.parents == [a.processid, x["processid"]]
    assert b.input == ["A", "X"]
    c.close(b.processid, [], ex.prv)
    assert graph_state(c, gid, user.prv) == SUCCESS


def test_add_child_to_a_waiting_root_holds_it(colony: ColonyEnv) -> None:
    """Two independent roots a and r; a's executor adds x with childprocessid=r, so r (already
    assignable) must now wait for x, which waits for a."""
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    g = submit(colony, [("a", []), ("r", [])])
    a = c.assign(colony.name, 5, ex.prv)
    assert a.spec.nodename == "a"
    r_id = c.find_process("r", g.processids, user.prv).processid
    x = c.add_child(g.processgraphid, a.processid, r_id, child_spec(colony, "x"), "x", False, ex.prv)
    assert c.get_process(r_id, user.prv).waitforparents is True
    with pytest.raises(ColoniesConnectionError):
        c.assign(colony.name, -1, ex.prv)  # r is held, x waits for a
    c.close(a.processid, ["A"], ex.prv)
    p = c.assign(colony.name, 5, ex.prv)
    assert p.processid == x["processid"] and p.input == ["A"]
    c.close(p.processid, ["X"], ex.prv)
    r = c.assign(colony.name, 5, ex.prv)
    assert r.processid == r_id and r.parents == [x["processid"]] and r.input == ["X"]
    c.close(r.processid, [], ex.prv)
    final = c.get_processgraph(g.processgraphid, user.prv)
    assert final.state == SUCCESS and len(final.processids) == 3 and len(final.edges) == 2


def test_add_child_errors(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    ex, other = colony.new_executor(), colony.new_executor()
    g = submit(colony, [("a", []), ("b", ["a"])])
    gid = g.processgraphid
    b_id = c.find_process("b", g.processids, user.prv).processid
    a = c.assign(colony.name, 5, ex.prv)

    # unknown parent: an error (Go dereferences nil here), and the server keeps serving
    with pytest.raises(ColoniesConnectionError):
        c.add_child(gid, "f" * 64, "", child_spec(colony, "x"), "x", False, ex.prv)
    assert c.get_colony(colony.name, user.prv)["name"] == colony.name
    # another executor (not the one the parent is assigned to), and a plain user
    with pytest.raises(ColoniesConnectionError):
        c.add_child(gid, a.processid, "", child_spec(colony, "x"), "x", False, other.prv)
    with pytest.raises(ColoniesConnectionError):
        c.add_child(gid, a.processid, "", child_spec(colony, "x"), "x", False, user.prv)
    # a parent that is not running
    with pytest.raises(ColoniesConnectionError):
        c.add_child(gid, b_id, "", child_spec(colony, "x"), "x", False, ex.prv)
    # a parent that does not belong to a graph
    single = colony.submit(funcname="echo", args=["s"])
    s = c.assign(colony.name, 5, ex.prv)
    assert s.processid == single.processid
    with pytest.raises(ColoniesConnectionError):
        c.add_child(gid, s.processid, "", child_spec(colony, "x"), "x", False, ex.prv)
    c.close(s.processid, [], ex.prv)
    # a key no colony knows
    with pytest.raises(ColoniesConnectionError):
        c.add_child(gid, a.processid, "", child_spec(colony, "x"), "x", False, new_key()[0])

    # none of the failed calls changed the graph
    assert len(c.get_processgraph(gid, user.prv).processids) == 2
    assert c.get_process(a.processid, user.prv).children == [b_id]
    # and the legitimate call still works afterwards
    x = c.add_child(gid, a.processid, "", child_spec(colony, "x"), "x", False, ex.prv)
    assert x["parents"] == [a.processid]
    c.close(a.processid, ["A"], ex.prv)
    rest = run_sync(colony, ex, 2)
    assert {p.spec.nodename for p in rest} == {"b", "x"}
    assert graph_state(c, gid, user.prv) == SUCCESS


# --------------------------------------------------------------------------------------------
# cancel (cancelprocessgraphmsg, PROTOCOL §4.8 / §6.5)
# --------------------------------------------------------------------------------------------


def test_cancel_workflow(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    g = submit(colony, [("a", []), ("b", ["a"]), ("c", ["b"])])
    gid = g.processgraphid
    a = c.assign(colony.name, 5, ex.prv)
    assert cancel_graph(c, gid, user.prv) == {}
    final = c.get_processgraph(gid, user.prv)
    assert final.state == CANCELLED
    assert t_of(final.endtime) >= t_of(final.submissiontime)
    procs = by_name(c, final, user.prv)
    assert {n: p.state for n, p in procs.items()} == {"a": CANCELLED, "b": CANCELLED, "c": CANCELLED}
    with pytest.raises(ColoniesConnectionError):
        c.assign(colony.name, 1, ex.prv)  # nothing assignable
    with pytest.raises(ColoniesConnectionError):
        c.close(a.processid, ["late"], ex.prv)  # the running one was cancelled
    assert c.get_process(a.processid, user.prv).state == CANCELLED
    assert all(node.style.get("background") == "#f5a623" for node in final.nodes)
    stats = c.stats(colony.name, user.prv)
    assert stats["cancelledworkflows"] == 1 and stats["cancelledprocesses"] == 3


def test_cancel_waiting_workflow_and_errors(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    g = submit(colony, DIAMOND)
    keep = submit(colony, [("k", [])])
    cancel_graph(c, g.processgraphid, user.prv)
    assert graph_state(c, g.processgraphid, user.prv) == CANCELLED
    # the other graph is untouched and still runs
    p = c.assign(colony.name, 5, ex.prv)
    assert p.processgraphid == keep.processgraphid
    c.close(p.processid, [], ex.prv)
    with pytest.raises(ColoniesConnectionError):
        c.assign(colony.name, -1, ex.prv)
    # unknown graph; non-member
    with pytest.raises(ColoniesConnectionError):
        cancel_graph(c, "e" * 64, user.prv)
    with pytest.raises(ColoniesConnectionError):
        cancel_graph(c, keep.processgraphid, new_key()[0])
    assert graph_state(c, keep.processgraphid, user.prv) == SUCCESS
    # a single process of a graph cannot be cancelled or removed on its own (§4.6)
    g2 = submit(colony, [("z", [])])
    z = g2.processids[0]
    with pytest.raises(ColoniesConnectionError):
        c._Colonies__rpc({"msgtype": "cancelprocessmsg", "processid": z}, user.prv)
    with pytest.raises(ColoniesConnectionError):
        c.remove_process(z, user.prv)
    assert c.get_process(z, user.prv).state == WAITING


# --------------------------------------------------------------------------------------------
# remove (removeprocessgraphmsg, removeallprocessgraphsmsg)
# --------------------------------------------------------------------------------------------


def test_remove_processgraph(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    done = submit(colony, [("a", []), ("b", ["a"])])
    run_sync(colony, ex, 2)
    assert graph_state(c, done.processgraphid, user.prv) == SUCCESS
    assert c.remove_processgraph(done.processgraphid, user.prv) == {}
    with pytest.raises(ColoniesConnectionError):
        c.get_processgraph(done.processgraphid, user.prv)
    for pid in done.processids:
        with pytest.raises(ColoniesConnectionError):
            c.get_process(pid, user.prv)
    with pytest.raises(ColoniesConnectionError):
        c.remove_processgraph(done.processgraphid, user.prv)  # already gone

    running = submit(colony, [("a", []), ("b", ["a"])])
    a = c.assign(colony.name, 5, ex.prv)
    assert graph_state(c, running.processgraphid, user.prv) == RUNNING
    with pytest.raises(ColoniesConnectionError):
        c.remove_processgraph(running.processgraphid, user.prv)
    assert len(c.get_processgraph(running.processgraphid, user.prv).processids) == 2
    c.close(a.processid, [], ex.prv)
    assert graph_state(c, running.processgraphid, user.prv) == RUNNING  # b still waiting
    with pytest.raises(ColoniesConnectionError):
        c.remove_processgraph(running.processgraphid, user.prv)

    waiting = submit(colony, [("w", [])])
    c.remove_processgraph(waiting.processgraphid, user.prv)  # a waiting graph can be removed
    with pytest.raises(ColoniesConnectionError):
        c.get_process(waiting.processids[0], user.prv)
    assert c.stats(colony.name, user.prv)["waitingworkflows"] == 0


def test_remove_processgraph_removes_attributes(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    wf = workflow(colony, [("a", [])])
    wf.functionspecs[0].env = {"GREETING": "hi"}
    g = c.submit_workflow(wf, user.prv)
    a = c.assign(colony.name, 5, ex.prv)
    attr = c.add_attribute(a.processid, "result", "42", ex.prv)
    assert attr["targetprocessgraphid"] == g.processgraphid
    env = [x for x in (c.get_process(a.processid, user.prv).attributes or []) if x.key == "GREETING"]
    assert env and env[0].value == "hi"
    c.close(a.processid, [], ex.prv)
    assert c.get_attribute(attr["attributeid"], user.prv)["value"] == "42"
    c.remove_processgraph(g.processgraphid, user.prv)
    with pytest.raises(ColoniesConnectionError):
        c.get_attribute(attr["attributeid"], user.prv)


def test_remove_all_processgraphs_by_state(colony: ColonyEnv) -> None:
    c, user, owner = colony.client, colony.user, colony.colony_prv
    ex = colony.new_executor()
    ok1 = submit(colony, [("a", [])])
    ok2 = submit(colony, [("a", [])])
    run_sync(colony, ex, 2)
    part = submit(colony, [("p", []), ("q", ["p"])])  # RUNNING: p SUCCESS, q WAITING
    run_sync(colony, ex, 1)
    waiting = submit(colony, [("w", []), ("v", ["w"])])
    standalone = colony.submit(funcname="echo", args=["solo"])
    graphs = all_graphs(c, colony.name, user.prv)
    assert set(graphs[SUCCESS]) == {ok1.processgraphid, ok2.processgraphid}
    assert graphs[RUNNING] == [part.processgraphid] and graphs[WAITING] == [waiting.processgraphid]

    # only the colony owner may do this, and never for running graphs
    with pytest.raises(ColoniesConnectionError):
        c.remove_all_processgraphs(colony.name, user.prv, state=SUCCESS)
    with pytest.raises(ColoniesConnectionError):
        c.remove_all_processgraphs(colony.name, owner, state=RUNNING)
    assert all_graphs(c, colony.name, user.prv) == graphs

    c.remove_all_processgraphs(colony.name, owner, state=SUCCESS)
    graphs = all_graphs(c, colony.name, user.prv)
    assert graphs[SUCCESS] == []
    assert graphs[RUNNING] == [part.processgraphid] and graphs[WAITING] == [waiting.processgraphid]
    for pid in ok1.processids + ok2.processids:
        with pytest.raises(ColoniesConnectionError):
            c.get_process(pid, user.prv)
    # other graphs' processes are intact, including the SUCCESS one of the running graph
    # (deviation from Go, which removes every workflow process in the state)
    p = c.find_process("p", part.processids, user.prv)
    assert p is not None and p.state == SUCCESS
    assert c.find_process("q", part.processids, user.prv).state == WAITING
    assert all(c.get_process(pid, user.prv).state == WAITING for pid in waiting.processids)
    assert c.get_process(standalone.processid, user.prv).state == WAITING

    # pycolonies without state sends nothing: 0 = waiting graphs only (PROTOCOL §8 #3)
    c.remove_all_processgraphs(colony.name, owner)
    graphs = all_graphs(c, colony.name, user.prv)
    assert graphs[WAITING] == [] and graphs[RUNNING] == [part.processgraphid]
    for pid in waiting.processids:
        with pytest.raises(ColoniesConnectionError):
            c.get_process(pid, user.prv)
    assert len(c.get_processgraph(part.processgraphid, user.prv).processids) == 2

    # -1: every graph, and nothing else
    c.remove_all_processgraphs(colony.name, owner, state=-1)
    assert all_graphs(c, colony.name, user.prv) == {s: [] for s in range(5)}
    assert c.get_process(standalone.processid, user.prv).state == WAITING
    stats = c.stats(colony.name, user.prv)
    assert stats["waitingprocesses"] == 1 and stats["successfulprocesses"] == 0
    assert sum(stats[k] for k in ("waitingworkflows", "runningworkflows", "successfulworkflows",
                                  "failedworkflows", "cancelledworkflows")) == 0


def test_remove_all_processgraphs_other_states(colony: ColonyEnv) -> None:
    c, user, owner = colony.client, colony.user, colony.colony_prv
    ex = colony.new_executor()
    failed = submit(colony, [("f", []), ("g", ["f"])])
    p = c.assign(colony.name, 5, ex.prv)
    c.fail(p.processid, ["x"], ex.prv)
    cancelled = submit(colony, [("k", [])])
    cancel_graph(c, cancelled.processgraphid, user.prv)
    other = submit(colony, [("o", [])])
    c.remove_all_processgraphs(colony.name, owner, state=FAILED)
    graphs = all_graphs(c, colony.name, user.prv)
    assert graphs[FAILED] == [] and graphs[CANCELLED] == [cancelled.processgraphid]
    c.remove_all_processgraphs(colony.name, owner, state=CANCELLED)
    graphs = all_graphs(c, colony.name, user.prv)
    assert graphs == {0: [other.processgraphid], 1: [], 2: [], 3: [], 4: []}
    for pid in failed.processids + cancelled.processids:
        with pytest.raises(ColoniesConnectionError):
            c.get_process(pid, user.prv)
    assert c.get_process(other.processids[0], user.prv).state == WAITING


# --------------------------------------------------------------------------------------------
# invalid specs: 400, nothing written
# --------------------------------------------------------------------------------------------


def _snapshot(colony: ColonyEnv) -> tuple[dict[str, int], dict[int, list[str]], list[Any]]:
    c, prv = colony.client, colony.user.prv
    return (c.stats(colony.name, prv), all_graphs(c, colony.name, prv),
            c.list_processes(colony.name, 100, WAITING, prv))


@pytest.mark.parametrize(
    ("nodes", "needle"),
    [
        ([("a", ["b"]), ("b", ["a"])], "cycle"),
        ([("r", []), ("a", ["r", "c"]), ("b", ["a"]), ("c", ["b"])], "cycle"),
        ([("a", ["a"])], "itself"),
        ([("a", []), ("b", ["nope"])], "dependenc"),
        ([("a", []), ("a", [])], "Duplicate nodename"),
        ([("a", []), ("", ["a"])], "Nodename is missing"),
        ([("a", []), ("b", ["a"]), ("c", ["b"]), ("d", ["c", "zz"])], "dependenc"),
        ([("a", []), ("b", ["a"]), ("c", ["b"]), ("e", ["c"]), ("f", ["e"]), ("b2", ["f"]), ("a", [])],
         "Duplicate nodename"),
    ],
    ids=["two-cycle", "cycle-behind-root", "self-loop", "unknown-dependency", "duplicate-nodename", "no-nodename",
         "unknown-dependency-deep", "duplicate-nodename-late"],
)
def test_invalid_workflow_spec_creates_nothing(colony: ColonyEnv, nodes: list[tuple[str, list[str]]],
                                               needle: str) -> None:
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    before = _snapshot(colony)
    with pytest.raises(ColoniesConnectionError) as ei:
        submit(colony, nodes)
    assert needle.lower() in str(ei.value).lower(), str(ei.value)
    assert _snapshot(colony) == before
    assert before[1] == {s: [] for s in range(5)}
    with pytest.raises(ColoniesConnectionError):
        c.assign(colony.name, -1, ex.prv)
    # the server still serves: a valid workflow goes through afterwards
    ok = submit(colony, [("a", [])])
    assert all_graphs(c, colony.name, user.prv)[WAITING] == [ok.processgraphid]


def test_invalid_funcspec_in_workflow_creates_nothing(colony: ColonyEnv) -> None:
    """A bad funcspec late in the list (empty executortype, priority out of range, no specs at
    all) rejects the whole workflow; the first processes are not left behind."""
    c = colony.client
    before = _snapshot(colony)
    wf = workflow(colony, [("a", []), ("b", ["a"]), ("c", ["b"])])
    wf.functionspecs[2].conditions.executortype = ""
    with pytest.raises(ColoniesConnectionError):
        c.submit_workflow(wf, colony.user.prv)
    wf = workflow(colony, [("a", []), ("b", ["a"]), ("c", ["b"])])
    wf.functionspecs[2].priority = 50001
    with pytest.raises(ColoniesConnectionError):
        c.submit_workflow(wf, colony.user.prv)
    with pytest.raises(ColoniesConnectionError):
        c.submit_workflow(Workflow(colonyname=colony.name, functionspecs=[]), colony.user.prv)
    assert _snapshot(colony) == before


def test_workflow_auth_and_limits(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    stranger, _ = new_key()
    with pytest.raises(ColoniesConnectionError):
        c.submit_workflow(workflow(colony, [("a", [])]), stranger)
    g = submit(colony, [("a", [])])
    with pytest.raises(ColoniesConnectionError):
        c.get_processgraph(g.processgraphid, stranger)
    with pytest.raises(ColoniesConnectionError):
        c.get_processgraphs(colony.name, 10, stranger)
    with pytest.raises(ColoniesConnectionError):
        c.remove_processgraph(g.processgraphid, stranger)
    with pytest.raises(ColoniesConnectionError):
        c.get_processgraph("0" * 64, user.prv)
    with pytest.raises(ColoniesConnectionError):
        c.get_processgraphs(colony.name, 101, user.prv)
    with pytest.raises(ColoniesConnectionError):
        c.get_processgraphs(colony.name, 10, user.prv, state=7)
    # the colonyname of every process is the workflow's (PROTOCOL §4.8)
    wf = workflow(colony, [("a", [])])
    wf.functionspecs[0].conditions.colonyname = "some-other-colony"
    g2 = c.submit_workflow(wf, user.prv)
    assert c.get_process(g2.processids[0], user.prv).spec.conditions.colonyname == colony.name
    # maxexectime 0 becomes -1 for workflow processes
    wf = workflow(colony, [("a", [])])
    wf.functionspecs[0].maxexectime = 0
    g3 = c.submit_workflow(wf, user.prv)
    assert c.get_process(g3.processids[0], user.prv).spec.maxexectime == -1


# --------------------------------------------------------------------------------------------
# listing: getprocessgraphsmsg, get_processes_for_workflow
# --------------------------------------------------------------------------------------------


def test_get_processgraphs_state_count_order(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    g1 = submit(colony, [("a", []), ("b", ["a"])])
    g2 = submit(colony, DIAMOND)
    g3 = submit(colony, [("z", [])])
    ids = [g.processgraphid for g in (g1, g2, g3)]

    listed = c.get_processgraphs(colony.name, 100, user.prv)  # no state: waiting (PROTOCOL §8 #2)
    assert [g["processgraphid"] for g in listed] == ids[::-1]  # newest first
    for entry in listed:
        pg = ProcessGraph(**entry)  # pycolonies' model accepts it
        assert pg.nodes == [] and pg.edges == []
        assert pg.state == WAITING
    assert {g["processgraphid"]: len(g["processids"]) for g in listed} == {ids[0]: 2, ids[1]: 4, ids[2]: 1}
    assert [g["processgraphid"] for g in c.get_processgraphs(colony.name, 2, user.prv)] == ids[:0:-1]
    assert [g["processgraphid"] for g in c.get_processgraphs(colony.name, 1, user.prv, state=0)] == [ids[2]]
    assert c.get_processgraphs(colony.name, 100, user.prv, state=RUNNING) == []
    assert c.get_processgraphs(colony.name, 100, user.prv, state=SUCCESS) == []

    run_sync(colony, ex, 2)  # g1: a then b (oldest first)
    assert [g["processgraphid"] for g in c.get_processgraphs(colony.name, 100, user.prv, state=SUCCESS)] == [ids[0]]
    assert [g["processgraphid"] for g in c.get_processgraphs(colony.name, 100, user.prv)] == [ids[2], ids[1]]

    # get_processes_for_workflow: state -1 + processgraphid (PROTOCOL §8 #1 extension)
    for g in (g1, g2, g3):
        procs = c.get_processes_for_workflow(g.processgraphid, colony.name, user.prv)
        assert {p["processid"] for p in procs} == set(g.processids)
        assert all(p["processgraphid"] == g.processgraphid for p in procs)
    states = {p["spec"]["nodename"]: p["state"] for p in c.get_processes_for_workflow(g1.processgraphid, colony.name,
                                                                                        user.prv)}
    assert states == {"a": SUCCESS, "b": SUCCESS}
    assert [p["processid"] for p in c.get_processes_for_workflow(g2.processgraphid, colony.name, user.prv, count=2)
            ].__len__() == 2
    # processgraphid with a concrete state filters on both
    g2_waiting = c._Colonies__rpc({"msgtype": "getprocessesmsg", "colonyname": colony.name, "count": 100, "state": 0,
                                   "processgraphid": g2.processgraphid}, user.prv)
    assert {p["processid"] for p in g2_waiting} == set(g2.processids)
    assert c._Colonies__rpc({"msgtype": "getprocessesmsg", "colonyname": colony.name, "count": 100, "state": 2,
                             "processgraphid": g2.processgraphid}, user.prv) == []
    # state -1 without a graph id is still invalid
    with pytest.raises(ColoniesConnectionError):
        c.list_processes(colony.name, 10, -1, user.prv)
    # workflow processes show up in ordinary listings too (§4.6)
    waiting = c.list_processes(colony.name, 100, WAITING, user.prv)
    assert {p["processid"] for p in waiting} == set(g2.processids) | set(g3.processids)


# --------------------------------------------------------------------------------------------
# /pubsub wait on workflow processes
# --------------------------------------------------------------------------------------------


def test_wait_for_workflow_leaf(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    g = submit(colony, [("a", []), ("b", ["a"]), ("c", ["b"])])
    leaf = c.find_process("c", g.processids, user.prv)
    root = c.find_process("a", g.processids, user.prv)
    rec = Recorder()

    def start_later() -> None:
        time.sleep(0.5)
        w.__enter__()

    w = DagExecutor(colony, ex, rec, hold=0.1)
    threading.Thread(target=start_later, daemon=True).start()
    try:
        t0 = time.monotonic()
        done = run_with_timeout(lambda: c.wait(leaf, 10, user.prv), 14, "wait(leaf)")
        waited = time.monotonic() - t0
    finally:
        w.__exit__()
    assert done.state == SUCCESS and done.processid == leaf.processid
    assert done.output == ["c"] and done.input == ["b"]
    assert waited < 9, f"wait returned only after {waited:.1f}s"
    # already SUCCESS: the server pushes at once
    t0 = time.monotonic()
    again = run_with_timeout(lambda: c.wait(root, 10, user.prv), 5, "wait(finished root)")
    assert again.state == SUCCESS and time.monotonic() - t0 < 3
    assert graph_state(c, g.processgraphid, user.prv) == SUCCESS


# --------------------------------------------------------------------------------------------
# statistics (PROTOCOL §5.12)
# --------------------------------------------------------------------------------------------

WF_KEYS = ("waitingworkflows", "runningworkflows", "successfulworkflows", "failedworkflows", "cancelledworkflows")
P_KEYS = ("waitingprocesses", "runningprocesses", "successfulprocesses", "failedprocesses", "cancelledprocesses")


def _counts(c: Colonies, colony: ColonyEnv) -> tuple[tuple[int, ...], tuple[int, ...]]:
    s = c.stats(colony.name, colony.user.prv)
    return tuple(s[k] for k in WF_KEYS), tuple(s[k] for k in P_KEYS)


def test_workflow_statistics(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    t_ok, t_fail = f"{colony.default_type}-ok", f"{colony.default_type}-fail"
    ok_ex, fail_ex = colony.new_executor(t_ok), colony.new_executor(t_fail)
    assert _counts(c, colony) == ((0, 0, 0, 0, 0), (0, 0, 0, 0, 0))

    g_ok = submit(colony, [("a", []), ("b", ["a"])], executortype=t_ok)
    g_fail = submit(colony, [("a", []), ("b", ["a"])], executortype=t_fail)
    g_cancel = submit(colony, [("a", [])])
    submit(colony, [("a", [])])
    assert _counts(c, colony) == ((4, 0, 0, 0, 0), (6, 0, 0, 0, 0))

    a = c.assign(colony.name, 5, ok_ex.prv)
    assert a.processgraphid == g_ok.processgraphid
    assert _counts(c, colony) == ((3, 1, 0, 0, 0), (5, 1, 0, 0, 0))
    c.close(a.processid, [], ok_ex.prv)
    assert _counts(c, colony) == ((3, 1, 0, 0, 0), (5, 0, 1, 0, 0))
    b = c.assign(colony.name, 5, ok_ex.prv)
    c.close(b.processid, [], ok_ex.prv)
    assert _counts(c, colony) == ((3, 0, 1, 0, 0), (4, 0, 2, 0, 0))

    f = c.assign(colony.name, 5, fail_ex.prv)
    assert f.processgraphid == g_fail.processgraphid
    c.fail(f.processid, ["no"], fail_ex.prv)
    assert _counts(c, colony) == ((2, 0, 1, 1, 0), (2, 0, 2, 2, 0))

    cancel_graph(c, g_cancel.processgraphid, user.prv)
    assert _counts(c, colony) == ((1, 0, 1, 1, 1), (1, 0, 2, 2, 1))
    # the server-wide statistics count them too (server owner)
    server_stats = c._Colonies__rpc({"msgtype": "getstatisticsmsg"}, SERVER_PRV)
    assert server_stats["successfulprocesses"] >= 2
