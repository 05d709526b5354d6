"""SQL for crons, generators and packed generator arguments."""
from __future__ import annotations

import sqlite3
from typing import Any

from ..clock import format_time
from ..models.cron import Cron, Generator
from .db import Tx

_CCOLS = ("cronid, colonyname, name, initiatorid, initiatorname, cronexpression, interval, random, anchor, nextrun, "
          "lastrun, workflowspec, prevprocessgraphid, waitforprevprocessgraph")


def cron_wire(row: sqlite3.Row, checkerperiod: int = 0) -> Cron:
    return Cron(cronid=row["cronid"], initiatorid=row["initiatorid"], initiatorname=row["initiatorname"],
                colonyname=row["colonyname"], name=row["name"], cronexpression=row["cronexpression"],
                interval=row["interval"], random=bool(row["random"]), nextrun=format_time(row["nextrun"]),
                lastrun=format_time(row["lastrun"]), workflowspec=row["workflowspec"],
                prevprocessgraphid=row["prevprocessgraphid"],
                waitforprevprocessgraph=bool(row["waitforprevprocessgraph"]), checkerperiod=checkerperiod)


def add_cron(tx: Tx, c: dict[str, Any]) -> None:
    tx.run(f"INSERT INTO crons({_CCOLS}) VALUES ({', '.join('?' * 14)})",
           [c[k.strip()] for k in _CCOLS.split(",")])


def get_cron(tx: Tx, cronid: str) -> sqlite3.Row | None:
    return tx.one(f"SELECT {_CCOLS} FROM crons WHERE cronid = ?", (cronid,))


def cron_by_name(tx: Tx, colonyname: str, name: str) -> sqlite3.Row | None:
    return tx.one(f"SELECT {_CCOLS} FROM crons WHERE colonyname = ? AND name = ?", (colonyname, name))


def list_crons(tx: Tx, colonyname: str, count: int) -> list[sqlite3.Row]:
    return tx.all(f"SELECT {_CCOLS} FROM crons WHERE colonyname = ? ORDER BY name LIMIT ?", (colonyname, count))


def remove_cron(tx: Tx, cronid: str) -> None:
    tx.run("DELETE FROM crons WHERE cronid = ?", (cronid,))


def due_crons(tx: Tx, now: int) -> list[sqlite3.Row]:
    return tx.all(f"SELECT {_CCOLS} FROM crons WHERE nextrun > 0 AND nextrun <= ? ORDER BY nextrun", (now,))


def earliest_nextrun(tx: Tx) -> int:
    row = tx.one("SELECT MIN(nextrun) FROM crons WHERE nextrun > 0")
    return row[0] or 0


def set_cron_run(tx: Tx, cronid: str, nextrun: int, lastrun: int | None = None, prevgraph: str | None = None) -> None:
    sets, params = ["nextrun = ?"], [nextrun]
    if lastrun is not None:
        sets.append("lastrun = ?")
        params.append(lastrun)
    if prevgraph is not None:
        sets.append("prevprocessgraphid = ?")
        params.append(prevgraph)
    tx.run(f"UPDATE crons SET {', '.join(sets)} WHERE cronid = ?", [*params, cronid])


# --- generators -------------------------------------------------------------------------------
_GCOLS = "generatorid, colonyname, name, initiatorid, initiatorname, workflowspec, trigger, timeout, firstpack, lastrun"


def generator_wire(row: sqlite3.Row, queuesize: int = 0, checkerperiod: int = 0) -> Generator:
    return Generator(generatorid=row["generatorid"], initiatorid=row["initiatorid"], initiatorname=row["initiatorname"],
                     colonyname=row["colonyname"], name=row["name"], workflowspec=row["workflowspec"],
                     trigger=row["trigger"], timeout=row["timeout"], firstpack=format_time(row["firstpack"]),
                     lastrun=format_time(row["lastrun"]), queuesize=queuesize, checkerperiod=checkerperiod)


def add_generator(tx: Tx, g: dict[str, Any]) -> None:
    tx.run(f"INSERT INTO generators({_GCOLS}) VALUES ({', '.join('?' * 10)})", [g[k.strip()] for k in _GCOLS.split(",")])


def get_generator(tx: Tx, generatorid: str) -> sqlite3.Row | None:
    return tx.one(f"SELECT {_GCOLS} FROM generators WHERE generatorid = ?", (generatorid,))


def generator_by_name(tx: Tx, colonyname: str, name: str) -> sqlite3.Row | None:
    return tx.one(f"SELECT {_GCOLS} FROM generators WHERE colonyname = ? AND name = ? ORDER BY rowid LIMIT 1",
                  (colonyname, name))


def list_generators(tx: Tx, colonyname: str, count: int) -> list[sqlite3.Row]:
    return tx.all(f"SELECT {_GCOLS} FROM generators WHERE colonyname = ? ORDER BY name LIMIT ?", (colonyname, count))


def all_generators_with_args(tx: Tx) -> list[sqlite3.Row]:
    return tx.all(f"SELECT {_GCOLS} FROM generators WHERE generatorid IN (SELECT DISTINCT generatorid FROM generatorargs)")


def remove_generator(tx: Tx, generatorid: str) -> None:
    tx.run("DELETE FROM generators WHERE generatorid = ?", (generatorid,))  # args cascade


def pack(tx: Tx, generatorid: str, arg: str, now: int) -> None:
    tx.run("INSERT INTO generatorargs(generatorid, arg, added) VALUES (?, ?, ?)", (generatorid, arg, now))
    tx.run("UPDATE generators SET firstpack = ? WHERE generatorid = ? AND firstpack = 0", (now, generatorid))


def queue_size(tx: Tx, generatorid: str) -> int:
    return tx.one("SELECT COUNT(*) FROM generatorargs WHERE generatorid = ?", (generatorid,))[0]


def oldest_arg_time(tx: Tx, generatorid: str) -> int:
    row = tx.one("SELECT MIN(added) FROM generatorargs WHERE generatorid = ?", (generatorid,))
    return row[0] or 0


def take_args(tx: Tx, generatorid: str, limit: int) -> list[str]:
    """Remove and return the `limit` oldest packed args, in pack order."""
    rows = tx.all("SELECT id, arg FROM generatorargs WHERE generatorid = ? ORDER BY id LIMIT ?", (generatorid, limit))
    if rows:
        tx.run("DELETE FROM generatorargs WHERE generatorid = ? AND id <= ?", (generatorid, rows[-1][0]))
    return [r[1] for r in rows]


def set_generator_lastrun(tx: Tx, generatorid: str, now: int) -> None:
    tx.run("UPDATE generators SET lastrun = ? WHERE generatorid = ?", (now, generatorid))
