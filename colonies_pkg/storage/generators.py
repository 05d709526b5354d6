"""SQL for generators and their packed arguments."""
from __future__ import annotations

from typing import Any

from ..clock import format_time
from ..models.cron import Generator
from .db import DbRow, Tx, scalar
from .rows import GeneratorRow, columns

_GCOLS = columns(GeneratorRow)


def generator_wire(row: GeneratorRow, queuesize: int = 0, checkerperiod: int = 0) -> Generator:
    return Generator(generatorid=row.generatorid, initiatorid=row.initiatorid, initiatorname=row.initiatorname,
                     colonyname=row.colonyname, name=row.name, workflowspec=row.workflowspec,
                     trigger=row.trigger, timeout=row.timeout, firstpack=format_time(row.firstpack),
                     lastrun=format_time(row.lastrun), queuesize=queuesize, checkerperiod=checkerperiod)


def add_generator(tx: Tx, g: dict[str, Any]) -> None:
    tx.run(f"INSERT INTO generators({_GCOLS}) VALUES ({', '.join('?' * len(GeneratorRow._fields))})",
           [g[k] for k in GeneratorRow._fields])


def _generator(row: DbRow | None) -> GeneratorRow | None:
    return GeneratorRow._make(row) if row else None


def get_generator(tx: Tx, generatorid: str) -> GeneratorRow | None:
    """The generator; locked until commit in a write unit on PostgreSQL (packs and flushes of one
    generator take its args one after the other)."""
    return _generator(tx.one(f"SELECT {_GCOLS} FROM generators WHERE generatorid = ?" + tx.lock, (generatorid,)))


def generator_by_name(tx: Tx, colonyname: str, name: str) -> GeneratorRow | None:
    return _generator(tx.one(f"SELECT {_GCOLS} FROM generators WHERE colonyname = ? AND name = ? ORDER BY rowid "
                             "LIMIT 1", (colonyname, name)))


def list_generators(tx: Tx, colonyname: str, count: int) -> list[GeneratorRow]:
    return [GeneratorRow._make(r) for r in tx.all(
        f"SELECT {_GCOLS} FROM generators WHERE colonyname = ? ORDER BY name LIMIT ?", (colonyname, count))]


def all_generators_with_args(tx: Tx) -> list[GeneratorRow]:
    return [GeneratorRow._make(r) for r in tx.all(
        f"SELECT {_GCOLS} FROM generators WHERE generatorid IN (SELECT DISTINCT generatorid FROM generatorargs) "
        "ORDER BY generatorid" + tx.lock)]


def remove_generator(tx: Tx, generatorid: str) -> None:
    tx.run("DELETE FROM generators WHERE generatorid = ?", (generatorid,))  # args cascade


def pack(tx: Tx, generatorid: str, arg: str, now: int) -> None:
    tx.run("INSERT INTO generatorargs(generatorid, arg, added) VALUES (?, ?, ?)", (generatorid, arg, now))
    tx.run("UPDATE generators SET firstpack = ? WHERE generatorid = ? AND firstpack = 0", (now, generatorid))


def queue_size(tx: Tx, generatorid: str) -> int:
    return scalar(tx, "SELECT COUNT(*) FROM generatorargs WHERE generatorid = ?", (generatorid,))


def oldest_arg_time(tx: Tx, generatorid: str) -> int:
    return scalar(tx, "SELECT MIN(added) FROM generatorargs WHERE generatorid = ?", (generatorid,))


def take_args(tx: Tx, generatorid: str, limit: int) -> list[str]:
    """Remove and return the `limit` oldest packed args, in pack order."""
    rows = tx.all("SELECT id, arg FROM generatorargs WHERE generatorid = ? ORDER BY id LIMIT ?", (generatorid, limit))
    if rows:
        tx.run("DELETE FROM generatorargs WHERE generatorid = ? AND id <= ?", (generatorid, rows[-1][0]))
    return [r[1] for r in rows]


def set_generator_lastrun(tx: Tx, generatorid: str, now: int) -> None:
    tx.run("UPDATE generators SET lastrun = ? WHERE generatorid = ?", (now, generatorid))
