"""The process state machine: submit → assign → close/fail, deadlines, listing and removal.

State changes record `ProcessChanged` events; the hub publishes them after commit to wake
assigners and WebSocket subscribers. Workflow resolution hooks in through `graphs`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec

from ..clock import NS, ns_after
from ..errors import BadRequest, ColoniesError, Forbidden, NotFound, Unavailable
from ..ids import new_id
from ..models.executor import ExecutorState
from ..models.process import Attribute, AttributeType, FunctionSpec, Process, ProcessState
from ..storage import attributes as attribute_store
from ..storage import colonies as colony_store
from ..storage import executors as executor_store
from ..storage import processes as store
from ..storage.db import Tx, inline
from ..storage.rows import ProcessRow, QueueRow
from . import executors as executor_domain
from . import resolve, security
from .attributes import attribute_id
from .events import ColonyResumed, ProcessChanged, ProcessesRemoved, became_assignable
from .resources import parse_cpu, parse_mem

DAY_NS = 86_400 * NS
MAX_PRIORITY = 50_000
MAX_LIST_COUNT = 100
EXEC_TIMEOUT_ERROR = "Maximum execution time limit exceeded"
WAIT_TIMEOUT_ERROR = "Maximum waiting time limit exceeded"
_enc = msgspec.json.encode
_list_decoder = msgspec.json.Decoder(list[Any])


class Paused(Unavailable):
    """Assignments are paused in this colony"""


def _row_of(tx: Tx, processid: str, verb: str) -> ProcessRow:
    row = store.get_row(tx, processid)
    if row is None:
        raise NotFound(f"Failed to {verb}, process is nil")
    return row


def new_process_row(spec: FunctionSpec, now: int, initiatorid: str, initiatorname: str, *,
                    processgraphid: str = "", waitforparents: bool = False) -> dict[str, Any]:
    """Validate a normalized spec and build the row of a new WAITING process."""
    cond = spec.conditions
    assert cond is not None
    if not -MAX_PRIORITY <= spec.priority <= MAX_PRIORITY:
        raise BadRequest(f"Failed to submit function spec, priority outside range [-{MAX_PRIORITY}, {MAX_PRIORITY}]")
    if not cond.executortype:
        raise BadRequest("Failed to submit function spec, conditions.executortype is empty")
    return {
        "processid": new_id(), "colonyname": cond.colonyname, "executortype": cond.executortype,
        "executornames": _enc(cond.executornames).decode() if cond.executornames else None,
        "locationname": cond.locationname, "cpu": parse_cpu(cond.cpu), "mem": parse_mem(cond.mem),
        "state": ProcessState.WAITING, "waitforparents": int(waitforparents),
        "prioritytime": now - spec.priority * DAY_NS, "submissiontime": now,
        "waitdeadline": ns_after(now, spec.maxwaittime) if spec.maxwaittime > 0 else 0,
        "maxwaittime": spec.maxwaittime, "maxexectime": spec.maxexectime, "maxretries": spec.maxretries,
        "initiatorid": initiatorid, "initiatorname": initiatorname, "funcname": spec.funcname, "label": spec.label,
        "processgraphid": processgraphid, "spec": _enc(spec).decode(), "parents": "[]", "children": "[]",
        "input": "[]", "output": "[]", "errors": "[]",
    }


def insert_process(tx: Tx, row: dict[str, Any], env: dict[str, str]) -> Process:
    """Insert a new process and its env attributes; returns it as a wire Process (no re-read)."""
    full = store.insert(tx, row)
    attributes = []
    for key, value in env.items():
        attribute = Attribute(
            attributeid=attribute_id(row["processid"], key, AttributeType.ENV), targetid=row["processid"],
            targetcolonyname=row["colonyname"], targetprocessgraphid=row["processgraphid"],
            attributetype=AttributeType.ENV, key=key, value=value, state=row["state"])
        attribute_store.add(tx, attribute)
        attributes.append(attribute)
    if not row["waitforparents"]:
        tx.events.append(became_assignable(row))
    return store.to_wire(tx, full, attributes)


@inline
def submit(tx: Tx, now: int, caller: str, spec: FunctionSpec | None) -> Process:
    if spec is None:
        raise BadRequest("Failed to submit function spec, spec is nil")
    spec.normalize()
    assert spec.conditions is not None and spec.env is not None
    member = security.require_member(tx, caller, spec.conditions.colonyname)
    row = new_process_row(spec, now, caller, member.name)
    return insert_process(tx, row, spec.env)


# --- assignment -------------------------------------------------------------------------------
class AssignResult(NamedTuple):
    process: Process | None
    executortype: str
    executorname: str
    locationname: str
    cpu: int  # what the request offered (millicores, bytes; 0 = no limit)
    mem: int


@inline
def try_assign(tx: Tx, now: int, caller: str, colonyname: str, availablecpu: str = "",
               availablemem: str = "", still_wanted: Callable[[], bool] | None = None) -> AssignResult:
    """One assignment attempt: the first eligible process in priority order, or none.

    `still_wanted()` false (the requester is gone) means: assign nothing."""
    return assign_next(tx, now, caller, colonyname, parse_cpu(availablecpu), parse_mem(availablemem), still_wanted)


def assign_next(tx: Tx, now: int, caller: str, colonyname: str, cpu: int, mem: int,
                still_wanted: Callable[[], bool] | None = None) -> AssignResult:
    """`try_assign` with the offered cpu (millicores) and memory (bytes) already parsed."""
    me, lastheard = _assigner(tx, caller, colonyname)
    if now - lastheard >= TOUCH_EVERY_NS or now < lastheard:  # lastheardfromtime: to the second
        executor_store.touch(tx, colonyname, me.name, now)
    none = AssignResult(None, me.executortype, me.name, me.locationname, cpu, mem)
    if still_wanted is not None and not still_wanted():
        return none
    row = store.claim(tx, colonyname, me.executortype, me.name, me.locationname, cpu, mem, caller, now)
    if row is None:
        return none
    if row.processgraphid:
        _feed_inputs(tx, row)
        resolve.roll_up(tx, now, row.processgraphid)
        row = store.get_row(tx, row.processid) or row  # with its input
    tx.events.append(ProcessChanged(row.processid, ProcessState.RUNNING, colonyname, me.executortype, False,
                                    (now - row.submissiontime) / NS))
    return none._replace(process=store.to_wire(tx, row))


def _eligible(row: QueueRow, name: str, location: str, cpu: int, mem: int) -> bool:
    """May this executor take the process? (The same rule as the claim's, storage/dialects/.)"""
    if row.executornames:
        allowed = _list_decoder.decode(row.executornames)
        if allowed and name not in allowed and "*" not in allowed:
            return False
    if row.locationname and row.locationname.lower() != location.lower():
        return False
    if cpu and row.cpu > cpu:
        return False
    return not (mem and row.mem > mem)


PROBE_ROWS = 64
TOUCH_EVERY_NS = NS  # an idle executor's lastheardfromtime is refreshed at most once a second


def _assigner(tx: Tx, caller: str, colonyname: str) -> tuple[security.Member, int]:
    """The caller as an approved executor of an unpaused colony, and its lastheardfromtime (one
    read); raises exactly what `security.require_executor` raises, then Paused."""
    view = executor_store.assign_view(tx, caller, colonyname) if caller else None
    if view is None or view[2] != ExecutorState.APPROVED:
        security.require_executor(tx, caller, colonyname)  # raises the refusal that applies
        raise Forbidden("Access denied, caller is not an executor of this colony")
    name, executortype, state, location, lastheard, paused = view
    if paused:
        raise Paused("Failed to assign process, assignments are paused in this colony")
    return security.Member("executor", name, executortype, state, location), lastheard


def assign_probe(tx: Tx, now: int, caller: str, colonyname: str, availablecpu: str = "",
                 availablemem: str = "") -> AssignResult | None:
    """A read-only look before an assignment attempt: None when an attempt (a write) is needed (a
    process may fit, or lastheardfromtime is due); else the empty result the attempt would give.
    Raises exactly what `try_assign` raises (not an approved executor, paused colony)."""
    me, lastheard = _assigner(tx, caller, colonyname)
    cpu, mem = parse_cpu(availablecpu), parse_mem(availablemem)
    if now - lastheard >= TOUCH_EVERY_NS:
        return None
    first = store.queue_page(tx, colonyname, me.executortype, 1, 0)  # the common cases in one row
    if first and _eligible(first[0], me.name, me.locationname, cpu, mem):
        return None
    if first:
        rows = store.queue_page(tx, colonyname, me.executortype, PROBE_ROWS, 0)
        if len(rows) == PROBE_ROWS or any(_eligible(row, me.name, me.locationname, cpu, mem) for row in rows):
            return None
    return AssignResult(None, me.executortype, me.name, me.locationname, cpu, mem)


@inline
def submit_and_hand(tx: Tx, now: int, caller: str, spec: FunctionSpec | None, executorid: str, cpu: int, mem: int,
                    still_wanted: Callable[[], bool]) -> tuple[Process, Process | None]:
    """Submit, then in the same commit assign the parked executor `executorid` the first process
    it may take in priority order (usually the new one). Returns (submitted, assigned or None).

    The assignment part is undone alone if it fails (executor no longer approved, colony paused):
    the submit stands and the executor simply looks again."""
    process = submit(tx, now, caller, spec)
    assert spec is not None and spec.conditions is not None
    try:
        with tx.nested():
            handed = assign_next(tx, now, executorid, spec.conditions.colonyname, cpu, mem, still_wanted).process
    except ColoniesError:
        handed = None
    return process, handed  # (the hub wakes nobody for a process assigned in the commit that queued it)


@inline
def give_back(tx: Tx, now: int, caller: str, processid: str) -> bool:
    """Return a process assigned to `caller` whose long-poll reply could not be delivered (the
    client disconnected while it was being assigned) to the queue, at its place, no retry counted."""
    row = store.get_row(tx, processid)
    if row is None or row.state != ProcessState.RUNNING or row.assignedexecutorid != caller:
        return False
    store.unassign(tx, processid, now, row.waitdeadline, False, reset_start=True)
    if row.processgraphid:
        resolve.roll_up(tx, now, row.processgraphid)
    tx.events.append(became_assignable(row))
    return True


def _feed_inputs(tx: Tx, row: ProcessRow) -> None:
    """A child's input is its parents' outputs concatenated in `parents` order (PROTOCOL §6.1)."""
    parents = _list_decoder.decode(row.parents)
    if not parents:
        return
    outputs = store.outputs_of(tx, parents)
    values: list[Any] = []
    for pid in parents:
        values.extend(_list_decoder.decode(outputs.get(pid, b"[]")))
    store.set_input(tx, row.processid, values)


# --- closing ----------------------------------------------------------------------------------
def _require_assigned(tx: Tx, caller: str, row: ProcessRow, verb: str) -> security.Member:
    """The caller, who must be a member and the process's assigned executor."""
    member = security.require_member(tx, caller, row.colonyname)
    if not row.assignedexecutorid:
        raise Forbidden(f"Failed to {verb}, process is not assigned")
    if row.assignedexecutorid != caller:
        raise Forbidden(f"Failed to {verb}, not allowed to {verb}")
    return member


@inline
def close_successful(tx: Tx, now: int, caller: str, processid: str, out: list[Any] | None) -> None:
    row = _row_of(tx, processid, "close process as successful")
    me = _require_assigned(tx, caller, row, "close process as successful")
    state = row.state
    if state == ProcessState.SUCCESS:
        return
    if state in (ProcessState.FAILED, ProcessState.CANCELLED):
        raise BadRequest(f"Tried to set {ProcessState(state).word} process as successful")
    if state == ProcessState.WAITING:
        raise BadRequest("Tried to set waiting process as successful without being running")
    store.close(tx, processid, ProcessState.SUCCESS, now, out, None)
    if me.kind == "executor":
        executor_domain.record_call(tx, row.colonyname, me.name, row.funcname,
                                    (row.starttime - row.submissiontime) / NS, (now - row.starttime) / NS)
    tx.events.append(ProcessChanged(processid, ProcessState.SUCCESS, row.colonyname, row.executortype, False,
                                    _ran(row, now)))
    resolve.on_closed(tx, now, row, ProcessState.SUCCESS)


def _ran(row: ProcessRow, now: int) -> float:
    return (now - row.starttime) / NS if row.starttime else 0.0


def fail_row(tx: Tx, now: int, row: ProcessRow, errors: list[str], reason: str = "") -> None:
    """Mark a process FAILED (by its executor or by the deadline loop) and resolve its graph."""
    store.close(tx, row.processid, ProcessState.FAILED, now, None, errors)
    tx.events.append(ProcessChanged(row.processid, ProcessState.FAILED, row.colonyname, row.executortype, False,
                                    _ran(row, now), reason))
    resolve.on_closed(tx, now, row, ProcessState.FAILED)


@inline
def close_failed(tx: Tx, now: int, caller: str, processid: str, errors: list[str] | None) -> None:
    row = _row_of(tx, processid, "close process as failed")
    _require_assigned(tx, caller, row, "close process as failed")
    state = row.state
    if state in (ProcessState.SUCCESS, ProcessState.FAILED, ProcessState.CANCELLED):
        raise BadRequest(f"Tried to set {ProcessState(state).word} process as failed")
    fail_row(tx, now, row, list(errors or []))


@inline
def set_output(tx: Tx, now: int, caller: str, processid: str, out: list[Any] | None) -> None:
    row = _row_of(tx, processid, "set output")
    security.require_member(tx, caller, row.colonyname)
    if row.state != ProcessState.RUNNING:
        raise Forbidden("Failed to set output, process is not running")
    if row.assignedexecutorid != caller:
        raise Forbidden("Failed to set output, not allowed to set output")
    if out:
        store.set_output(tx, processid, out)


def cancel(tx: Tx, now: int, caller: str, processid: str) -> None:
    row = _row_of(tx, processid, "cancel process")
    security.require_member(tx, caller, row.colonyname)
    if row.processgraphid:
        raise BadRequest("Failed to cancel process, process is part of a workflow, cancel the workflow instead")
    if row.state not in (ProcessState.WAITING, ProcessState.RUNNING):
        raise BadRequest(f"Tried to cancel {ProcessState(row.state).word} process")
    store.set_state(tx, processid, ProcessState.CANCELLED, now)
    tx.events.append(ProcessChanged(processid, ProcessState.CANCELLED, row.colonyname, row.executortype))


# --- reading ----------------------------------------------------------------------------------
def get(tx: Tx, now: int, caller: str, processid: str) -> Process:
    row = store.get_row(tx, processid)
    if row is None:
        raise NotFound("Failed to get process, process not found")
    security.require_member(tx, caller, row.colonyname)
    return store.to_wire(tx, row)


def list_processes(tx: Tx, now: int, caller: str, colonyname: str, count: int, state: int, executortype: str = "",
                   label: str = "", initiator: str = "", processgraphid: str = "") -> list[Process]:
    security.require_member(tx, caller, colonyname)
    if count > MAX_LIST_COUNT:
        raise BadRequest(f"Count is larger than MaxCount limit <{MAX_LIST_COUNT}>")
    if not (0 <= state <= 4 or (state == -1 and processgraphid)):
        raise BadRequest("Failed to get processes, invalid msg.State")
    initiatorid = ""
    if initiator and not executortype:
        user = colony_store.get_user(tx, colonyname, initiator)
        if user is None:
            raise BadRequest(f"User {initiator} does not exist")
        initiatorid = user.userid
    return store.find(tx, colonyname, state, count, executortype=executortype, initiatorid=initiatorid, label=label,
                      processgraphid=processgraphid)


def history(tx: Tx, now: int, caller: str, colonyname: str, executorid: str, seconds: int, state: int) -> list[Process]:
    security.require_member(tx, caller, colonyname)
    return store.history(tx, colonyname, executorid, ns_after(now, -seconds), state)


# --- removal ----------------------------------------------------------------------------------
def remove(tx: Tx, now: int, caller: str, processid: str) -> None:
    row = _row_of(tx, processid, "remove process")
    security.require_member(tx, caller, row.colonyname)
    if row.processgraphid:
        raise BadRequest("Failed to remove, cannot remove a process part of a workflow, delete the entire workflow instead")
    if row.state == ProcessState.RUNNING:
        raise BadRequest("Failed to remove process, cannot remove a running process")
    store.remove(tx, processid)
    tx.events.append(ProcessesRemoved(row.colonyname, (processid,)))


def remove_all(tx: Tx, now: int, caller: str, colonyname: str, state: int) -> None:
    security.require_colony_owner(tx, caller, colonyname)
    if state == ProcessState.RUNNING:
        raise BadRequest("Not possible to remove running processes")
    if state not in (-1, 0, 2, 3, 4):
        raise BadRequest(f"Failed to remove processes, invalid state {state}")
    store.remove_all_standalone(tx, colonyname, state)
    tx.events.append(ProcessesRemoved(colonyname))


# --- colony-wide assignment pause -------------------------------------------------------------
def pause(tx: Tx, now: int, caller: str, colonyname: str) -> None:
    security.require_colony_owner(tx, caller, colonyname)
    colony_store.set_paused(tx, colonyname, True)


def resume(tx: Tx, now: int, caller: str, colonyname: str) -> None:
    security.require_colony_owner(tx, caller, colonyname)
    colony_store.set_paused(tx, colonyname, False)
    tx.events.append(ColonyResumed(colonyname))


def pause_status(tx: Tx, now: int, caller: str, colonyname: str) -> bool:
    security.require_member(tx, caller, colonyname, approved=False)
    return colony_store.is_paused(tx, colonyname)


# --- failure management (PROTOCOL §6.4), run by the background loop ------------------------------
def enforce_deadlines(tx: Tx, now: int) -> int:
    """Re-queue or fail running processes past maxexectime; fail waiting ones past maxwaittime.

    maxexectime ≤ 0 means no limit here (the Go server expires maxexectime 0 at once; pycolonies'
    FuncSpec defaults to 0, so we choose the behaviour a user expects). Returns rows changed."""
    changed = 0
    for row in store.expired_running(tx, now):
        full = store.get_row(tx, row.processid)
        if full is None or full.state != ProcessState.RUNNING:  # closed by a cascade earlier in this sweep
            continue
        if row.maxretries > -1 and row.retries >= row.maxretries:
            fail_row(tx, now, full, [EXEC_TIMEOUT_ERROR], "max_exec_time")
        else:
            waitdeadline = ns_after(now, row.maxwaittime) if row.maxwaittime > 0 else 0
            store.unassign(tx, row.processid, now, waitdeadline, True)
            tx.events.append(became_assignable(row, "retry"))
        changed += 1
    for processid in store.expired_waiting(tx, now):
        full = store.get_row(tx, processid)
        if full is None or full.state != ProcessState.WAITING:
            continue
        fail_row(tx, now, full, [WAIT_TIMEOUT_ERROR], "max_wait_time")
        changed += 1
    return changed


def snapshot(tx: Tx, now: int, processid: str) -> tuple[Process, str] | None:
    """The process and its colony, for pushing to an already-authorized subscriber."""
    row = store.get_row(tx, processid)
    return (store.to_wire(tx, row), row.colonyname) if row else None
