"""Workflows: validate a WorkflowSpec as a DAG, create the graph and its processes in one unit of
work; read, list, remove and cancel graphs; grow a running graph (`addchildmsg`, PROTOCOL §6.6)."""
from __future__ import annotations

from collections import deque
from typing import Any

import msgspec

from ..errors import BadRequest, ColoniesError, Forbidden, NotFound
from ..ids import new_id
from ..models.process import FunctionSpec, Process, ProcessState
from ..models.workflow import Edge, Node, Position, ProcessGraph, WorkflowSpec
from ..storage import processes as process_store
from ..storage import workflows as store
from ..storage.db import Tx
from ..storage.rows import GraphRow, MemberRow
from . import resolve, security
from .events import ProcessChanged, ProcessesRemoved
from .processes import MAX_LIST_COUNT, insert_process, new_process_row

_enc = msgspec.json.encode
_strs = msgspec.json.Decoder(list[str])
_spec_decoder = msgspec.json.Decoder(dict[str, Any])
COLORS = {0: "#eee8d8", 1: "#4689cd", 2: "#92d050", 3: "#cb4239", 4: "#f5a623"}


def validate(spec: WorkflowSpec) -> list[FunctionSpec]:
    """Check names, dependencies and acyclicity before anything is written; returns normalized specs."""
    specs = [s.normalize() for s in (spec.functionspecs or [])]
    if not specs:
        raise BadRequest("Failed to submit workflow, the workflow has no function specs")
    names: set[str] = set()
    for s in specs:
        if not s.nodename:
            raise BadRequest("Nodename is missing, check function spec for errors")
        if s.nodename in names:
            raise BadRequest(f"Duplicate nodename: {s.nodename}")
        names.add(s.nodename)
    for s in specs:
        for dep in _dependencies(s):
            if dep not in names:
                raise BadRequest(f"Failed to submit workflow, invalid dependencies, {s.nodename} depends on unknown "
                                 f"nodename {dep}")
            if dep == s.nodename:
                raise BadRequest(f"Failed to submit workflow, {s.nodename} depends on itself")
    cycle = find_cycle({s.nodename: _dependencies(s) for s in specs})
    if cycle:
        raise BadRequest(f"Failed to submit workflow, the dependencies form a cycle: {' -> '.join(cycle)}")
    return specs


def _dependencies(spec: FunctionSpec) -> list[str]:
    """The node names a spec depends on (none when its conditions or their list are null)."""
    return (spec.conditions.dependencies or []) if spec.conditions is not None else []


def find_cycle(deps: dict[str, list[str]]) -> list[str]:
    """A cycle in the dependency graph as a list of node names, or [] (Kahn's algorithm)."""
    indegree = dict.fromkeys(deps, 0)
    dependents: dict[str, list[str]] = {n: [] for n in deps}
    for node, parents in deps.items():
        for p in set(parents):
            indegree[node] += 1
            dependents[p].append(node)
    ready = deque(n for n, d in indegree.items() if d == 0)
    seen = 0
    while ready:
        n = ready.popleft()
        seen += 1
        for child in dependents[n]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if seen == len(deps):
        return []
    # walk back along unresolved dependencies until a node repeats
    node = next(n for n, d in indegree.items() if d > 0)
    path: list[str] = []
    while node not in path:
        path.append(node)
        node = next(p for p in deps[node] if indegree[p] > 0)
    return [*path[path.index(node):], node]


def create_graph(tx: Tx, now: int, initiatorid: str, initiatorname: str, spec: WorkflowSpec,
                 root_input: list[Any] | None = None, root_args: list[Any] | None = None) -> ProcessGraph:
    """Create a validated graph and all its processes (used by submit, crons and generators)."""
    specs = validate(spec)
    graphid = new_id()
    rows: dict[str, dict[str, Any]] = {}
    for s in specs:
        assert s.conditions is not None
        s.conditions.colonyname = spec.colonyname
        if s.maxexectime == 0:
            s.maxexectime = -1
        is_root = not s.conditions.dependencies
        if is_root and root_args is not None:
            s.args, s.kwargs = list(root_args), {}
        rows[s.nodename] = new_process_row(s, now, initiatorid, initiatorname, processgraphid=graphid,
                                           waitforparents=not is_root)
    children: dict[str, list[str]] = {name: [] for name in rows}
    for s in specs:
        for dep in _dependencies(s):
            children[dep].append(rows[s.nodename]["processid"])
    roots = []
    for s in specs:
        row = rows[s.nodename]
        deps = _dependencies(s)
        row["parents"] = _enc([rows[d]["processid"] for d in deps]).decode()
        row["children"] = _enc(children[s.nodename]).decode()
        if not deps:
            roots.append(row["processid"])
            if root_input:
                row["input"] = _enc(root_input).decode()
    store.insert(tx, {"processgraphid": graphid, "colonyname": spec.colonyname, "initiatorid": initiatorid,
                      "initiatorname": initiatorname, "rootprocessids": roots, "state": ProcessState.WAITING,
                      "submissiontime": now})
    for s in specs:
        insert_process(tx, rows[s.nodename], s.env or {})
    graph = store.get_row(tx, graphid)
    assert graph is not None
    return store.to_wire(tx, graph)


def submit(tx: Tx, now: int, caller: str, spec: WorkflowSpec | None) -> ProcessGraph:
    if spec is None:
        raise BadRequest("Failed to submit workflow, spec is nil")
    member = security.require_member(tx, caller, spec.colonyname)
    return create_graph(tx, now, caller, member.name, spec)


def _graph_row(tx: Tx, caller: str, graphid: str, verb: str) -> GraphRow:
    row = store.get_row(tx, graphid)
    if row is None:
        raise NotFound(f"Failed to {verb}, process graph with Id {graphid} not found")
    security.require_member(tx, caller, row.colonyname)
    return row


def get(tx: Tx, now: int, caller: str, graphid: str) -> ProcessGraph:
    graph = store.to_wire(tx, _graph_row(tx, caller, graphid, "get processgraph"))
    graph.nodes, graph.edges = draw(store.members(tx, graphid))
    return graph


def draw(members: list[MemberRow]) -> tuple[list[Node], list[Edge]]:
    """Nodes laid out by depth (longest path from a root) and edges parent → child."""
    by_id = {r.processid: r for r in members}
    depth: dict[str, int] = {}
    order = [r.processid for r in members]
    parents = {pid: [p for p in _strs.decode(by_id[pid].parents) if p in by_id] for pid in order}
    children = {pid: [c for c in _strs.decode(by_id[pid].children) if c in by_id] for pid in order}

    def depth_of(pid: str, trail: frozenset[str] = frozenset()) -> int:
        if pid not in depth:
            ps = [p for p in parents[pid] if p not in trail]
            depth[pid] = 0 if not ps else 1 + max(depth_of(p, trail | {pid}) for p in ps)
        return depth[pid]

    levels: dict[int, list[str]] = {}
    for pid in order:
        levels.setdefault(depth_of(pid), []).append(pid)
    nodes, edges = [], []
    for level, pids in sorted(levels.items()):
        for i, pid in enumerate(pids):
            row = by_id[pid]
            kind = "input" if not parents[pid] else ("output" if not children[pid] else "")
            label = _spec_decoder.decode(row.spec).get("nodename", "")
            nodes.append(Node(id=pid, data={"label": label},
                              position=Position(x=int((i - (len(pids) - 1) / 2) * 200), y=level * 80), type=kind,
                              style={"color": "", "background": COLORS.get(row.state, "#eee8d8")}))
    edges += [Edge(id=f"{pid}-{child}", source=pid, target=child, animated=by_id[pid].state == ProcessState.RUNNING)
              for pid in order for child in children[pid]]
    return nodes, edges


def list_graphs(tx: Tx, now: int, caller: str, colonyname: str, count: int, state: int) -> list[ProcessGraph]:
    security.require_member(tx, caller, colonyname)
    if count > MAX_LIST_COUNT:
        raise BadRequest(f"Count is larger than MaxCount limit <{MAX_LIST_COUNT}>")
    if not -1 <= state <= 4:
        raise BadRequest("Failed to get processgraphs, invalid msg.State")
    return store.find(tx, colonyname, state, count)


def remove(tx: Tx, now: int, caller: str, graphid: str) -> None:
    row = _graph_row(tx, caller, graphid, "remove processgraph")
    if row.state == ProcessState.RUNNING:
        raise BadRequest("Failed to remove processgraph, cannot remove a running processgraph")
    store.remove(tx, graphid)
    tx.events.append(ProcessesRemoved(row.colonyname))


def remove_all(tx: Tx, now: int, caller: str, colonyname: str, state: int) -> None:
    """Remove the colony's graphs in `state` (-1: all) with their processes, and nothing else."""
    security.require_colony_owner(tx, caller, colonyname)
    if state == ProcessState.RUNNING:
        raise BadRequest("not possible to remove running processgraphs")
    if state not in (-1, 0, 2, 3, 4):
        raise BadRequest(f"Failed to remove processgraphs, invalid state {state}")
    for graphid in store.ids_in_state(tx, colonyname, state):
        store.remove(tx, graphid)
    tx.events.append(ProcessesRemoved(colonyname))


def cancel(tx: Tx, now: int, caller: str, graphid: str) -> None:
    row = _graph_row(tx, caller, graphid, "cancel processgraph")
    if row.state in resolve.TERMINAL:
        raise BadRequest(f"Failed to cancel processgraph, the processgraph has already ended (state {row.state})")
    for p in store.unfinished(tx, graphid):
        process_store.set_state(tx, p.processid, ProcessState.CANCELLED, now)
        tx.events.append(ProcessChanged(p.processid, ProcessState.CANCELLED, p.colonyname, p.executortype))
    store.set_state(tx, graphid, ProcessState.CANCELLED, endtime=now,
                    starttime=now if row.starttime == 0 else None)


def add_child(tx: Tx, now: int, caller: str, graphid: str, parentid: str, childid: str, spec: FunctionSpec | None,
              insert: bool) -> Process:
    if spec is None:
        raise BadRequest("Failed to add child, spec is nil")
    spec.normalize()
    assert spec.conditions is not None
    parent = process_store.get_row(tx, parentid)
    if parent is None:
        raise NotFound(f"Failed to add child, parent process with Id {parentid} not found")
    if not spec.conditions.colonyname:
        spec.conditions.colonyname = parent.colonyname
    member = security.require_member(tx, caller, spec.conditions.colonyname)
    if spec.conditions.colonyname != parent.colonyname:
        raise BadRequest("Failed to add child, the child must be in the colony of its parent")
    if parent.state != ProcessState.RUNNING:
        raise BadRequest(f"Process with Id {parentid} is not running")
    if parent.assignedexecutorid != caller:
        raise Forbidden(f"Failed to add child, process with Id {parentid} is not assigned to the caller")
    if not parent.processgraphid:
        raise BadRequest(f"Process with Id {parentid} does not belong to a processgraph")
    if graphid and graphid != parent.processgraphid:
        raise BadRequest(f"Process with Id {parentid} does not belong to processgraph {graphid}")
    graphid = parent.processgraphid
    row = new_process_row(spec, now, caller, member.name, processgraphid=graphid, waitforparents=True)
    newid = row["processid"]
    parent_children = _strs.decode(parent.children)
    row["parents"] = _enc([parentid]).decode()
    if insert:
        row["children"] = _enc(parent_children).decode()
        for cid in parent_children:
            child = process_store.get_row(tx, cid)
            if child is None:
                continue
            ps = [p for p in _strs.decode(child.parents) if p != parentid] + [newid]
            store.set_links(tx, cid, parents=ps)
        store.set_links(tx, parentid, children=[newid])
    else:
        if childid:
            child = process_store.get_row(tx, childid)
            if child is None or child.processgraphid != graphid:
                raise NotFound(f"Failed to add child, process with Id {childid} is not in processgraph {graphid}")
            if child.state != ProcessState.WAITING:
                raise BadRequest(f"Failed to add child, process with Id {childid} has already started")
            row["children"] = _enc([childid]).decode()
            store.set_links(tx, childid, parents=[*_strs.decode(child.parents), newid])
            if not child.waitforparents:
                store.hold(tx, childid)  # it now also waits for the new process
        store.set_links(tx, parentid, children=[*parent_children, newid])
    insert_process(tx, row, spec.env or {})
    process = process_store.get(tx, newid)
    if process is None:
        raise ColoniesError("Failed to add child")
    return process
