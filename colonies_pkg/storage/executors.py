"""SQL for executors and their registered functions."""
from __future__ import annotations

import msgspec

from ..clock import format_time
from ..models.executor import Allocations, Capabilities, Executor, Function, FunctionArg
from .db import DbRow, Tx

_enc = msgspec.json.encode
_caps = msgspec.json.Decoder(Capabilities)
_allocs = msgspec.json.Decoder(Allocations)
_fargs = msgspec.json.Decoder(list[FunctionArg] | None)

_COLS = ("colonyname, executorname, executorid, executortype, state, requirefuncreg, commissiontime, "
         "lastheardfromtime, locationname, capabilities, allocations")


def _executor(row: DbRow) -> Executor:
    (colonyname, executorname, executorid, executortype, state, requirefuncreg, commissiontime, lastheard,
     locationname, capabilities, allocations) = row
    return Executor(
        executorid=executorid, executortype=executortype, executorname=executorname, colonyname=colonyname,
        state=state, requirefuncreg=bool(requirefuncreg), commissiontime=format_time(commissiontime),
        lastheardfromtime=format_time(lastheard), locationname=locationname, capabilities=_caps.decode(capabilities),
        allocations=_allocs.decode(allocations),
    )


def add(tx: Tx, e: Executor, commissiontime: int) -> None:
    tx.run(f"INSERT INTO executors({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
           (e.colonyname, e.executorname, e.executorid, e.executortype, e.state, int(e.requirefuncreg),
            commissiontime, e.locationname, _enc(e.capabilities), _enc(e.allocations)))


def replace(tx: Tx, e: Executor, commissiontime: int) -> None:
    """Re-register an existing name with a new id/type (COLONIES_ALLOW_EXECUTOR_REREGISTER)."""
    tx.run("UPDATE executors SET executorid = ?, executortype = ?, state = ?, commissiontime = ?, "
           "lastheardfromtime = 0, locationname = ?, capabilities = ?, allocations = ? "
           "WHERE colonyname = ? AND executorname = ?",
           (e.executorid, e.executortype, e.state, commissiontime, e.locationname, _enc(e.capabilities),
            _enc(e.allocations), e.colonyname, e.executorname))


def get(tx: Tx, colonyname: str, name: str) -> Executor | None:
    row = tx.one(f"SELECT {_COLS} FROM executors WHERE colonyname = ? AND executorname = ?", (colonyname, name))
    return _executor(row) if row else None


def get_by_id(tx: Tx, colonyname: str, executorid: str) -> Executor | None:
    row = tx.one(f"SELECT {_COLS} FROM executors WHERE executorid = ? AND colonyname = ?", (executorid, colonyname))
    return _executor(row) if row else None


def list_in(tx: Tx, colonyname: str) -> list[Executor]:
    return [_executor(r) for r in tx.all(f"SELECT {_COLS} FROM executors WHERE colonyname = ? ORDER BY executorname",
                                         (colonyname,))]


def membership(tx: Tx, executorid: str, colonyname: str) -> tuple[str, str, int, str] | None:
    """(name, type, state, locationname) of the caller as an executor of the colony, if any."""
    row = tx.one("SELECT executorname, executortype, state, locationname FROM executors "
                 "WHERE executorid = ? AND colonyname = ?", (executorid, colonyname))
    return (row[0], row[1], row[2], row[3]) if row else None


def assign_view(tx: Tx, executorid: str, colonyname: str) -> tuple[str, str, int, str, int, bool] | None:
    """(name, type, state, locationname, lastheardfromtime, colony paused) of the caller as an
    executor of the colony, in one read (what an assignment needs to know first); None if not one."""
    row = tx.one("SELECT e.executorname, e.executortype, e.state, e.locationname, e.lastheardfromtime, c.paused "
                 "FROM executors e JOIN colonies c ON c.name = e.colonyname "
                 "WHERE e.executorid = ? AND e.colonyname = ?", (executorid, colonyname))
    return (row[0], row[1], row[2], row[3], row[4], bool(row[5])) if row else None


def set_state(tx: Tx, colonyname: str, name: str, state: int) -> None:
    tx.run("UPDATE executors SET state = ? WHERE colonyname = ? AND executorname = ?", (state, colonyname, name))


def set_id(tx: Tx, colonyname: str, name: str, executorid: str) -> None:
    tx.run("UPDATE executors SET executorid = ? WHERE colonyname = ? AND executorname = ?", (executorid, colonyname, name))


def touch(tx: Tx, colonyname: str, name: str, now: int) -> None:
    tx.run("UPDATE executors SET lastheardfromtime = ? WHERE colonyname = ? AND executorname = ?", (now, colonyname, name))


def set_capabilities(tx: Tx, colonyname: str, name: str, caps: Capabilities) -> None:
    tx.run("UPDATE executors SET capabilities = ? WHERE colonyname = ? AND executorname = ?", (_enc(caps), colonyname, name))


def set_allocations(tx: Tx, colonyname: str, name: str, allocs: Allocations) -> None:
    tx.run("UPDATE executors SET allocations = ? WHERE colonyname = ? AND executorname = ?", (_enc(allocs), colonyname, name))


def stale(tx: Tx, older_than: int) -> list[tuple[str, str]]:
    """(colonyname, executorname) of non-unregistered executors last heard from before `older_than`."""
    return [(r[0], r[1]) for r in tx.all(
        "SELECT colonyname, executorname FROM executors WHERE state != 3 AND lastheardfromtime > 0 "
        "AND lastheardfromtime < ?", (older_than,))]


def counts(tx: Tx, colonyname: str | None) -> tuple[int, int, int]:
    """(all, approved, unregistered) executors in a colony, or in all colonies when None."""
    where, params = ("WHERE colonyname = ?", (colonyname,)) if colonyname is not None else ("", ())
    row = tx.one("SELECT COUNT(*), COALESCE(SUM(CASE WHEN state = 1 THEN 1 ELSE 0 END), 0), "
                 f"COALESCE(SUM(CASE WHEN state = 3 THEN 1 ELSE 0 END), 0) FROM executors {where}", params)
    assert row is not None  # an aggregate without GROUP BY yields one row
    return row[0], row[1], row[2]


# --- functions --------------------------------------------------------------------------------
_FCOLS = ("functionid, colonyname, executorname, executortype, funcname, description, args, counter, minwaittime, "
          "maxwaittime, minexectime, maxexectime, avgwaittime, avgexectime, locationname")


def _function(r: DbRow) -> Function:
    (functionid, colonyname, executorname, executortype, funcname, description, args, counter, minwaittime,
     maxwaittime, minexectime, maxexectime, avgwaittime, avgexectime, locationname) = r
    return Function(
        functionid=functionid, executorname=executorname, executortype=executortype, colonyname=colonyname,
        funcname=funcname, description=description, args=_fargs.decode(args), counter=counter,
        minwaittime=minwaittime, maxwaittime=maxwaittime, minexectime=minexectime, maxexectime=maxexectime,
        avgwaittime=avgwaittime, avgexectime=avgexectime, locationname=locationname,
    )


def add_function(tx: Tx, f: Function) -> None:
    tx.run(f"INSERT INTO functions({_FCOLS}) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0, 0, 0, 0, ?)",
           (f.functionid, f.colonyname, f.executorname, f.executortype, f.funcname, f.description, _enc(f.args),
            f.locationname))


def get_function(tx: Tx, functionid: str) -> Function | None:
    row = tx.one(f"SELECT {_FCOLS} FROM functions WHERE functionid = ?", (functionid,))
    return _function(row) if row else None


def list_functions(tx: Tx, colonyname: str, executorname: str = "") -> list[Function]:
    if executorname:
        rows = tx.all(f"SELECT {_FCOLS} FROM functions WHERE colonyname = ? AND executorname = ? ORDER BY funcname",
                      (colonyname, executorname))
    else:
        rows = tx.all(f"SELECT {_FCOLS} FROM functions WHERE colonyname = ? ORDER BY executorname, funcname", (colonyname,))
    return [_function(r) for r in rows]


def remove_function(tx: Tx, functionid: str) -> None:
    tx.run("DELETE FROM functions WHERE functionid = ?", (functionid,))


def remove_functions_of(tx: Tx, colonyname: str, executorname: str) -> None:
    tx.run("DELETE FROM functions WHERE colonyname = ? AND executorname = ?", (colonyname, executorname))


def functions_named(tx: Tx, colonyname: str, executorname: str, funcname: str) -> list[Function]:
    return [_function(r) for r in tx.all(
        f"SELECT {_FCOLS} FROM functions WHERE colonyname = ? AND executorname = ? AND funcname = ?" + tx.lock,
        (colonyname, executorname, funcname))]


def save_function_stats(tx: Tx, f: Function) -> None:
    tx.run("UPDATE functions SET counter = ?, minwaittime = ?, maxwaittime = ?, minexectime = ?, maxexectime = ?, "
           "avgwaittime = ?, avgexectime = ? WHERE functionid = ?",
           (f.counter, f.minwaittime, f.maxwaittime, f.minexectime, f.maxexectime, f.avgwaittime, f.avgexectime,
            f.functionid))
