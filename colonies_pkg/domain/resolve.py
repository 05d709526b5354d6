"""Workflow resolution (PROTOCOL §6.5): release children whose parents all succeeded, cascade a
failure through the graph, and roll the graph's state up from its processes' states."""
from __future__ import annotations

import msgspec

from ..models.process import ProcessState
from ..storage import processes as process_store
from ..storage import workflows as graph_store
from ..storage.db import Tx
from ..storage.rows import ProcessRow
from .events import ProcessChanged, became_assignable

_strs = msgspec.json.Decoder(list[str])
TERMINAL = (ProcessState.SUCCESS, ProcessState.FAILED, ProcessState.CANCELLED)


def on_closed(tx: Tx, now: int, row: ProcessRow, state: int) -> None:
    """After a graph process closed as `state`: release or cascade, then roll up the graph."""
    graphid = row.processgraphid
    if not graphid:
        return
    # Lock the graph before looking at its other processes (PostgreSQL: two parents closing at
    # once on two connections must not both see the other unfinished and leave a child waiting).
    graph_store.get_row(tx, graphid)
    children = _strs.decode(row.children)
    if state == ProcessState.SUCCESS:
        for childid in children:
            release_if_ready(tx, childid)
    elif state == ProcessState.FAILED and children:
        for other in graph_store.unfinished(tx, graphid):
            process_store.close(tx, other.processid, ProcessState.FAILED, now, None,
                                [f"Workflow failed: process {row.processid} failed"])
            tx.events.append(ProcessChanged(other.processid, ProcessState.FAILED, other.colonyname,
                                            other.executortype))
    roll_up(tx, now, graphid)


def release_if_ready(tx: Tx, processid: str) -> None:
    child = process_store.get_row(tx, processid)
    if child is None or not child.waitforparents or child.state != ProcessState.WAITING:
        return
    parents = _strs.decode(child.parents)
    states = graph_store.states_of(tx, parents) if parents else {}
    if all(states.get(p) == ProcessState.SUCCESS for p in parents):
        graph_store.release(tx, processid)
        tx.events.append(became_assignable(child))


def rolled_up_state(counts: dict[int, int]) -> int:
    total = sum(counts.values())
    if counts.get(ProcessState.FAILED):
        return ProcessState.FAILED
    if counts.get(ProcessState.CANCELLED):
        return ProcessState.CANCELLED
    if total and counts.get(ProcessState.SUCCESS) == total:
        return ProcessState.SUCCESS
    if counts.get(ProcessState.SUCCESS) or counts.get(ProcessState.RUNNING):
        return ProcessState.RUNNING
    return ProcessState.WAITING


def roll_up(tx: Tx, now: int, graphid: str) -> None:
    graph = graph_store.get_row(tx, graphid)
    if graph is None:
        return
    new = rolled_up_state(graph_store.state_counts(tx, graphid))
    if new == graph.state:
        return
    starttime = now if graph.starttime == 0 and new != ProcessState.WAITING else None
    endtime = now if new in TERMINAL else None
    graph_store.set_state(tx, graphid, new, starttime=starttime, endtime=endtime)
