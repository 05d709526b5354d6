"""SQL for processes and their attributes; rows map to wire `Process` Structs here only."""
from __future__ import annotations

import sqlite3
from typing import Any

import msgspec

from ..clock import format_time
from ..models.process import Attribute, Process
from .db import Tx

_enc = msgspec.json.encode
Raw = msgspec.Raw

COLUMNS = (
    "processid", "colonyname", "executortype", "executornames", "locationname", "cpu", "mem", "state",
    "isassigned", "assignedexecutorid", "waitforparents", "prioritytime", "submissiontime", "starttime", "endtime",
    "waitdeadline", "execdeadline", "retries", "maxwaittime", "maxexectime", "maxretries", "initiatorid",
    "initiatorname", "funcname", "label", "processgraphid", "spec", "parents", "children", "input", "output", "errors",
)
_SELECT = "SELECT " + ", ".join(COLUMNS) + " FROM processes"
_INSERT = f"INSERT INTO processes({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


def insert(tx: Tx, row: dict[str, Any]) -> dict[str, Any]:
    """Insert a new process; returns the whole row as stored (absent columns at their defaults)."""
    full = {c: row.get(c, 0 if c in _INT_DEFAULTS else "") for c in COLUMNS}
    tx.run(_INSERT, list(full.values()))
    return full


_INT_DEFAULTS = frozenset({"cpu", "mem", "state", "isassigned", "waitforparents", "starttime", "endtime", "waitdeadline",
                           "execdeadline", "retries", "maxwaittime", "maxexectime", "maxretries"})


def get_row(tx: Tx, processid: str) -> sqlite3.Row | None:
    return tx.one(_SELECT + " WHERE processid = ?", (processid,))


def attributes_of(tx: Tx, processid: str, state: int) -> list[Attribute]:
    return [
        Attribute(attributeid=r[0], targetid=processid, targetcolonyname=r[1], targetprocessgraphid=r[2], state=state,
                  attributetype=r[3], key=r[4], value=r[5])
        for r in tx.all("SELECT attributeid, targetcolonyname, targetprocessgraphid, attributetype, key, value "
                        "FROM attributes WHERE targetid = ? ORDER BY rowid", (processid,))
    ]


def to_wire(tx: Tx, row: sqlite3.Row | dict[str, Any], attributes: list[Attribute] | None = None) -> Process:
    """The wire Process of a row; `attributes` when the caller has them at hand (else read)."""
    if attributes is None:
        attributes = attributes_of(tx, row["processid"], row["state"])
    return Process(
        processid=row["processid"], initiatorid=row["initiatorid"], initiatorname=row["initiatorname"],
        assignedexecutorid=row["assignedexecutorid"], isassigned=bool(row["isassigned"]), state=row["state"],
        prioritytime=row["prioritytime"], submissiontime=format_time(row["submissiontime"]),
        starttime=format_time(row["starttime"]), endtime=format_time(row["endtime"]),
        waitdeadline=format_time(row["waitdeadline"]), execdeadline=format_time(row["execdeadline"]),
        retries=row["retries"], attributes=attributes,
        spec=Raw(row["spec"]), waitforparents=bool(row["waitforparents"]), parents=Raw(row["parents"]),
        children=Raw(row["children"]), processgraphid=row["processgraphid"], in_=Raw(row["input"]),
        out=Raw(row["output"]), errors=Raw(row["errors"]),
    )


def get(tx: Tx, processid: str) -> Process | None:
    row = get_row(tx, processid)
    return to_wire(tx, row) if row else None


def queue_page(tx: Tx, colonyname: str, executortype: str, limit: int, offset: int) -> list[sqlite3.Row]:
    """Assignable processes of a type, in priority order. The partial queue index holds exactly
    these rows; the planner would otherwise pick processes_by_state and skip non-candidates row by row."""
    return tx.all(
        "SELECT processid, executornames, locationname, cpu, mem, maxexectime, processgraphid, parents, submissiontime "
        "FROM processes INDEXED BY processes_queue "
        "WHERE colonyname = ? AND executortype = ? AND state = 0 AND isassigned = 0 AND waitforparents = 0 "
        "ORDER BY prioritytime LIMIT ? OFFSET ?", (colonyname, executortype, limit, offset))


def mark_assigned(tx: Tx, processid: str, executorid: str, now: int, execdeadline: int) -> bool:
    return tx.run(
        "UPDATE processes SET state = 1, isassigned = 1, assignedexecutorid = ?, starttime = ?, execdeadline = ? "
        "WHERE processid = ? AND state = 0 AND isassigned = 0", (executorid, now, execdeadline, processid)) == 1


def set_input(tx: Tx, processid: str, values: list[Any]) -> None:
    tx.run("UPDATE processes SET input = ? WHERE processid = ?", (_enc(values), processid))


def outputs_of(tx: Tx, processids: list[str]) -> dict[str, bytes]:
    marks = ",".join("?" * len(processids))
    return {r[0]: r[1] for r in tx.all(f"SELECT processid, output FROM processes WHERE processid IN ({marks})", processids)}


def close(tx: Tx, processid: str, state: int, now: int, output: list[Any] | None, errors: list[str] | None) -> None:
    sets, params = ["state = ?", "endtime = ?"], [state, now]
    if output:
        sets.append("output = ?")
        params.append(_enc(output))
    if errors is not None:
        sets.append("errors = ?")
        params.append(_enc(errors))
    tx.run(f"UPDATE processes SET {', '.join(sets)} WHERE processid = ?", [*params, processid])


def set_output(tx: Tx, processid: str, output: list[Any]) -> None:
    tx.run("UPDATE processes SET output = ? WHERE processid = ?", (_enc(output), processid))


def unassign(tx: Tx, processid: str, now: int, waitdeadline: int, count_retry: bool, reset_start: bool = False) -> None:
    """Back to WAITING, keeping prioritytime and starttime (PROTOCOL §6.4); `reset_start`: as if
    never assigned (starttime and endtime 0)."""
    tx.run("UPDATE processes SET state = 0, isassigned = 0, assignedexecutorid = '', "
           "starttime = CASE WHEN ? THEN 0 ELSE starttime END, endtime = CASE WHEN ? THEN 0 ELSE ? END, "
           "execdeadline = 0, waitdeadline = CASE WHEN ? > 0 THEN ? ELSE waitdeadline END, retries = retries + ? "
           "WHERE processid = ?",
           (int(reset_start), int(reset_start), now, waitdeadline, waitdeadline, int(count_retry), processid))


_QUEUE_COLUMNS = "processid, colonyname, executortype, executornames, locationname, cpu, mem"


def requeue_running_of(tx: Tx, colonyname: str, executorid: str) -> list[sqlite3.Row]:
    """Re-queue an executor's running processes without counting a retry; returns their queue columns."""
    rows = tx.all(f"SELECT {_QUEUE_COLUMNS} FROM processes WHERE assignedexecutorid = ? AND state = 1 "
                  "AND colonyname = ?", (executorid, colonyname))
    tx.run("UPDATE processes SET state = 0, isassigned = 0, assignedexecutorid = '', starttime = 0, endtime = 0, "
           "execdeadline = 0 WHERE assignedexecutorid = ? AND state = 1 AND colonyname = ?", (executorid, colonyname))
    return rows


def set_state(tx: Tx, processid: str, state: int, now: int) -> None:
    tx.run("UPDATE processes SET state = ?, endtime = ? WHERE processid = ?", (state, now, processid))


_ORDER = {0: "prioritytime ASC", 1: "starttime ASC", 2: "endtime DESC", 3: "endtime DESC", 4: "endtime DESC"}


def find(tx: Tx, colonyname: str, state: int, count: int, *, executortype: str = "", initiatorid: str = "",
         label: str = "", processgraphid: str = "") -> list[Process]:
    where, params = ["colonyname = ?"], [colonyname]
    if state >= 0:
        where.append("state = ?")
        params.append(state)
    if processgraphid:
        where.append("processgraphid = ?")
        params.append(processgraphid)
    if executortype:
        where.append("executortype = ?")
        params.append(executortype)
    elif initiatorid:
        where.append("initiatorid = ?")
        params.append(initiatorid)
    elif label:
        where.append("label = ?")
        params.append(label)
    order = _ORDER.get(state, "submissiontime ASC")
    rows = tx.all(f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?", [*params, count])
    return [to_wire(tx, r) for r in rows]


def history(tx: Tx, colonyname: str, executorid: str, since: int, state: int) -> list[Process]:
    where, params = ["colonyname = ?", "submissiontime >= ?", "state = ?"], [colonyname, since, state]
    if executorid:
        where.append("assignedexecutorid = ?")
        params.append(executorid)
    rows = tx.all(f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY submissiontime ASC", params)
    return [to_wire(tx, r) for r in rows]


def remove(tx: Tx, processid: str) -> None:
    tx.run("DELETE FROM processes WHERE processid = ?", (processid,))


def remove_all_standalone(tx: Tx, colonyname: str, state: int) -> int:
    if state < 0:
        return tx.run("DELETE FROM processes WHERE colonyname = ? AND processgraphid = ''", (colonyname,))
    return tx.run("DELETE FROM processes WHERE colonyname = ? AND processgraphid = '' AND state = ?", (colonyname, state))


def state_counts(tx: Tx, colonyname: str | None) -> dict[int, int]:
    if colonyname is None:
        rows = tx.all("SELECT state, COUNT(*) FROM processes GROUP BY state")
    else:
        rows = tx.all("SELECT state, COUNT(*) FROM processes WHERE colonyname = ? GROUP BY state", (colonyname,))
    return {r[0]: r[1] for r in rows}


def expired_running(tx: Tx, now: int) -> list[sqlite3.Row]:
    """Running processes with an exec limit whose deadline (whole seconds) has passed."""
    return tx.all(f"SELECT {_QUEUE_COLUMNS}, retries, maxretries, maxwaittime FROM processes "
                  "WHERE state = 1 AND maxexectime > 0 AND execdeadline / 1000000000 < ? / 1000000000",
                  (now,))


def expired_waiting(tx: Tx, now: int, limit: int = 1000) -> list[str]:
    return [r[0] for r in tx.all(
        "SELECT processid FROM processes WHERE state = 0 AND waitdeadline > 0 AND maxwaittime > 0 "
        "AND waitdeadline / 1000000000 < ? / 1000000000 ORDER BY prioritytime LIMIT ?", (now, limit))]


# --- attributes -------------------------------------------------------------------------------
def add_attribute(tx: Tx, a: Attribute) -> None:
    tx.run("INSERT INTO attributes(attributeid, targetid, targetcolonyname, targetprocessgraphid, attributetype, key, "
           "value) VALUES (?, ?, ?, ?, ?, ?, ?)",
           (a.attributeid, a.targetid, a.targetcolonyname, a.targetprocessgraphid, a.attributetype, a.key, a.value))


def get_attribute(tx: Tx, attributeid: str) -> tuple[Attribute, str] | None:
    """The attribute (its state taken from its process) and the process colony."""
    r = tx.one("SELECT a.attributeid, a.targetid, a.targetcolonyname, a.targetprocessgraphid, a.attributetype, a.key, "
               "a.value, p.state, p.colonyname FROM attributes a JOIN processes p ON p.processid = a.targetid "
               "WHERE a.attributeid = ?", (attributeid,))
    if r is None:
        return None
    return (Attribute(attributeid=r[0], targetid=r[1], targetcolonyname=r[2], targetprocessgraphid=r[3], state=r[7],
                      attributetype=r[4], key=r[5], value=r[6]), r[8])


def remove_finished_before(tx: Tx, cutoff: int) -> int:
    """Retention: successful standalone processes submitted before `cutoff`."""
    return tx.run("DELETE FROM processes WHERE state = 2 AND processgraphid = '' AND submissiontime < ?", (cutoff,))
