"""SQLite pieces of SQL (layer L2). The single writer serialises every unit, so nothing locks."""
from __future__ import annotations

from typing import Any

import msgspec

from ...clock import ns_after

NAME = "sqlite"
LOCK = ""  # appended to SELECTs that a write unit will modify: nothing to lock under one writer
QUEUE_INDEX = " INDEXED BY processes_queue"  # the planner would pick processes_by_state and skip rows one by one
LOCK_SKIP = ""
_names = msgspec.json.Decoder(list[Any])

def contains(column: str) -> str:
    """A condition: `column` contains the text of the next parameter (case-sensitive)."""
    return f"instr({column}, ?) > 0"


def _eligible(names: str | None, locationname: str, cpu_req: int, mem_req: int, name: str, location: str, cpu: int,
              mem: int) -> bool:
    if names:
        allowed = _names.decode(names)
        if allowed and name not in allowed and "*" not in allowed:
            return False
    if locationname and locationname.lower() != location.lower():
        return False
    if cpu and cpu_req > cpu:
        return False
    return not (mem and mem_req > mem)


def claim_process(tx: Any, colonyname: str, executortype: str, name: str, location: str, cpu: int, mem: int,
                  executorid: str, now: int, returning: str) -> Any:
    """Assign the first eligible waiting process in priority order; returns the `returning`
    columns of the row as updated, or None.

    Walks the partial queue index in priority order a row at a time (usually the first row is
    taken) and filters in Python (executor names, location, cpu, mem); the single writer makes
    select-then-update atomic. The chosen row is read whole by rowid, updated by rowid, and
    returned as updated: cheaper than `UPDATE … RETURNING`, which SQLite runs through a
    temporary table."""
    cursor = tx.conn.execute(
        f"SELECT rowid, executornames, locationname, cpu, mem FROM processes{QUEUE_INDEX} "
        "WHERE colonyname = ? AND executortype = ? AND state = 0 AND isassigned = 0 AND waitforparents = 0 "
        "ORDER BY prioritytime, rowid", (colonyname, executortype))
    try:
        for r in cursor:
            if _eligible(r[1], r[2], r[3], r[4], name, location, cpu, mem):
                rowid = r[0]
                break
        else:
            return None
    finally:
        cursor.close()  # done reading before the row changes
    row = list(tx.conn.execute(f"SELECT {returning} FROM processes WHERE rowid = ?", (rowid,)).fetchone())
    at = _positions(returning)
    maxexectime = row[at["maxexectime"]]
    deadline = 0 if maxexectime <= 0 else ns_after(now, maxexectime)
    tx.conn.execute("UPDATE processes SET state = 1, isassigned = 1, assignedexecutorid = ?, starttime = ?, "
                    "execdeadline = ? WHERE rowid = ?", (executorid, now, deadline, rowid))
    row[at["state"]], row[at["isassigned"]], row[at["assignedexecutorid"]] = 1, 1, executorid
    row[at["starttime"]], row[at["execdeadline"]] = now, deadline
    return tuple(row)


_columns: dict[str, dict[str, int]] = {}


def _positions(columns: str) -> dict[str, int]:
    """Column name → position in a `SELECT {columns}` list (cached per list)."""
    at = _columns.get(columns)
    if at is None:
        at = _columns[columns] = {c.strip(): i for i, c in enumerate(columns.split(","))}
    return at
