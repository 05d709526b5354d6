"""SQL for workflows (process graphs) and the graph-wide process queries resolution needs."""
from __future__ import annotations

from typing import Any

import msgspec

from ..clock import format_time
from ..models.workflow import ProcessGraph
from .db import Tx
from .rows import GraphRow, MemberRow, UnfinishedRow, columns

_enc = msgspec.json.encode
_strs = msgspec.json.Decoder(list[str])
_COLS = columns(GraphRow)


def insert(tx: Tx, g: dict[str, Any]) -> None:
    tx.run(f"INSERT INTO processgraphs({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0)",
           (g["processgraphid"], g["colonyname"], g["initiatorid"], g["initiatorname"], _enc(g["rootprocessids"]),
            g["state"], g["submissiontime"]))


def get_row(tx: Tx, graphid: str) -> GraphRow | None:
    """The graph row; in a write unit on PostgreSQL it stays locked until commit, which
    serialises resolution of one graph (lock order: graph, then its processes)."""
    row = tx.one(f"SELECT {_COLS} FROM processgraphs WHERE processgraphid = ?" + tx.lock, (graphid,))
    return GraphRow._make(row) if row else None


def processids(tx: Tx, graphid: str) -> list[str]:
    return [r[0] for r in tx.all("SELECT processid FROM processes WHERE processgraphid = ? ORDER BY submissiontime, rowid",
                                 (graphid,))]


def to_wire(tx: Tx, row: GraphRow) -> ProcessGraph:
    return ProcessGraph(
        processgraphid=row.processgraphid, initiatorid=row.initiatorid, initiatorname=row.initiatorname,
        colonyname=row.colonyname, rootprocessids=_strs.decode(row.rootprocessids), state=row.state,
        submissiontime=format_time(row.submissiontime), starttime=format_time(row.starttime),
        endtime=format_time(row.endtime), processids=processids(tx, row.processgraphid))


def find(tx: Tx, colonyname: str, state: int, count: int) -> list[ProcessGraph]:
    if state < 0:
        rows = tx.all(f"SELECT {_COLS} FROM processgraphs WHERE colonyname = ? ORDER BY submissiontime DESC LIMIT ?",
                      (colonyname, count))
    else:
        rows = tx.all(f"SELECT {_COLS} FROM processgraphs WHERE colonyname = ? AND state = ? "
                      "ORDER BY submissiontime DESC LIMIT ?", (colonyname, state, count))
    return [to_wire(tx, GraphRow._make(r)) for r in rows]


def set_state(tx: Tx, graphid: str, state: int, *, starttime: int | None = None, endtime: int | None = None) -> None:
    sets, params = ["state = ?"], [state]
    if starttime is not None:
        sets.append("starttime = ?")
        params.append(starttime)
    if endtime is not None:
        sets.append("endtime = ?")
        params.append(endtime)
    tx.run(f"UPDATE processgraphs SET {', '.join(sets)} WHERE processgraphid = ?", [*params, graphid])


def state_counts(tx: Tx, graphid: str) -> dict[int, int]:
    return {r[0]: r[1] for r in tx.all("SELECT state, COUNT(*) FROM processes WHERE processgraphid = ? GROUP BY state",
                                       (graphid,))}


def graph_counts(tx: Tx, colonyname: str | None) -> dict[int, int]:
    if colonyname is None:
        rows = tx.all("SELECT state, COUNT(*) FROM processgraphs GROUP BY state")
    else:
        rows = tx.all("SELECT state, COUNT(*) FROM processgraphs WHERE colonyname = ? GROUP BY state", (colonyname,))
    return {r[0]: r[1] for r in rows}


def members(tx: Tx, graphid: str) -> list[MemberRow]:
    """Every process of the graph with what resolution and drawing need."""
    return [MemberRow._make(r) for r in tx.all(
        f"SELECT {columns(MemberRow)} FROM processes WHERE processgraphid = ? ORDER BY submissiontime, rowid", (graphid,))]


def states_of(tx: Tx, processids: list[str]) -> dict[str, int]:
    marks = ",".join("?" * len(processids))
    return {r[0]: r[1] for r in tx.all(f"SELECT processid, state FROM processes WHERE processid IN ({marks})",
                                       processids)}


def release(tx: Tx, processid: str) -> None:
    """A child whose parents all succeeded becomes assignable."""
    tx.run("UPDATE processes SET waitforparents = 0 WHERE processid = ?", (processid,))


def hold(tx: Tx, processid: str) -> None:
    """A process that gained an unfinished parent waits for it again."""
    tx.run("UPDATE processes SET waitforparents = 1 WHERE processid = ?", (processid,))


def set_links(tx: Tx, processid: str, parents: list[str] | None = None, children: list[str] | None = None) -> None:
    if parents is not None:
        tx.run("UPDATE processes SET parents = ? WHERE processid = ?", (_enc(parents), processid))
    if children is not None:
        tx.run("UPDATE processes SET children = ? WHERE processid = ?", (_enc(children), processid))


def unfinished(tx: Tx, graphid: str) -> list[UnfinishedRow]:
    return [UnfinishedRow._make(r) for r in tx.all(
        f"SELECT {columns(UnfinishedRow)} FROM processes WHERE processgraphid = ? AND state IN (0, 1) "
        "ORDER BY submissiontime, rowid" + tx.lock, (graphid,))]


def remove(tx: Tx, graphid: str) -> None:
    tx.run("DELETE FROM processes WHERE processgraphid = ?", (graphid,))
    tx.run("DELETE FROM processgraphs WHERE processgraphid = ?", (graphid,))


def ids_in_state(tx: Tx, colonyname: str, state: int) -> list[str]:
    if state < 0:
        return [r[0] for r in tx.all("SELECT processgraphid FROM processgraphs WHERE colonyname = ?", (colonyname,))]
    return [r[0] for r in tx.all("SELECT processgraphid FROM processgraphs WHERE colonyname = ? AND state = ?",
                                 (colonyname, state))]


def leaf_outputs(tx: Tx, graphid: str) -> list[bytes]:
    """Outputs of the graph's leaves (processes without children), in creation order."""
    return [r[0] for r in tx.all("SELECT output FROM processes WHERE processgraphid = ? AND children = '[]' "
                                 "ORDER BY submissiontime, rowid", (graphid,))]


def successful_before(tx: Tx, cutoff: int) -> list[str]:
    return [r[0] for r in tx.all("SELECT processgraphid FROM processgraphs WHERE state = 2 AND submissiontime < ?",
                                 (cutoff,))]
