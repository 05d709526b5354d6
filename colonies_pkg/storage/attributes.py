"""SQL for process attributes (key/value pairs set by the assigned executor, and env vars)."""
from __future__ import annotations

from ..models.process import Attribute
from .db import Tx


def of_process(tx: Tx, processid: str, state: int) -> list[Attribute]:
    """The attributes of a process in the order they were added (their state is the process's)."""
    return [
        Attribute(attributeid=r[0], targetid=processid, targetcolonyname=r[1], targetprocessgraphid=r[2], state=state,
                  attributetype=r[3], key=r[4], value=r[5])
        for r in tx.all("SELECT attributeid, targetcolonyname, targetprocessgraphid, attributetype, key, value "
                        "FROM attributes WHERE targetid = ? ORDER BY rowid", (processid,))
    ]


def add(tx: Tx, a: Attribute) -> None:
    tx.run("INSERT INTO attributes(attributeid, targetid, targetcolonyname, targetprocessgraphid, attributetype, key, "
           "value) VALUES (?, ?, ?, ?, ?, ?, ?)",
           (a.attributeid, a.targetid, a.targetcolonyname, a.targetprocessgraphid, a.attributetype, a.key, a.value))


def get(tx: Tx, attributeid: str) -> tuple[Attribute, str] | None:
    """The attribute (its state taken from its process) and the process colony."""
    r = tx.one("SELECT a.attributeid, a.targetid, a.targetcolonyname, a.targetprocessgraphid, a.attributetype, a.key, "
               "a.value, p.state, p.colonyname FROM attributes a JOIN processes p ON p.processid = a.targetid "
               "WHERE a.attributeid = ?", (attributeid,))
    if r is None:
        return None
    return (Attribute(attributeid=r[0], targetid=r[1], targetcolonyname=r[2], targetprocessgraphid=r[3], state=r[7],
                      attributetype=r[4], key=r[5], value=r[6]), r[8])
