"""Property tests for workflow DAGs (PROTOCOL §4.8, §6.5).

* `colonies_pkg.domain.workflows.validate` / `find_cycle` are pure: random DAGs are accepted;
  adding an edge that closes a cycle is rejected with BadRequest ("cycle"); `find_cycle` agrees
  with `graphlib` on arbitrary digraphs and returns a real cycle.
* Execution against a real temporary SQLite database through the domain units (no server):
  submit a random DAG, then assign/close (or fail) with increasing `now` until nothing is left;
  every node runs exactly once, only after all its dependencies closed, with the parents'
  outputs as input; the graph ends SUCCESS (or FAILED after a failure, with the cascade rules).
"""

from __future__ import annotations

import graphlib
import itertools
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from colonies_pkg.crypto import generate_prvkey, id_of_prvkey
from colonies_pkg.domain import colonies, executors, processes, workflows
from colonies_pkg.errors import BadRequest
from colonies_pkg.models.colony import Colony, User
from colonies_pkg.models.executor import Executor
from colonies_pkg.models.process import Conditions, FunctionSpec, ProcessState
from colonies_pkg.models.workflow import WorkflowSpec
from colonies_pkg.storage import workflows as graph_store
from colonies_pkg.storage.db import Tx, migrate

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
COLONY = "dagcolony"
EXECUTOR_TYPE = "dagtype"

# keys generated once per run; ids derived the way the server derives caller ids
SERVER_ID = id_of_prvkey(generate_prvkey())
COLONY_ID = id_of_prvkey(generate_prvkey())
EXECUTOR_ID = id_of_prvkey(generate_prvkey())
USER_ID = id_of_prvkey(generate_prvkey())

NAMES = st.text(min_size=1, max_size=6)


# --------------------------------------------------------------------------------------------
# strategies and helpers
# --------------------------------------------------------------------------------------------


@st.composite
def dags(draw: st.DrawFn, min_nodes: int = 1, max_nodes: int = 12) -> tuple[list[str], dict[str, list[str]]]:
    """(submission order, nodename -> dependencies): node i depends only on nodes < i; names and
    submission order are shuffled so neither reveals the topological order."""
    n = draw(st.integers(min_nodes, max_nodes))
    names = draw(st.lists(NAMES, min_size=n, max_size=n, unique=True))
    deps: dict[str, list[str]] = {}
    for i, name in enumerate(names):
        if i == 0:
            deps[name] = []
            continue
        picks = draw(st.lists(st.integers(0, i - 1), unique=True, max_size=min(i, 4)))
        deps[name] = [names[j] for j in picks]
    order = draw(st.permutations(names))
    return list(order), deps


def spec_of(order: list[str], deps: dict[str, list[str]]) -> WorkflowSpec:
    return WorkflowSpec(colonyname=COLONY, functionspecs=[
        FunctionSpec(nodename=name, funcname="echo", args=[name],
                     conditions=Conditions(colonyname=COLONY, executortype=EXECUTOR_TYPE,
                                           dependencies=list(deps[name])))
        for name in order])


def ancestors(deps: dict[str, list[str]]) -> dict[str, set[str]]:
    """node -> every node it transitively depends on."""
    memo: dict[str, set[str]] = {}

    def walk(n: str) -> set[str]:
        if n not in memo:
            out: set[str] = set()
            for d in deps[n]:
                out |= {d} | walk(d)
            memo[n] = out
        return memo[n]

    for n in deps:
        walk(n)
    return memo


def has_cycle(deps: dict[str, list[str]]) -> bool:
    try:
        graphlib.TopologicalSorter({n: set(ps) for n, ps in deps.items()}).prepare()
    except graphlib.CycleError:
        return True
    return False


def assert_is_cycle(cycle: list[str], deps: dict[str, list[str]]) -> None:
    assert len(cycle) >= 2 and cycle[0] == cycle[-1], cycle
    for node, nxt in itertools.pairwise(cycle):
        assert nxt in deps[node], f"{nxt!r} is not a dependency of {node!r} in {cycle}"


# --------------------------------------------------------------------------------------------
# pure validation
# --------------------------------------------------------------------------------------------


@SETTINGS
@given(dags())
def test_random_dags_are_accepted(dag: tuple[list[str], dict[str, list[str]]]) -> None:
    order, deps = dag
    assert workflows.find_cycle(deps) == []
    specs = workflows.validate(spec_of(order, deps))
    assert [s.nodename for s in specs] == order
    assert all(s.conditions.dependencies == deps[s.nodename] for s in specs)


@SETTINGS
@given(dags(min_nodes=2), st.data())
def test_back_edge_closing_a_cycle_is_rejected(dag: tuple[list[str], dict[str, list[str]]],
                                               data: st.DataObject) -> None:
    order, deps = dag
    anc = ancestors(deps)
    pairs = sorted((a, n) for n in deps for a in anc[n])  # n depends (transitively) on a
    if pairs:
        ancestor, descendant = data.draw(st.sampled_from(pairs))
        deps[ancestor] = [*deps[ancestor], descendant]  # the back edge
    else:  # no edges at all: make a 2-cycle between two nodes
        a, b = data.draw(st.permutations(order))[:2]
        deps[a], deps[b] = [b], [a]
    with pytest.raises(BadRequest) as ei:
        workflows.validate(spec_of(order, deps))
    assert "cycle" in str(ei.value).lower(), str(ei.value)
    assert_is_cycle(workflows.find_cycle(deps), deps)


@SETTINGS
@given(dags(), st.data())
def test_self_dependency_is_rejected(dag: tuple[list[str], dict[str, list[str]]], data: st.DataObject) -> None:
    order, deps = dag
    node = data.draw(st.sampled_from(order))
    deps[node] = [*deps[node], node]
    with pytest.raises(BadRequest):
        workflows.validate(spec_of(order, deps))
    assert_is_cycle(workflows.find_cycle(deps), deps)


@SETTINGS
@given(st.integers(1, 9).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n))))
def test_find_cycle_agrees_with_graphlib(graph: tuple[int, list[tuple[int, int]]]) -> None:
    n, edges = graph
    deps: dict[str, list[str]] = {f"v{i}": [] for i in range(n)}
    for child, parent in edges:
        if f"v{parent}" not in deps[f"v{child}"]:
            deps[f"v{child}"].append(f"v{parent}")
    cycle = workflows.find_cycle(deps)
    assert bool(cycle) == has_cycle(deps)
    if cycle:
        assert_is_cycle(cycle, deps)
        with pytest.raises(BadRequest):
            workflows.validate(spec_of(list(deps), deps))
    else:
        workflows.validate(spec_of(list(deps), deps))


@SETTINGS
@given(dags(), st.data())
def test_unknown_dependency_and_duplicates_are_rejected(dag: tuple[list[str], dict[str, list[str]]],
                                                       data: st.DataObject) -> None:
    order, deps = dag
    node = data.draw(st.sampled_from(order))
    missing = data.draw(NAMES.filter(lambda s: s not in deps))
    bad = {**deps, node: [*deps[node], missing]}
    with pytest.raises(BadRequest) as ei:
        workflows.validate(spec_of(order, bad))
    assert "dependenc" in str(ei.value).lower()
    dup = data.draw(st.sampled_from(order))
    spec = spec_of(order, deps)
    spec.functionspecs.insert(data.draw(st.integers(0, len(order))), spec_of([dup], {dup: []}).functionspecs[0])
    with pytest.raises(BadRequest) as ei:
        workflows.validate(spec)
    assert "Duplicate nodename" in str(ei.value)


# --------------------------------------------------------------------------------------------
# execution through the domain units on a real SQLite database
# --------------------------------------------------------------------------------------------


@contextmanager
def database() -> Iterator[Tx]:
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(str(Path(tmp) / "colonies.db"), isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = OFF")  # every statement commits: no fsync per step
            migrate(conn)
            tx = Tx(conn)
            colonies.ensure_server_id(tx, 1, SERVER_ID)
            colonies.add_colony(tx, 2, SERVER_ID, Colony(colonyid=COLONY_ID, name=COLONY))
            executors.add_executor(tx, 3, COLONY_ID, Executor(executorid=EXECUTOR_ID, executortype=EXECUTOR_TYPE,
                                                              executorname="dagexec", colonyname=COLONY))
            executors.approve_executor(tx, 4, COLONY_ID, COLONY, "dagexec")
            colonies.add_user(tx, 5, COLONY_ID, User(colonyname=COLONY, userid=USER_ID, name="daguser"))
            yield tx
        finally:
            conn.close()


def _nodename(process) -> str:  # type: ignore[no-untyped-def]
    return msgspec.json.decode(process.spec)["nodename"]


class Run:
    """Drives one graph: up to `parallel` processes RUNNING at once, closed in a drawn order."""

    def __init__(self, tx: Tx, deps: dict[str, list[str]], data: st.DataObject, parallel: int) -> None:
        self.tx, self.deps, self.data, self.parallel = tx, deps, data, parallel
        self.now = 1_700_000_000 * 10**9
        self.step = 0
        self.assigned: dict[str, int] = {}
        self.closed: dict[str, int] = {}
        self.running: list[tuple[str, str]] = []

    def tick(self) -> int:
        self.now += 1_000
        self.step += 1
        return self.now

    def fill(self) -> None:
        while len(self.running) < self.parallel:
            got = processes.try_assign(self.tx, self.tick(), EXECUTOR_ID, COLONY).process
            if got is None:
                return
            name = _nodename(got)
            assert name not in self.assigned, f"{name!r} assigned twice"
            for d in self.deps[name]:
                assert d in self.closed, f"{name!r} assigned before its dependency {d!r} closed"
            # parents' outputs ([parent name]) concatenated in dependency order
            got_in = msgspec.json.decode(got.in_)
            assert got_in == list(self.deps[name]), f"{name!r}: input {got_in} != outputs of {self.deps[name]}"
            assert got.state == ProcessState.RUNNING
            self.assigned[name] = self.step
            self.running.append((name, got.processid))

    def pick(self) -> tuple[str, str]:
        return self.running.pop(self.data.draw(st.integers(0, len(self.running) - 1), label="close which"))

    def close(self, name: str, pid: str) -> None:
        processes.close_successful(self.tx, self.tick(), EXECUTOR_ID, pid, [name])
        self.closed[name] = self.step


@SETTINGS
@given(dags(max_nodes=15), st.integers(1, 4), st.data())
def test_execution_respects_dependencies(dag: tuple[list[str], dict[str, list[str]]], parallel: int,
                                         data: st.DataObject) -> None:
    order, deps = dag
    with database() as tx:
        graph = workflows.submit(tx, 10, USER_ID, spec_of(order, deps))
        assert len(graph.processids) == len(order)
        assert graph_store.get_row(tx, graph.processgraphid).state == ProcessState.WAITING
        run = Run(tx, deps, data, parallel)
        for _ in range(3 * len(order) + 5):
            run.fill()
            if not run.running:
                break
            assert graph_store.get_row(tx, graph.processgraphid).state == ProcessState.RUNNING
            run.close(*run.pick())
        assert set(run.assigned) == set(deps), "some node never ran"
        assert set(run.closed) == set(deps)
        for node, parents in deps.items():
            for parent in parents:
                assert run.assigned[node] > run.closed[parent]
        row = graph_store.get_row(tx, graph.processgraphid)
        assert row.state == ProcessState.SUCCESS
        assert row.endtime >= row.starttime > 0
        assert graph_store.state_counts(tx, graph.processgraphid) == {ProcessState.SUCCESS: len(order)}
        assert processes.try_assign(tx, run.tick(), EXECUTOR_ID, COLONY).process is None


@SETTINGS
@given(dags(min_nodes=2, max_nodes=12), st.integers(1, 3), st.data())
def test_failure_rules(dag: tuple[list[str], dict[str, list[str]]], parallel: int, data: st.DataObject) -> None:
    """Fail one drawn process: a non-leaf fails everything unfinished at once and nothing more is
    assigned; a leaf fails only itself, the rest still runs; the graph ends FAILED either way."""
    order, deps = dag
    has_children = {n: any(n in ps for ps in deps.values()) for n in deps}
    with database() as tx:
        graph = workflows.submit(tx, 10, USER_ID, spec_of(order, deps))
        gid = graph.processgraphid
        run = Run(tx, deps, data, parallel)
        failed: str | None = None
        for _ in range(3 * len(order) + 5):
            run.fill()
            if not run.running:
                break
            name, pid = run.pick()
            if failed is None and data.draw(st.booleans(), label="fail this one"):
                failed = name
                processes.close_failed(tx, run.tick(), EXECUTOR_ID, pid, ["boom"])
                assert graph_store.get_row(tx, gid).state == ProcessState.FAILED
                if has_children[name]:
                    counts = graph_store.state_counts(tx, gid)
                    assert counts.get(ProcessState.WAITING, 0) == counts.get(ProcessState.RUNNING, 0) == 0, counts
                    assert processes.try_assign(tx, run.tick(), EXECUTOR_ID, COLONY).process is None
                    break
            else:
                run.close(name, pid)
        counts = graph_store.state_counts(tx, gid)
        assert counts.get(ProcessState.WAITING, 0) == counts.get(ProcessState.RUNNING, 0) == 0, counts
        state = graph_store.get_row(tx, gid).state
        if failed is None:
            assert state == ProcessState.SUCCESS
        else:
            assert state == ProcessState.FAILED
            if not has_children[failed]:  # a failed leaf: every other node still ran and succeeded
                assert set(run.closed) == set(deps) - {failed}
                assert counts == {ProcessState.SUCCESS: len(order) - 1, ProcessState.FAILED: 1}
        for node, parents in deps.items():
            for parent in parents:
                if node in run.assigned:
                    assert parent in run.closed and run.assigned[node] > run.closed[parent]
