"""`colonies process …`: list, inspect, assign, close, fail, cancel and remove processes.

ps/psw/pss/psf/psc list running/waiting/successful/failed/cancelled processes (getprocessesmsg);
`get` prints the Process, Function Specification and Conditions tables and the attributes.
"""
from __future__ import annotations

import argparse

from ..models.process import GPU, Conditions, FunctionSpec, ProcessState
from ..rpc.messages import (
    AssignProcessMsg,
    CancelProcessMsg,
    CloseFailedMsg,
    CloseSuccessfulMsg,
    GetPauseStatusMsg,
    GetProcessesMsg,
    GetProcessMsg,
    PauseAssignmentsMsg,
    RemoveAllProcessesMsg,
    RemoveProcessMsg,
    ResumeAssignmentsMsg,
)
from ..rpc.replies import PauseStatusReply, ProcessReply
from .common import Session, add_colony_key, add_command, add_group, add_json, confirm
from .output import (
    elapsed,
    fmt_args,
    fmt_kwargs,
    fmt_list,
    fmt_time,
    info,
    print_json,
    print_values,
    warn,
)
from .table import kv_table, list_table, truncate
from .wait import STATE_NAMES

WAITING, RUNNING, SUCCESS, FAILED, CANCELLED = ProcessState
ATTRIBUTE_TYPES = {0: "In", 1: "Out", 2: "Err", 3: "Env"}
LISTS = {  # command: (state, word in messages, time column, time field)
    "ps": (RUNNING, RUNNING.word, "STARTTIME", "starttime"),
    "psw": (WAITING, WAITING.word, "SUBMSSIONTIME", "submissiontime"),
    "pss": (SUCCESS, SUCCESS.word, "SUBMSSIONTIME", "submissiontime"),
    "psf": (FAILED, FAILED.word, "ENDTIME", "endtime"),
    "psc": (CANCELLED, CANCELLED.word, "ENDTIME", "endtime"),
}
CELL = 30
SERVER_MAX_COUNT = 100  # the most processes one getprocessesmsg may ask for


# --- rendering (also used by `function`, `workflow`, `cron` and `generator`) -------------------
def spec_table(spec: FunctionSpec) -> None:
    kv_table([
        ("Func", spec.funcname),
        ("Args", fmt_args(spec.args)),
        ("KwArgs", fmt_kwargs(spec.kwargs)),
        ("MaxWaitTime", spec.maxwaittime),
        ("MaxExecTime", spec.maxexectime),
        ("MaxRetries", spec.maxretries),
        ("Priority", spec.priority),
        ("Label", spec.label),
    ], title="Function Specification")


def conditions_table(conditions: Conditions) -> None:
    gpu = conditions.gpu or GPU()
    kv_table([
        ("Colony", conditions.colonyname),
        ("ExecutorNames", fmt_list(conditions.executornames, "None")),
        ("ExecutorType", conditions.executortype),
        ("Dependencies", fmt_list(conditions.dependencies)),
        ("Nodes", conditions.nodes),
        ("CPU", conditions.cpu),
        ("Memory", conditions.mem),
        ("Processes", conditions.processes),
        ("ProcessesPerNode", conditions.processespernode),
        ("Storage", conditions.storage),
        ("Walltime", conditions.walltime),
        ("GPUName", gpu.name),
        ("GPUs", gpu.count),
        ("GPUPerNode", gpu.nodecount),
        ("GPUMemory", gpu.mem),
    ], title="Conditions")


def process_tables(p: ProcessReply) -> None:
    kv_table([
        ("Id", p.processid),
        ("IsAssigned", p.isassigned),
        ("InitiatorID", p.initiatorid),
        ("Initiator", p.initiatorname),
        ("AssignedExecutorID", p.assignedexecutorid),
        ("State", STATE_NAMES.get(p.state, p.state)),
        ("PriorityTime", p.prioritytime),
        ("SubmissionTime", fmt_time(p.submissiontime)),
        ("StartTime", fmt_time(p.starttime)),
        ("EndTime", fmt_time(p.endtime)),
        ("WaitDeadline", fmt_time(p.waitdeadline)),
        ("ExecDeadline", fmt_time(p.execdeadline)),
        ("WaitingTime", elapsed(p.submissiontime, p.starttime)),
        ("ProcessingTime", elapsed(p.starttime, p.endtime) if p.state != WAITING else "0s"),
        ("Retries", p.retries),
        ("Input", truncate(fmt_list(p.in_), 64)),
        ("Output", truncate(fmt_list(p.out), 64)),
        ("Errors", truncate(fmt_list(p.errors), 64)),
    ], title="Process")
    spec_table(p.spec)
    conditions_table(p.conditions)
    if p.attributes:
        list_table(["ATTRIBUTEID", "KEY", "VALUE", "TYPE"],
                   [(a.attributeid, a.key, truncate(a.value, 40), ATTRIBUTE_TYPES.get(a.attributetype, a.attributetype))
                    for a in p.attributes], title="Attributes")
    else:
        print("No attributes found")


def process_rows(processes: list[ProcessReply], time_field: str, ids: bool) -> list[list[str]]:
    rows: list[list[str]] = []
    for p in processes:
        spec = p.spec
        row = [spec.funcname, truncate(fmt_list(spec.args), CELL),
               truncate(fmt_kwargs(spec.kwargs) if spec.kwargs else "", CELL),
               fmt_time(getattr(p, time_field)), p.conditions.executortype, p.initiatorname, spec.label]
        rows.append(([p.processid] if ids else []) + row)
    return rows


def get_process(session: Session, processid: str) -> ProcessReply:
    return session.rpc(GetProcessMsg(processid=processid), session.prvkey, reply=ProcessReply)


# --- commands ----------------------------------------------------------------------------------
def _ps(args: argparse.Namespace) -> int:
    state, word, column, field = LISTS[args.subcommand]
    s = Session(args)
    # the server filters by type, label and initiator; the function name is filtered here, over the
    # most the server lists at once, so that --count still means "up to COUNT matching processes"
    msg = GetProcessesMsg(colonyname=s.colonyname, count=max(args.count, SERVER_MAX_COUNT) if args.funcname else args.count,
                          state=state, executortype=args.executortype or "", label=args.label or "",
                          initiator=args.initiator or "")
    typed, plain = s.rpc_json(msg, s.prvkey, list[ProcessReply] | None)
    pairs = list(zip(typed or [], plain or [], strict=True))
    if args.funcname:
        pairs = [(p, raw) for p, raw in pairs if p.spec.funcname == args.funcname][:args.count]
    if args.json:
        print_json([raw for _, raw in pairs])  # as the server sent them
        return 0
    processes = [p for p, _ in pairs]
    if not processes:
        warn(f"No {word} processes found")
        return 0
    headers = ["FUNCNAME", "ARGS", "KWARGS", column, "EXECUTORTYPE", "INITIATOR", "LABEL"]
    list_table((["ID"] if args.ids else []) + headers, process_rows(processes, field, args.ids))
    return 0


def _get(args: argparse.Namespace) -> int:
    s = Session(args)
    p, plain = s.rpc_json(GetProcessMsg(processid=args.processid), s.prvkey, ProcessReply)
    if args.out:
        print_values(p.out)
    elif args.json:
        print_json(plain)  # as the server sent it
    else:
        process_tables(p)
    return 0


def _assign(args: argparse.Namespace) -> int:
    s = Session(args)
    p, plain = s.rpc_json(AssignProcessMsg(colonyname=s.colonyname, timeout=args.timeout, availablecpu=args.cpu or "",
                                           availablemem=args.mem or ""), s.prvkey, ProcessReply,
                          timeout=max(args.timeout, 0) + 30)
    info("Assigned process to executor", ExecutorId=p.assignedexecutorid, ProcessId=p.processid)
    if args.json:
        print_json(plain)
    return 0


def _close(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc(CloseSuccessfulMsg(processid=args.processid, out=args.out or []), s.prvkey)
    info("Process closed as Successful", ProcessId=args.processid)
    return 0


def _fail(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc(CloseFailedMsg(processid=args.processid, errors=args.errors or []), s.prvkey)
    info("Process closed as Failed", ProcessId=args.processid)
    return 0


def _remove(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc(RemoveProcessMsg(processid=args.processid, all=False), s.prvkey)
    info("Process removed", ProcessId=args.processid)
    return 0


def removeall_state(args: argparse.Namespace) -> tuple[int, str]:
    """The state filter of a removeall command (-1 = all) and the word for messages."""
    for state in (WAITING, SUCCESS, FAILED, CANCELLED):
        if getattr(args, state.word):  # the flags are named like the states: --waiting, --successful, ...
            return state, state.word + " "
    return -1, ""


def _removeall(args: argparse.Namespace) -> int:
    s = Session(args)
    state, word = removeall_state(args)
    colonyname, key = s.colonyname, s.colony_prvkey
    confirm(f"WARNING!!! Are you sure you want to remove all {word}processes from Colony <{colonyname}>. "
            "This operation cannot be undone!", args.yes)
    s.rpc(RemoveAllProcessesMsg(colonyname=colonyname, state=state), key)
    info(f"Removing all {word}processes in Colony", ColonyName=colonyname)
    return 0


def _cancel(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc(CancelProcessMsg(processid=args.processid), s.prvkey)
    info("Process cancelled", ProcessId=args.processid)
    return 0


def _pause(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc(PauseAssignmentsMsg(colonyname=s.colonyname), s.colony_prvkey)
    info("Process assignments paused", ColonyName=s.colonyname)
    return 0


def _resume(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc(ResumeAssignmentsMsg(colonyname=s.colonyname), s.colony_prvkey)
    info("Process assignments resumed", ColonyName=s.colonyname)
    return 0


def _status(args: argparse.Namespace) -> int:
    s = Session(args)
    reply = s.rpc(GetPauseStatusMsg(colonyname=s.colonyname), s.prvkey, reply=PauseStatusReply)
    if args.json:
        print_json(reply)
        return 0
    kv_table([("Colony", s.colonyname), ("Assignments", "Paused" if reply.ispaused else "Running")],
             title="Process assignments")
    return 0


def add_removeall_flags(p: argparse.ArgumentParser, what: str) -> None:
    states = p.add_mutually_exclusive_group()
    states.add_argument("--waiting", action="store_true", help=f"only remove waiting {what}")
    states.add_argument("--successful", action="store_true", help=f"only remove successful {what}")
    states.add_argument("--failed", action="store_true", help=f"only remove failed {what}")
    states.add_argument("--cancelled", action="store_true", help=f"only remove cancelled {what}")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")


def _pid(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--processid", required=True, help="process id")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    g = add_group(sub, "process", "Manage processes")
    for name, (_, word, _, _) in LISTS.items():
        p = add_command(g, name, f"List {word} processes", _ps)
        p.add_argument("-i", "--ids", action="store_true", help="also print process ids")
        p.add_argument("--count", type=int, default=20, help="number of processes to list (max 100)")
        p.add_argument("--executortype", help="only processes for this executor type")
        p.add_argument("--label", help="only processes with this label")
        p.add_argument("--initiator", help="only processes submitted by this user (name)")
        p.add_argument("--func", dest="funcname", help="only processes of this function name (filtered by the CLI)")
        add_json(p)
    p = add_command(g, "get", "Get info about a process", _get)
    _pid(p)
    p.add_argument("--out", action="store_true", help="print only the output of the process")
    add_json(p)
    p = add_command(g, "assign", "Assign a process to the calling executor (long poll)", _assign)
    p.add_argument("--timeout", type=int, default=100, help="seconds to wait for a process")
    p.add_argument("--cpu", help="available CPU, e.g. 1000m (empty: unlimited)")
    p.add_argument("--mem", help="available memory, e.g. 8Gi (empty: unlimited)")
    add_json(p)
    p = add_command(g, "close", "Close a process as successful", _close)
    _pid(p)
    p.add_argument("--out", nargs="+", action="extend", metavar="VALUE", help="output values")
    p = add_command(g, "fail", "Close a process as failed", _fail)
    _pid(p)
    p.add_argument("--errors", nargs="+", action="extend", metavar="ERROR", help="error messages")
    p = add_command(g, "remove", "Remove a process", _remove)
    _pid(p)
    p = add_command(g, "removeall", "Remove all processes (not part of a workflow)", _removeall)
    add_colony_key(p)
    add_removeall_flags(p, "processes")
    p = add_command(g, "cancel", "Cancel a waiting or running process", _cancel)
    _pid(p)
    p = add_command(g, "pause", "Pause process assignments in the colony", _pause)
    add_colony_key(p)
    p = add_command(g, "resume", "Resume process assignments in the colony", _resume)
    add_colony_key(p)
    p = add_command(g, "status", "Show whether process assignments are paused", _status)
    add_json(p)
