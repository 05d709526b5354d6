"""`colonies function …`: submit function specs (from a file or flags), wait for them or follow
their logs, and register, list or remove the functions executors offer.

`--wait` and `--follow` exit 0 when the process succeeds and 1 when it fails or is cancelled.
"""
from __future__ import annotations

import argparse
from typing import Any

from ..models.executor import Executor, Function
from ..models.log import Log
from ..models.process import FunctionSpec
from ..rpc.messages import (
    AddFunctionMsg,
    GetExecutorsMsg,
    GetFunctionsMsg,
    GetLogsMsg,
    RemoveFunctionMsg,
    SubmitFuncSpecMsg,
)
from ..rpc.replies import ProcessReply
from .common import CliError, Session, add_command, add_group, add_json, env_arg
from .output import error, info, print_json, print_values, write_logs
from .specs import funcspec, load_funcspec, to_model
from .table import kv_table
from .wait import CANCELLED, SUCCESS, ProcessWaiter, wait_for

LOG_PAGE = 500  # the server's maximum count per getlogsmsg


# --- logs of a running process (shared with `log get --follow`) --------------------------------
def print_new_logs(session: Session, processid: str, since: int) -> int:
    """Print the process's log entries newer than `since` (ns); returns the newest timestamp."""
    while True:
        logs = session.rpc(GetLogsMsg(colonyname=session.colonyname, processid=processid, count=LOG_PAGE,
                                      since=since, latest=False), session.prvkey, reply=list[Log] | None) or []
        write_logs(logs)
        for entry in logs:
            since = max(since, entry.timestamp)
        if len(logs) < LOG_PAGE:
            return since


def follow(session: Session, process: ProcessReply, pace: float = 1.0) -> ProcessReply:
    """Stream the logs of `process` until it is successful, failed or cancelled; returns it.

    The pushes of a background subscription end the loop; between fetches the loop sleeps on
    that subscription for `pace` seconds, so an idle process costs one small request a second.
    """
    pid = process.processid
    waiter = ProcessWaiter(session, process)
    since = 0
    try:
        while True:
            since = print_new_logs(session, pid, since)
            done = waiter.result(timeout=pace)
            if done is not None:
                print_new_logs(session, pid, since)
                return done
    finally:
        waiter.close()


def finish(session: Session, process: ProcessReply, args: argparse.Namespace) -> int:
    """After a submit: wait or follow if asked, report the outcome, print --out."""
    pid = process.processid
    if args.follow:
        info("Printing logs from process", ProcessId=pid)
        process = follow(session, process)
    elif args.wait or args.out:
        process = wait_for(session, process)
    else:
        return 0
    if process.state == SUCCESS:
        if args.out:
            print_values(process.out)
        else:
            info("Process finished successfully", ProcessId=pid)
        return 0
    if process.state == CANCELLED:
        error("Process was cancelled", ProcessId=pid)
    else:
        error("Process failed", Errors=" ".join(process.errors), ProcessId=pid)
    return 1


def _submit_spec(session: Session, spec: dict[str, Any], args: argparse.Namespace, where: str) -> int:
    if args.label:
        spec["label"] = args.label
    process, plain = session.rpc_json(SubmitFuncSpecMsg(spec=to_model(spec, FunctionSpec, where)), session.prvkey,
                                      ProcessReply)
    info("Process submitted", ProcessId=process.processid)
    if getattr(args, "json", False):
        print_json(plain)  # as the server sent it
    return finish(session, process, args)


# --- commands ----------------------------------------------------------------------------------
def _submit(args: argparse.Namespace) -> int:
    s = Session(args)
    return _submit_spec(s, load_funcspec(args.spec, s.colonyname), args, args.spec)


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        sep = "=" if "=" in item else ":" if ":" in item else None
        if sep is None:
            raise CliError(f"{flag} takes key=value (or key:value), got {item!r}")
        key, value = item.split(sep, 1)
        out[key] = value
    return out


def _exec(args: argparse.Namespace) -> int:
    s = Session(args)
    if not args.targettype:
        raise CliError("no executor type: use --targettype (or set COLONIES_EXECUTOR_TYPE)")
    raw = {
        "nodename": args.nodename or args.funcname, "funcname": args.funcname, "args": list(args.args or []),
        "kwargs": _pairs(args.kwargs, "--kwargs"), "env": _pairs(args.env, "--env"),
        "priority": args.priority, "maxwaittime": args.maxwaittime, "maxexectime": args.maxexectime,
        "maxretries": args.maxretries, "label": args.label or "",
        "conditions": {"colonyname": s.colonyname, "executortype": args.targettype,
                       "executornames": args.targetname or None, "dependencies": []},
    }
    return _submit_spec(s, funcspec(raw, s.colonyname, "function exec"), args, "function exec")


def _register(args: argparse.Namespace) -> int:
    s = Session(args)
    if not args.name:
        raise CliError("no executor name: use --name (or set COLONIES_EXECUTOR_NAME)")
    fun = Function(executorname=args.name, colonyname=s.colonyname, funcname=args.funcname,
                   description=args.description or "")
    added = s.rpc(AddFunctionMsg(fun=fun), s.prvkey, reply=Function)
    info("Function registered", ColonyName=s.colonyname, ExecutorName=args.name, FuncName=args.funcname,
         FunctionId=added.functionid)
    return 0


def _ls(args: argparse.Namespace) -> int:
    s = Session(args)
    functions = s.rpc(GetFunctionsMsg(colonyname=s.colonyname, executorname=args.executorname or ""),
                      s.prvkey, reply=list[Function] | None) or []
    if args.json:
        print_json(functions)
        return 0
    if not functions:
        info("No functions found", ColonyName=s.colonyname)
        return 0
    types: dict[str, str] = {}
    try:
        for e in s.rpc(GetExecutorsMsg(colonyname=s.colonyname), s.prvkey, reply=list[Executor] | None) or []:
            types[e.executorname] = e.executortype
    except Exception:
        pass
    for f in functions:
        kv_table([
            ("FunctionId", f.functionid),
            ("ExecutorName", f.executorname),
            ("ExecutorType", f.executortype or types.get(f.executorname, "")),
            ("FunctionName", f.funcname),
            ("Call counter", f.counter),
            ("MinWaitTime", f"{f.minwaittime:.6f} s"),
            ("MaxWaitTime", f"{f.maxwaittime:.6f} s"),
            ("AvgWaitTime", f"{f.avgwaittime:.6f} s"),
            ("MinExecTime", f"{f.minexectime:.6f} s"),
            ("MaxExecTime", f"{f.maxexectime:.6f} s"),
            ("AvgExecTime", f"{f.avgexectime:.6f} s"),
        ], title=f"Function: {f.funcname}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc(RemoveFunctionMsg(functionid=args.functionid), s.prvkey)
    info("Function removed", FunctionId=args.functionid)
    return 0


def _follow_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait", action="store_true", help="wait until the process is finished")
    p.add_argument("--follow", action="store_true", help="print the process's logs until it is finished")
    p.add_argument("--out", action="store_true", help="wait, then print the output of the process")
    p.add_argument("--label", help="label of the process (overrides the spec's)")
    add_json(p)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    g = add_group(sub, "function", "Manage functions")
    p = add_command(g, "submit", "Submit a function spec (JSON file)", _submit)
    p.add_argument("--spec", required=True, help="function spec JSON file")
    _follow_flags(p)
    p = add_command(g, "exec", "Submit a function spec given by flags", _exec)
    p.add_argument("--func", dest="funcname", required=True, help="function name")
    p.add_argument("--args", nargs="+", action="extend", metavar="ARG", help="positional arguments")
    p.add_argument("--kwargs", nargs="+", action="extend", metavar="KEY=VALUE", help="keyword arguments")
    p.add_argument("--env", nargs="+", action="extend", metavar="KEY=VALUE", help="environment variables")
    env_arg(p, "--targettype", env="COLONIES_EXECUTOR_TYPE", help="executor type that should run it")
    p.add_argument("--targetname", nargs="+", action="extend", metavar="NAME",
                   help="executor names allowed to run it (default: any)")
    p.add_argument("--nodename", help="node name (default: the function name)")
    p.add_argument("--priority", type=int, default=0, help="priority (-50000..50000)")
    p.add_argument("--maxwaittime", type=int, default=-1, help="max seconds waiting in the queue (-1: no limit)")
    p.add_argument("--maxexectime", type=int, default=-1, help="max seconds of execution (-1: no limit)")
    p.add_argument("--maxretries", type=int, default=-1, help="max re-assignments after a timeout (-1: no limit)")
    _follow_flags(p)
    p = add_command(g, "register", "Register a function offered by the calling executor", _register)
    env_arg(p, "--name", env="COLONIES_EXECUTOR_NAME", help="executor name")
    p.add_argument("--func", dest="funcname", required=True, help="function name")
    p.add_argument("--description", help="description of the function")
    p = add_command(g, "ls", "List registered functions and their call statistics", _ls)
    p.add_argument("--executorname", help="only functions of this executor")
    add_json(p)
    p = add_command(g, "remove", "Remove a registered function", _remove)
    p.add_argument("--functionid", required=True, help="function id")
