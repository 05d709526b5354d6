"""`colonies process …`: list, inspect, assign, close, fail, cancel and remove processes.

ps/psw/pss/psf/psc list running/waiting/successful/failed/cancelled processes (getprocessesmsg);
`get` prints the Process, Function Specification and Conditions tables and the attributes.
"""
from __future__ import annotations

import argparse
from typing import Any

from ..models.process import ProcessState
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
def spec_table(spec: dict[str, Any]) -> None:
    kv_table([
        ("Func", spec.get("funcname", "")),
        ("Args", fmt_args(spec.get("args"))),
        ("KwArgs", fmt_kwargs(spec.get("kwargs"))),
        ("MaxWaitTime", spec.get("maxwaittime", 0)),
        ("MaxExecTime", spec.get("maxexectime", 0)),
        ("MaxRetries", spec.get("maxretries", 0)),
        ("Priority", spec.get("priority", 0)),
        ("Label", spec.get("label", "")),
    ], title="Function Specification")


def conditions_table(conditions: dict[str, Any]) -> None:
    gpu = conditions.get("gpu") or {}
    kv_table([
        ("Colony", conditions.get("colonyname", "")),
        ("ExecutorNames", fmt_list(conditions.get("executornames"), "None")),
        ("ExecutorType", conditions.get("executortype", "")),
        ("Dependencies", fmt_list(conditions.get("dependencies"))),
        ("Nodes", conditions.get("nodes", 0)),
        ("CPU", conditions.get("cpu", "")),
        ("Memory", conditions.get("mem", "")),
        ("Processes", conditions.get("processes", 0)),
        ("ProcessesPerNode", conditions.get("processespernode", 0)),
        ("Storage", conditions.get("storage", "")),
        ("Walltime", conditions.get("walltime", 0)),
        ("GPUName", gpu.get("name", "")),
        ("GPUs", gpu.get("count", 0)),
        ("GPUPerNode", gpu.get("nodecount", 0)),
        ("GPUMemory", gpu.get("mem", "")),
    ], title="Conditions")


def process_tables(p: dict[str, Any]) -> None:
    spec = p.get("spec") or {}
    started = p.get("starttime")
    kv_table([
        ("Id", p.get("processid", "")),
        ("IsAssigned", p.get("isassigned", False)),
        ("InitiatorID", p.get("initiatorid", "")),
        ("Initiator", p.get("initiatorname", "")),
        ("AssignedExecutorID", p.get("assignedexecutorid", "")),
        ("State", STATE_NAMES.get(p.get("state", -1), p.get("state"))),
        ("PriorityTime", p.get("prioritytime", 0)),
        ("SubmissionTime", fmt_time(p.get("submissiontime"))),
        ("StartTime", fmt_time(started)),
        ("EndTime", fmt_time(p.get("endtime"))),
        ("WaitDeadline", fmt_time(p.get("waitdeadline"))),
        ("ExecDeadline", fmt_time(p.get("execdeadline"))),
        ("WaitingTime", elapsed(p.get("submissiontime"), started)),
        ("ProcessingTime", elapsed(started, p.get("endtime")) if p.get("state") != WAITING else "0s"),
        ("Retries", p.get("retries", 0)),
        ("Input", truncate(fmt_list(p.get("in")), 64)),
        ("Output", truncate(fmt_list(p.get("out")), 64)),
        ("Errors", truncate(fmt_list(p.get("errors")), 64)),
    ], title="Process")
    spec_table(spec)
    conditions_table(spec.get("conditions") or {})
    attributes = p.get("attributes") or []
    if attributes:
        list_table(["ATTRIBUTEID", "KEY", "VALUE", "TYPE"],
                   [(a.get("attributeid", ""), a.get("key", ""), truncate(str(a.get("value", "")), 40),
                     ATTRIBUTE_TYPES.get(a.get("attributetype", -1), a.get("attributetype")))
                    for a in attributes], title="Attributes")
    else:
        print("No attributes found")


def process_rows(processes: list[dict[str, Any]], time_field: str, ids: bool) -> list[list[Any]]:
    rows = []
    for p in processes:
        spec = p.get("spec") or {}
        row = [spec.get("funcname", ""), truncate(fmt_list(spec.get("args")), CELL),
               truncate(fmt_kwargs(spec.get("kwargs")) if spec.get("kwargs") else "", CELL),
               fmt_time(p.get(time_field)), (spec.get("conditions") or {}).get("executortype", ""),
               p.get("initiatorname", ""), spec.get("label", "")]
        rows.append(([p.get("processid", "")] if ids else []) + row)
    return rows


def get_process(session: Session, processid: str) -> dict[str, Any]:
    return session.rpc({"msgtype": "getprocessmsg", "processid": processid}, session.prvkey)


# --- commands ----------------------------------------------------------------------------------
def _ps(args: argparse.Namespace) -> int:
    state, word, column, field = LISTS[args.subcommand]
    s = Session(args)
    # the server filters by type, label and initiator; the function name is filtered here, over the
    # most the server lists at once, so that --count still means "up to COUNT matching processes"
    msg = {"msgtype": "getprocessesmsg", "colonyname": s.colonyname,
           "count": max(args.count, SERVER_MAX_COUNT) if args.funcname else args.count, "state": state,
           "executortype": args.executortype or "", "label": args.label or "", "initiator": args.initiator or ""}
    processes = s.rpc(msg, s.prvkey) or []
    if args.funcname:
        processes = [p for p in processes if (p.get("spec") or {}).get("funcname") == args.funcname][:args.count]
    if args.json:
        print_json(processes)
        return 0
    if not processes:
        warn(f"No {word} processes found")
        return 0
    headers = ["FUNCNAME", "ARGS", "KWARGS", column, "EXECUTORTYPE", "INITIATOR", "LABEL"]
    list_table((["ID"] if args.ids else []) + headers, process_rows(processes, field, args.ids))
    return 0


def _get(args: argparse.Namespace) -> int:
    s = Session(args)
    p = get_process(s, args.processid)
    if args.out:
        print_values(p.get("out"))
    elif args.json:
        print_json(p)
    else:
        process_tables(p)
    return 0


def _assign(args: argparse.Namespace) -> int:
    s = Session(args)
    p = s.rpc({"msgtype": "assignprocessmsg", "colonyname": s.colonyname, "timeout": args.timeout,
               "availablecpu": args.cpu or "", "availablemem": args.mem or ""}, s.prvkey,
              timeout=max(args.timeout, 0) + 30)
    info("Assigned process to executor", ExecutorId=p.get("assignedexecutorid", ""), ProcessId=p["processid"])
    if args.json:
        print_json(p)
    return 0


def _close(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc({"msgtype": "closesuccessfulmsg", "processid": args.processid, "out": args.out or []}, s.prvkey)
    info("Process closed as Successful", ProcessId=args.processid)
    return 0


def _fail(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc({"msgtype": "closefailedmsg", "processid": args.processid, "errors": args.errors or []}, s.prvkey)
    info("Process closed as Failed", ProcessId=args.processid)
    return 0


def _remove(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc({"msgtype": "removeprocessmsg", "processid": args.processid, "all": False}, s.prvkey)
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
    s.rpc({"msgtype": "removeallprocessesmsg", "colonyname": colonyname, "state": state}, key)
    info(f"Removing all {word}processes in Colony", ColonyName=colonyname)
    return 0


def _cancel(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc({"msgtype": "cancelprocessmsg", "processid": args.processid}, s.prvkey)
    info("Process cancelled", ProcessId=args.processid)
    return 0


def _pause(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc({"msgtype": "pauseassignmentsmsg", "colonyname": s.colonyname}, s.colony_prvkey)
    info("Process assignments paused", ColonyName=s.colonyname)
    return 0


def _resume(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc({"msgtype": "resumeassignmentsmsg", "colonyname": s.colonyname}, s.colony_prvkey)
    info("Process assignments resumed", ColonyName=s.colonyname)
    return 0


def _status(args: argparse.Namespace) -> int:
    s = Session(args)
    reply = s.rpc({"msgtype": "getpausestatusmsg", "colonyname": s.colonyname}, s.prvkey)
    if args.json:
        print_json(reply)
        return 0
    kv_table([("Colony", s.colonyname), ("Assignments", "Paused" if reply.get("ispaused") else "Running")],
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


def register(sub: argparse._SubParsersAction) -> None:
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
