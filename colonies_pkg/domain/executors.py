"""Executors (register, approve, reject, unregister, change id) and their functions."""
from __future__ import annotations

from ..errors import BadRequest, Forbidden, NotFound
from ..ids import is_valid_id, new_id
from ..models.executor import Allocations, Capabilities, Executor, ExecutorState, Function
from ..storage import executors as store
from ..storage import processes as process_store
from ..storage.db import Tx
from . import security
from .events import became_assignable


def add_executor(tx: Tx, now: int, caller: str, executor: Executor | None, allow_reregister: bool = False) -> Executor:
    if executor is None:
        raise BadRequest("Failed to add executor, executor is nil")
    security.require_colony_owner(tx, caller, executor.colonyname)
    if not executor.executorname:
        raise BadRequest("Failed to add executor, executor name is empty")
    if not is_valid_id(executor.executorid):
        raise BadRequest("Failed to add executor, invalid executor Id length")
    if not executor.executortype:
        raise BadRequest("Failed to add executor, executor type is empty")
    executor.state = ExecutorState.PENDING
    existing = store.get(tx, executor.colonyname, executor.executorname)
    if existing is not None:
        if not allow_reregister:
            raise BadRequest(f"Executor with name {executor.executorname} in Colony {executor.colonyname} already exists")
        _unregister(tx, now, existing)
        store.replace(tx, executor, now)
    else:
        store.add(tx, executor, now)
    stored = store.get(tx, executor.colonyname, executor.executorname)
    assert stored is not None
    return stored


def list_executors(tx: Tx, now: int, caller: str, colonyname: str) -> list[Executor]:
    security.require_member(tx, caller, colonyname, approved=False)
    return store.list_in(tx, colonyname)


def get_executor(tx: Tx, now: int, caller: str, colonyname: str, name: str) -> Executor:
    security.require_member(tx, caller, colonyname)
    executor = store.get(tx, colonyname, name)
    if executor is None:
        raise NotFound("Failed to get executor, executor is nil")
    return executor


def get_executor_by_id(tx: Tx, now: int, caller: str, colonyname: str, executorid: str) -> Executor:
    security.require_member(tx, caller, colonyname)
    executor = store.get_by_id(tx, colonyname, executorid)
    if executor is None:
        raise NotFound(f"Failed to get executor, executor with Id {executorid} not found")
    return executor


def _owned_executor(tx: Tx, caller: str, colonyname: str, name: str, verb: str) -> Executor:
    security.require_colony_owner(tx, caller, colonyname)
    executor = store.get(tx, colonyname, name)
    if executor is None:
        raise NotFound(f"Failed to {verb} executor, executor is nil")
    return executor


def approve_executor(tx: Tx, now: int, caller: str, colonyname: str, name: str) -> None:
    _owned_executor(tx, caller, colonyname, name, "approve")
    store.set_state(tx, colonyname, name, ExecutorState.APPROVED)


def reject_executor(tx: Tx, now: int, caller: str, colonyname: str, name: str) -> None:
    _owned_executor(tx, caller, colonyname, name, "reject")
    store.set_state(tx, colonyname, name, ExecutorState.REJECTED)


def _unregister(tx: Tx, now: int, executor: Executor) -> None:
    """State UNREGISTERED; running processes back to the queue (no retry counted); functions gone."""
    for row in process_store.requeue_running_of(tx, executor.colonyname, executor.executorid):
        tx.events.append(became_assignable(row, "executor_gone"))
    store.remove_functions_of(tx, executor.colonyname, executor.executorname)
    store.set_state(tx, executor.colonyname, executor.executorname, ExecutorState.UNREGISTERED)


def remove_executor(tx: Tx, now: int, caller: str, colonyname: str, name: str) -> None:
    _unregister(tx, now, _owned_executor(tx, caller, colonyname, name, "remove"))


def unregister_stale(tx: Tx, now: int, older_than: int) -> int:
    """Background cleanup: unregister executors not heard from since `older_than`."""
    stale = store.stale(tx, older_than)
    for colonyname, name in stale:
        executor = store.get(tx, colonyname, name)
        if executor is not None:
            _unregister(tx, now, executor)
    return len(stale)


def change_executor_id(tx: Tx, now: int, caller: str, colonyname: str, executorid: str) -> None:
    me = store.membership(tx, caller, colonyname)
    if me is None:
        security.require_member(tx, caller, colonyname, approved=False)
        raise Forbidden("Access denied, caller is not an executor of this colony")
    if not executorid:
        raise BadRequest("Failed to change executor Id, new executor Id is empty")
    if not is_valid_id(executorid):
        raise BadRequest("Failed to change executor Id, invalid executor Id length")
    store.set_id(tx, colonyname, me[0], executorid)


def _self_executor(tx: Tx, caller: str, colonyname: str, name: str) -> None:
    me = store.membership(tx, caller, colonyname)
    if me is None:
        security.require_member(tx, caller, colonyname, approved=False)
        raise Forbidden("Access denied, caller is not an executor of this colony")
    if me[0] != name:
        raise Forbidden(f"Access denied, only executor {name} may update itself")


def update_capabilities(tx: Tx, now: int, caller: str, colonyname: str, name: str, caps: Capabilities | None) -> None:
    _self_executor(tx, caller, colonyname, name)
    store.set_capabilities(tx, colonyname, name, caps or Capabilities())


def report_allocations(tx: Tx, now: int, caller: str, colonyname: str, name: str, allocs: Allocations | None) -> None:
    """Also a heartbeat: like an assign call it sets `lastheardfromtime`, so an executor whose
    slots are all busy with long processes is not unregistered as stale meanwhile."""
    _self_executor(tx, caller, colonyname, name)
    store.set_allocations(tx, colonyname, name, allocs or Allocations())
    store.touch(tx, colonyname, name, now)


# --- functions --------------------------------------------------------------------------------
def add_function(tx: Tx, now: int, caller: str, fun: Function | None) -> Function:
    if fun is None:
        raise BadRequest("Failed to add function, function is nil")
    security.require_member(tx, caller, fun.colonyname)
    executor = store.get(tx, fun.colonyname, fun.executorname)
    if executor is None:
        raise BadRequest(f"Failed to add function, executor with name {fun.executorname} not found")
    if executor.executorid != caller:
        raise Forbidden("Not allowed to add a function to another executor")
    if not fun.funcname:
        raise BadRequest("Failed to add function, function name is empty")
    if not fun.functionid:
        fun.functionid = new_id()
    fun.locationname = executor.locationname
    store.add_function(tx, fun)
    stored = store.get_function(tx, fun.functionid)
    assert stored is not None
    return stored


def list_functions(tx: Tx, now: int, caller: str, colonyname: str, executorname: str) -> list[Function]:
    security.require_member(tx, caller, colonyname)
    return store.list_functions(tx, colonyname, executorname)


def remove_function(tx: Tx, now: int, caller: str, functionid: str) -> None:
    if not functionid:
        raise BadRequest("Failed to remove function, function Id is empty")
    fun = store.get_function(tx, functionid)
    if fun is None:
        raise NotFound(f"Failed to remove function, function with Id {functionid} not found")
    security.require_member(tx, caller, fun.colonyname)
    executor = store.get(tx, fun.colonyname, fun.executorname)
    if executor is None or executor.executorid != caller:
        raise Forbidden("Not allowed to remove a function of another executor")
    store.remove_function(tx, functionid)


def record_call(tx: Tx, colonyname: str, executorname: str, funcname: str, wait_s: float, exec_s: float) -> None:
    """Update call statistics after a successful close (PROTOCOL §4.5's running pairwise mean)."""
    for f in store.functions_named(tx, colonyname, executorname, funcname):
        f.counter += 1
        f.minwaittime = min(f.minwaittime, wait_s) if f.minwaittime > 0 else wait_s
        f.maxwaittime = max(f.maxwaittime, wait_s) if f.maxwaittime > 0 else wait_s
        f.minexectime = min(f.minexectime, exec_s) if f.minexectime > 0 else exec_s
        f.maxexectime = max(f.maxexectime, exec_s) if f.maxexectime > 0 else exec_s
        f.avgwaittime = (f.avgwaittime + wait_s) / 2 if f.avgwaittime > 0 else wait_s
        f.avgexectime = (f.avgexectime + exec_s) / 2 if f.avgexectime > 0 else exec_s
        store.save_function_stats(tx, f)
