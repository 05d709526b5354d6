"""SQL for crons: workflows started on a schedule."""
from __future__ import annotations

from typing import Any

from ..clock import format_time
from ..models.cron import Cron
from .db import DbRow, SqlValue, Tx, scalar
from .rows import CronRow, columns

_CCOLS = columns(CronRow)


def cron_wire(row: CronRow, checkerperiod: int = 0) -> Cron:
    return Cron(cronid=row.cronid, initiatorid=row.initiatorid, initiatorname=row.initiatorname,
                colonyname=row.colonyname, name=row.name, cronexpression=row.cronexpression,
                interval=row.interval, random=bool(row.random), nextrun=format_time(row.nextrun),
                lastrun=format_time(row.lastrun), workflowspec=row.workflowspec,
                prevprocessgraphid=row.prevprocessgraphid,
                waitforprevprocessgraph=bool(row.waitforprevprocessgraph), checkerperiod=checkerperiod)


def add_cron(tx: Tx, c: dict[str, Any]) -> None:
    tx.run(f"INSERT INTO crons({_CCOLS}) VALUES ({', '.join('?' * len(CronRow._fields))})",
           [c[k] for k in CronRow._fields])


def _cron(row: DbRow | None) -> CronRow | None:
    return CronRow._make(row) if row else None


def get_cron(tx: Tx, cronid: str) -> CronRow | None:
    """The cron; locked until commit in a write unit on PostgreSQL (a run and the scheduler
    firing it at once: the second sees the first's next run)."""
    return _cron(tx.one(f"SELECT {_CCOLS} FROM crons WHERE cronid = ?" + tx.lock, (cronid,)))


def cron_by_name(tx: Tx, colonyname: str, name: str) -> CronRow | None:
    return _cron(tx.one(f"SELECT {_CCOLS} FROM crons WHERE colonyname = ? AND name = ?", (colonyname, name)))


def list_crons(tx: Tx, colonyname: str, count: int) -> list[CronRow]:
    return [CronRow._make(r) for r in tx.all(f"SELECT {_CCOLS} FROM crons WHERE colonyname = ? ORDER BY name LIMIT ?",
                                             (colonyname, count))]


def remove_cron(tx: Tx, cronid: str) -> None:
    tx.run("DELETE FROM crons WHERE cronid = ?", (cronid,))


def due_crons(tx: Tx, now: int) -> list[CronRow]:
    """Crons due at `now`, locked in a write unit on PostgreSQL: a second scheduler (a replica
    taking over the lease) waits, then no longer sees them due."""
    return [CronRow._make(r) for r in tx.all(
        f"SELECT {_CCOLS} FROM crons WHERE nextrun > 0 AND nextrun <= ? ORDER BY nextrun" + tx.lock, (now,))]


def earliest_nextrun(tx: Tx) -> int:
    return scalar(tx, "SELECT MIN(nextrun) FROM crons WHERE nextrun > 0")


def set_cron_run(tx: Tx, cronid: str, nextrun: int, lastrun: int | None = None, prevgraph: str | None = None) -> None:
    params: list[SqlValue]
    sets, params = ["nextrun = ?"], [nextrun]
    if lastrun is not None:
        sets.append("lastrun = ?")
        params.append(lastrun)
    if prevgraph is not None:
        sets.append("prevprocessgraphid = ?")
        params.append(prevgraph)
    tx.run(f"UPDATE crons SET {', '.join(sets)} WHERE cronid = ?", [*params, cronid])
