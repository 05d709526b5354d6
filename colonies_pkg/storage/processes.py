"""SQL for processes; rows map to `ProcessRow` and wire `Process` Structs here only."""
from __future__ import annotations

from typing import Any

import msgspec

from ..clock import format_time
from ..models.process import Attribute, Process
from .attributes import of_process as attributes_of
from .db import SqlValue, Tx
from .rows import ExpiredRow, ProcessRow, QueueRow, columns

_enc = msgspec.json.encode
Raw = msgspec.Raw

COLUMNS = ProcessRow._fields
_COLUMN_LIST = columns(ProcessRow)  # every column, as a SELECT (or the claim) lists them
_SELECT = f"SELECT {_COLUMN_LIST} FROM processes"
_INSERT = f"INSERT INTO processes({_COLUMN_LIST}) VALUES ({', '.join('?' * len(COLUMNS))})"


def insert(tx: Tx, row: dict[str, Any]) -> ProcessRow:
    """Insert a new process; returns the whole row as stored (absent columns at their defaults)."""
    full = {c: row.get(c, 0 if c in _INT_DEFAULTS else "") for c in COLUMNS}
    tx.run(_INSERT, list(full.values()))
    return ProcessRow(**full)


_INT_DEFAULTS = frozenset({"cpu", "mem", "state", "isassigned", "waitforparents", "starttime", "endtime", "waitdeadline",
                           "execdeadline", "retries", "maxwaittime", "maxexectime", "maxretries"})


def get_row(tx: Tx, processid: str) -> ProcessRow | None:
    """The process row; in a write unit on PostgreSQL it stays locked until commit."""
    row = tx.one(_SELECT + " WHERE processid = ?" + tx.lock, (processid,))
    return ProcessRow._make(row) if row else None


def to_wire(tx: Tx, row: ProcessRow, attributes: list[Attribute] | None = None) -> Process:
    """The wire Process of a row; `attributes` when the caller has them at hand (else read)."""
    if attributes is None:
        attributes = attributes_of(tx, row.processid, row.state)
    return Process(
        processid=row.processid, initiatorid=row.initiatorid, initiatorname=row.initiatorname,
        assignedexecutorid=row.assignedexecutorid, isassigned=bool(row.isassigned), state=row.state,
        prioritytime=row.prioritytime, submissiontime=format_time(row.submissiontime),
        starttime=format_time(row.starttime), endtime=format_time(row.endtime),
        waitdeadline=format_time(row.waitdeadline), execdeadline=format_time(row.execdeadline),
        retries=row.retries, attributes=attributes,
        spec=Raw(row.spec), waitforparents=bool(row.waitforparents), parents=Raw(row.parents),
        children=Raw(row.children), processgraphid=row.processgraphid, in_=Raw(row.input),
        out=Raw(row.output), errors=Raw(row.errors),
    )


def get(tx: Tx, processid: str) -> Process | None:
    row = get_row(tx, processid)
    return to_wire(tx, row) if row else None


def claim(tx: Tx, colonyname: str, executortype: str, name: str, location: str, cpu: int, mem: int,
          executorid: str, now: int) -> ProcessRow | None:
    """Assign the first eligible WAITING process of the type (priority order) to `executorid`:
    its executor names allow `name`, its location matches, its cpu/mem fit (0: no limit).
    The claim itself is dialect SQL (storage/dialects/); returns the assigned row as updated, or None."""
    row = tx.sql.claim_process(tx, colonyname, executortype, name, location, cpu, mem, executorid, now, _COLUMN_LIST)
    return ProcessRow._make(row) if row else None


def queue_page(tx: Tx, colonyname: str, executortype: str, limit: int, offset: int) -> list[QueueRow]:
    """Assignable processes of a type, in priority order (a read-only look; the claim assigns)."""
    return [QueueRow._make(r) for r in tx.all(
        f"SELECT {columns(QueueRow)} FROM processes{tx.sql.QUEUE_INDEX} "
        "WHERE colonyname = ? AND executortype = ? AND state = 0 AND isassigned = 0 AND waitforparents = 0 "
        "ORDER BY prioritytime, rowid LIMIT ? OFFSET ?", (colonyname, executortype, limit, offset))]


def set_input(tx: Tx, processid: str, values: list[Any]) -> None:
    tx.run("UPDATE processes SET input = ? WHERE processid = ?", (_enc(values), processid))


def outputs_of(tx: Tx, processids: list[str]) -> dict[str, bytes]:
    marks = ",".join("?" * len(processids))
    return {r[0]: r[1] for r in tx.all(f"SELECT processid, output FROM processes WHERE processid IN ({marks})", processids)}


def close(tx: Tx, processid: str, state: int, now: int, output: list[Any] | None, errors: list[str] | None) -> None:
    params: list[SqlValue]
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
           "starttime = CASE WHEN ? = 1 THEN 0 ELSE starttime END, endtime = CASE WHEN ? = 1 THEN 0 ELSE ? END, "
           "execdeadline = 0, waitdeadline = CASE WHEN ? > 0 THEN ? ELSE waitdeadline END, retries = retries + ? "
           "WHERE processid = ?",
           (int(reset_start), int(reset_start), now, waitdeadline, waitdeadline, int(count_retry), processid))


def requeue_running_of(tx: Tx, colonyname: str, executorid: str) -> list[QueueRow]:
    """Re-queue an executor's running processes without counting a retry; returns their queue columns."""
    rows = [QueueRow._make(r) for r in tx.all(
        f"SELECT {columns(QueueRow)} FROM processes WHERE assignedexecutorid = ? AND state = 1 "
        "AND colonyname = ?" + tx.lock, (executorid, colonyname))]
    tx.run("UPDATE processes SET state = 0, isassigned = 0, assignedexecutorid = '', starttime = 0, endtime = 0, "
           "execdeadline = 0 WHERE assignedexecutorid = ? AND state = 1 AND colonyname = ?", (executorid, colonyname))
    return rows


def set_state(tx: Tx, processid: str, state: int, now: int) -> None:
    tx.run("UPDATE processes SET state = ?, endtime = ? WHERE processid = ?", (state, now, processid))


_ORDER = {0: "prioritytime ASC", 1: "starttime ASC", 2: "endtime DESC", 3: "endtime DESC", 4: "endtime DESC"}


def find(tx: Tx, colonyname: str, state: int, count: int, *, executortype: str = "", initiatorid: str = "",
         label: str = "", processgraphid: str = "") -> list[Process]:
    params: list[SqlValue]
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
    return [to_wire(tx, ProcessRow._make(r)) for r in rows]


def history(tx: Tx, colonyname: str, executorid: str, since: int, state: int) -> list[Process]:
    params: list[SqlValue]
    where, params = ["colonyname = ?", "submissiontime >= ?", "state = ?"], [colonyname, since, state]
    if executorid:
        where.append("assignedexecutorid = ?")
        params.append(executorid)
    rows = tx.all(f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY submissiontime ASC", params)
    return [to_wire(tx, ProcessRow._make(r)) for r in rows]


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


def expired_running(tx: Tx, now: int, limit: int = 1000) -> list[ExpiredRow]:
    """Running processes with an exec limit whose deadline (whole seconds) has passed. On
    PostgreSQL they are locked, and rows another replica's sweep holds are skipped."""
    return [ExpiredRow._make(r) for r in tx.all(
        f"SELECT {columns(ExpiredRow)} FROM processes "
        "WHERE state = 1 AND maxexectime > 0 AND execdeadline / 1000000000 < ? / 1000000000 "
        "ORDER BY execdeadline LIMIT ?" + tx.lock_skip, (now, limit))]


def expired_waiting(tx: Tx, now: int, limit: int = 1000) -> list[str]:
    return [r[0] for r in tx.all(
        "SELECT processid FROM processes WHERE state = 0 AND waitdeadline > 0 AND maxwaittime > 0 "
        "AND waitdeadline / 1000000000 < ? / 1000000000 ORDER BY prioritytime LIMIT ?" + tx.lock_skip, (now, limit))]


def remove_finished_before(tx: Tx, cutoff: int) -> int:
    """Retention: successful standalone processes submitted before `cutoff`."""
    return tx.run("DELETE FROM processes WHERE state = 2 AND processgraphid = '' AND submissiontime < ?", (cutoff,))
