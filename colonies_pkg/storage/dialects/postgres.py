"""PostgreSQL pieces of SQL (layer L2). Units run concurrently at READ COMMITTED on many
connections (and replicas), so rows a write unit reads and then changes are locked first."""
from __future__ import annotations

from typing import Any

NAME = "postgres"
LOCK = " FOR UPDATE"
QUEUE_INDEX = ""  # the planner picks the partial queue index itself
LOCK_SKIP = " FOR UPDATE SKIP LOCKED"  # sweeps: several replicas share the work, never block
# The exec deadline of a claimed row: now + maxexectime seconds, kept inside int64 like
# clock.ns_after (a huge maxexectime means "the end of time", not an overflow). Params: now, now.
# (SQLite's claim computes the same with clock.ns_after in Python.)
EXEC_DEADLINE = ("CASE WHEN maxexectime <= 0 THEN 0 WHEN maxexectime > (9223372036854775807 - ?) / 1000000000 "
                 "THEN 9223372036854775807 ELSE ? + maxexectime * 1000000000 END")


def contains(column: str) -> str:
    """A condition: `column` contains the text of the next parameter (case-sensitive)."""
    return f"strpos({column}, ?) > 0"


# One statement, as the Go server does: the partial index processes_queue gives the candidates in
# priority order, eligibility is checked in SQL, and SKIP LOCKED lets concurrent assigners (on this
# replica or another) pass over a row another transaction is claiming instead of waiting for it.
_CLAIM = """
UPDATE processes SET state = 1, isassigned = 1, assignedexecutorid = ?, starttime = ?,
    execdeadline = """ + EXEC_DEADLINE + """
WHERE processid = (
    SELECT processid FROM processes
    WHERE colonyname = ? AND executortype = ? AND state = 0 AND isassigned = 0 AND waitforparents = 0
      AND (executornames IS NULL OR executornames = '[]' OR executornames::jsonb @> jsonb_build_array(?::text)
           OR executornames::jsonb @> '["*"]'::jsonb)
      AND (locationname = '' OR lower(locationname) = lower(?))
      AND (?::bigint = 0 OR cpu <= ?::bigint)
      AND (?::bigint = 0 OR mem <= ?::bigint)
    ORDER BY prioritytime, rowid
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING """


def claim_process(tx: Any, colonyname: str, executortype: str, name: str, location: str, cpu: int, mem: int,
                  executorid: str, now: int, returning: str) -> Any:
    """Assign the first eligible waiting process in priority order; returns the `returning`
    columns of the row as updated, or None."""
    return tx.one(_CLAIM + returning,
                  (executorid, now, now, now, colonyname, executortype, name, location, cpu, cpu, mem, mem))
