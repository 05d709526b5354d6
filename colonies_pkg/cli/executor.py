"""`colonies executor …`: register (from a spec file and/or flags), approve, reject and remove
executors (colony owner); list and show them (members); change the calling executor's id."""
from __future__ import annotations

import argparse
from typing import Any, TypeVar

import msgspec

from ..models.executor import Executor, ExecutorState
from ..models.process import GPU
from ..rpc import messages as m
from ..rpc.replies import Hardware, Software
from . import executor_start
from .common import CliError, Func, Session, add_colony_key, add_command, add_group, add_json
from .output import fmt_time, info, print_json, warn
from .specs import load_executor, to_model
from .table import kv_table, list_table

STATES: dict[int, str] = {state: state.word.capitalize() for state in ExecutorState}
UNREGISTERED = 3
T = TypeVar("T")


def _add(args: argparse.Namespace) -> int:
    s = Session(args)
    executor: dict[str, Any] = load_executor(args.spec) if args.spec else {}
    if args.name:
        executor["executorname"] = args.name
    if args.type:
        executor["executortype"] = args.type
    if args.executorid:
        executor["executorid"] = args.executorid
    executor["colonyname"] = s.colonyname
    for field, flag in (("executorid", "--executorid"), ("executorname", "--name"), ("executortype", "--type")):
        if not executor.get(field):
            alternative = "" if flag == "--executorid" else " or --spec"
            raise CliError(f"the executor needs an {field}: use {flag}{alternative}")
    key = s.colony_prvkey
    new = to_model(executor, Executor, args.spec or "executor")
    added = s.rpc(m.AddExecutorMsg(executor=new), key, reply=Executor)
    info("Executor added", ColonyName=s.colonyname, ExecutorID=added.executorid or new.executorid,
         ExecutorName=new.executorname, ExecutorType=new.executortype)
    if args.approve:
        s.rpc(m.ApproveExecutorMsg(colonyname=s.colonyname, executorname=new.executorname), key)
        info("Executor approved", ColonyName=s.colonyname, ExecutorName=new.executorname)
    return 0


def _by_name(msg: type[m.ApproveExecutorMsg | m.RejectExecutorMsg | m.RemoveExecutorMsg], done: str) -> Func:
    def run(args: argparse.Namespace) -> int:
        s = Session(args)
        s.rpc(msg(colonyname=s.colonyname, executorname=args.name), s.colony_prvkey)
        info(done, ColonyName=s.colonyname, ExecutorName=args.name)
        return 0

    return run


def _ls(args: argparse.Namespace) -> int:
    s = Session(args)
    executors = s.rpc(m.GetExecutorsMsg(colonyname=s.colonyname), s.prvkey, reply=list[Executor] | None) or []
    if not args.all:
        executors = [e for e in executors if e.state != UNREGISTERED]
    if args.type:
        executors = [e for e in executors if e.executortype == args.type]
    if args.location:
        executors = [e for e in executors if e.locationname.lower() == args.location.lower()]
    if args.json:
        print_json(executors)
        return 0
    if not executors:
        warn("No executors found", ColonyName=s.colonyname)
        return 0
    if args.full:
        list_table(["NAME", "ID", "TYPE", "STATE", "LOCATION", "LAST HEARD FROM"],
                   [(e.executorname, e.executorid, e.executortype, STATES.get(e.state, e.state), e.locationname,
                     fmt_time(e.lastheardfromtime)) for e in executors])
    else:
        list_table(["NAME", "TYPE", "LOCATION", "LAST HEARD FROM"],
                   [(e.executorname, e.executortype, e.locationname, fmt_time(e.lastheardfromtime))
                    for e in executors])
    return 0


def _capabilities(entries: list[Any] | None, shape: type[T], what: str) -> list[T]:
    """`Executor` keeps capabilities as the JSON they were registered with (a client other than Go's
    may have sent any shape): read each entry as Go's Struct; one that is not is named and skipped."""
    out = []
    for i, entry in enumerate(entries or []):
        try:
            out.append(msgspec.convert(entry, shape))
        except msgspec.ValidationError as exc:
            warn(f"Skipping capabilities.{what}[{i}]: not a {shape.__name__} ({exc})")
    return out


def executor_tables(e: Executor) -> None:
    kv_table([
        ("Name", e.executorname),
        ("Id", e.executorid),
        ("Type", e.executortype),
        ("Colony", e.colonyname),
        ("State", STATES.get(e.state, e.state)),
        ("RequireFuncRegistration", e.requirefuncreg),
        ("CommissionTime", fmt_time(e.commissiontime)),
        ("LastHeardFrom", fmt_time(e.lastheardfromtime)),
    ])
    kv_table([("Description", e.locationname)], title="Location")
    for hw in _capabilities(e.capabilities.hardware, Hardware, "hardware"):
        gpu = hw.gpu or GPU()
        kv_table([("Nodes", hw.nodes), ("Model", hw.model), ("CPU", hw.cpu), ("Memory", hw.mem),
                  ("Storage", hw.storage), ("GPU", gpu.name), ("GPUs", gpu.count), ("GPU/Node", gpu.nodecount),
                  ("GPU Memory", gpu.mem)], title="Hardware")
    for sw in _capabilities(e.capabilities.software, Software, "software"):
        kv_table([("Name", sw.name), ("Type", sw.type), ("Version", sw.version)], title="Software")


def _get(args: argparse.Namespace) -> int:
    s = Session(args)
    e = s.rpc(m.GetExecutorMsg(colonyname=s.colonyname, executorname=args.name), s.prvkey, reply=Executor)
    if args.json:
        print_json(e)
    else:
        executor_tables(e)
    return 0


def _chid(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc(m.ChangeExecutorIdMsg(colonyname=s.colonyname, executorid=args.executorid), s.prvkey)
    info("Changed executor Id", ColonyName=s.colonyname, ExecutorId=args.executorid)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    g = add_group(sub, "executor", "Manage executors")
    p = add_command(g, "add", "Register an executor (colony owner)", _add)
    p.add_argument("--spec", help="executor spec JSON file (executorname, executortype, location, capabilities)")
    p.add_argument("--executorid", help="executor id: the id of the executor's private key")
    p.add_argument("--name", help="executor name (overrides the spec's)")
    p.add_argument("--type", help="executor type (overrides the spec's)")
    p.add_argument("--approve", action="store_true", help="also approve the executor")
    add_colony_key(p)
    for name, msg, done, what in (("approve", m.ApproveExecutorMsg, "Executor approved", "Approve"),
                                  ("reject", m.RejectExecutorMsg, "Executor rejected", "Reject"),
                                  ("remove", m.RemoveExecutorMsg, "Executor removed", "Remove (unregister)")):
        p = add_command(g, name, f"{what} an executor (colony owner)", _by_name(msg, done))
        p.add_argument("--name", required=True, help="executor name")
        add_colony_key(p)
    p = add_command(g, "ls", "List the executors of the colony", _ls)
    p.add_argument("--all", action="store_true", help="also list unregistered executors")
    p.add_argument("--full", action="store_true", help="also print ids and states")
    p.add_argument("--type", help="only executors of this type")
    p.add_argument("--location", help="only executors at this location")
    add_json(p)
    p = add_command(g, "get", "Get info about an executor", _get)
    p.add_argument("--name", required=True, help="executor name")
    add_json(p)
    p = add_command(g, "chid", "Change the calling executor's id (sign with the old key)", _chid)
    p.add_argument("--executorid", required=True, help="the new executor id")
    executor_start.register(g)
