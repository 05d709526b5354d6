"""SQL for process and executor logs."""
from __future__ import annotations

from ..models.log import Log
from .db import DbRow, Tx

_COLS = "processid, colonyname, executorname, message, timestamp"


def _log(r: DbRow) -> Log:
    return Log(processid=r[0], colonyname=r[1], executorname=r[2], message=r[3], timestamp=r[4])


def add(tx: Tx, log: Log) -> None:
    tx.run(f"INSERT INTO logs({_COLS}) VALUES (?, ?, ?, ?, ?)",
           (log.processid, log.colonyname, log.executorname, log.message, log.timestamp))


def get(tx: Tx, *, processid: str = "", executorname: str = "", count: int, since: int, latest: bool) -> list[Log]:
    col, key = ("executorname", executorname) if executorname else ("processid", processid)
    if latest:
        rows = tx.all(f"SELECT {_COLS} FROM logs WHERE {col} = ? ORDER BY timestamp DESC, id DESC LIMIT ?", (key, count))
        rows.reverse()
    elif since > 0:
        rows = tx.all(f"SELECT {_COLS} FROM logs WHERE {col} = ? AND timestamp > ? ORDER BY timestamp, id LIMIT ?",
                      (key, since, count))
    else:
        rows = tx.all(f"SELECT {_COLS} FROM logs WHERE {col} = ? ORDER BY timestamp, id LIMIT ?", (key, count))
    return [_log(r) for r in rows]


def search(tx: Tx, colonyname: str, text: str, since: int, count: int) -> list[Log]:
    rows = tx.all(f"SELECT {_COLS} FROM logs WHERE colonyname = ? AND timestamp >= ? AND {tx.sql.contains('message')} "
                  "ORDER BY timestamp DESC, id DESC LIMIT ?", (colonyname, since, text, count))
    return [_log(r) for r in rows]


def remove_before(tx: Tx, cutoff: int) -> int:
    return tx.run("DELETE FROM logs WHERE timestamp < ?", (cutoff,))
