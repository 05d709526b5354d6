"""SQLite pieces of SQL (layer L2). The single writer serialises every unit, so nothing locks."""
from __future__ import annotations

from typing import Any

import msgspec

NAME = "sqlite"
LOCK = ""  # appended to SELECTs that a write unit will modify: nothing to lock under one writer
QUEUE_INDEX = " INDEXED BY processes_queue"  # the planner would pick processes_by_state and skip rows one by one
LOCK_SKIP = ""
_names = msgspec.json.Decoder(list[Any])

# The exec deadline of a claimed row: now + maxexectime seconds, kept inside int64 like
# clock.ns_after (a huge maxexectime means "the end of time", not an overflow). Params: now, now.
EXEC_DEADLINE = ("CASE WHEN maxexectime <= 0 THEN 0 WHEN maxexectime > (9223372036854775807 - ?) / 1000000000 "
                 "THEN 9223372036854775807 ELSE ? + maxexectime * 1000000000 END")


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
    select-then-update atomic."""
    cursor = tx.conn.execute(
        f"SELECT processid, executornames, locationname, cpu, mem FROM processes{QUEUE_INDEX} "
        "WHERE colonyname = ? AND executortype = ? AND state = 0 AND isassigned = 0 AND waitforparents = 0 "
        "ORDER BY prioritytime, rowid", (colonyname, executortype))
    try:
        for r in cursor:
            if _eligible(r[1], r[2], r[3], r[4], name, location, cpu, mem):
                processid = r[0]
                break
        else:
            return None
    finally:
        cursor.close()  # done reading before the row changes
    return tx.one("UPDATE processes SET state = 1, isassigned = 1, assignedexecutorid = ?, starttime = ?, "
                  f"execdeadline = {EXEC_DEADLINE} WHERE processid = ? AND state = 0 AND isassigned = 0 "
                  f"RETURNING {returning}", (executorid, now, now, now, processid))
