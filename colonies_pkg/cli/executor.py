"""`colonies executor …`: register (from a spec file and/or flags), approve, reject and remove
executors (colony owner); list and show them (members); change the calling executor's id."""
from __future__ import annotations

import argparse
from typing import Any

from ..models.executor import ExecutorState
from . import executor_start
from .common import CliError, Session, add_colony_key, add_command, add_group, add_json
from .output import fmt_time, info, print_json, warn
from .specs import load_executor
from .table import kv_table, list_table

STATES = {state: state.word.capitalize() for state in ExecutorState}
UNREGISTERED = 3


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
    added = s.rpc({"msgtype": "addexecutormsg", "executor": executor}, key)
    info("Executor added", ColonyName=s.colonyname, ExecutorID=added.get("executorid", executor["executorid"]),
         ExecutorName=executor["executorname"], ExecutorType=executor["executortype"])
    if args.approve:
        s.rpc({"msgtype": "approveexecutormsg", "colonyname": s.colonyname,
               "executorname": executor["executorname"]}, key)
        info("Executor approved", ColonyName=s.colonyname, ExecutorName=executor["executorname"])
    return 0


def _by_name(msgtype: str, done: str):
    def run(args: argparse.Namespace) -> int:
        s = Session(args)
        s.rpc({"msgtype": msgtype, "colonyname": s.colonyname, "executorname": args.name}, s.colony_prvkey)
        info(done, ColonyName=s.colonyname, ExecutorName=args.name)
        return 0

    return run


def _ls(args: argparse.Namespace) -> int:
    s = Session(args)
    executors = s.rpc({"msgtype": "getexecutorsmsg", "colonyname": s.colonyname}, s.prvkey) or []
    if not args.all:
        executors = [e for e in executors if e.get("state") != UNREGISTERED]
    if args.type:
        executors = [e for e in executors if e.get("executortype") == args.type]
    if args.location:
        executors = [e for e in executors if e.get("locationname", "").lower() == args.location.lower()]
    if args.json:
        print_json(executors)
        return 0
    if not executors:
        warn("No executors found", ColonyName=s.colonyname)
        return 0
    if args.full:
        list_table(["NAME", "ID", "TYPE", "STATE", "LOCATION", "LAST HEARD FROM"],
                   [(e.get("executorname", ""), e.get("executorid", ""), e.get("executortype", ""),
                     STATES.get(e.get("state", -1), e.get("state")), e.get("locationname", ""),
                     fmt_time(e.get("lastheardfromtime"))) for e in executors])
    else:
        list_table(["NAME", "TYPE", "LOCATION", "LAST HEARD FROM"],
                   [(e.get("executorname", ""), e.get("executortype", ""), e.get("locationname", ""),
                     fmt_time(e.get("lastheardfromtime"))) for e in executors])
    return 0


def executor_tables(e: dict[str, Any]) -> None:
    kv_table([
        ("Name", e.get("executorname", "")),
        ("Id", e.get("executorid", "")),
        ("Type", e.get("executortype", "")),
        ("Colony", e.get("colonyname", "")),
        ("State", STATES.get(e.get("state", -1), e.get("state"))),
        ("RequireFuncRegistration", e.get("requirefuncreg", False)),
        ("CommissionTime", fmt_time(e.get("commissiontime"))),
        ("LastHeardFrom", fmt_time(e.get("lastheardfromtime"))),
    ])
    kv_table([("Description", e.get("locationname", ""))], title="Location")
    capabilities = e.get("capabilities") or {}
    for hw in capabilities.get("hardware") or []:
        gpu = hw.get("gpu") or {}
        kv_table([("Nodes", hw.get("nodes", 0)), ("Model", hw.get("model", "")), ("CPU", hw.get("cpu", "")),
                  ("Memory", hw.get("mem", "")), ("Storage", hw.get("storage", "")), ("GPU", gpu.get("name", "")),
                  ("GPUs", gpu.get("count", 0)), ("GPU/Node", gpu.get("nodecount", 0)),
                  ("GPU Memory", gpu.get("mem", ""))], title="Hardware")
    for sw in capabilities.get("software") or []:
        kv_table([("Name", sw.get("name", "")), ("Type", sw.get("type", "")), ("Version", sw.get("version", ""))],
                 title="Software")


def _get(args: argparse.Namespace) -> int:
    s = Session(args)
    e = s.rpc({"msgtype": "getexecutormsg", "colonyname": s.colonyname, "executorname": args.name}, s.prvkey)
    if args.json:
        print_json(e)
    else:
        executor_tables(e)
    return 0


def _chid(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc({"msgtype": "changeexecutoridmsg", "colonyname": s.colonyname, "executorid": args.executorid}, s.prvkey)
    info("Changed executor Id", ColonyName=s.colonyname, ExecutorId=args.executorid)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    g = add_group(sub, "executor", "Manage executors")
    p = add_command(g, "add", "Register an executor (colony owner)", _add)
    p.add_argument("--spec", help="executor spec JSON file (executorname, executortype, location, capabilities)")
    p.add_argument("--executorid", help="executor id: the id of the executor's private key")
    p.add_argument("--name", help="executor name (overrides the spec's)")
    p.add_argument("--type", help="executor type (overrides the spec's)")
    p.add_argument("--approve", action="store_true", help="also approve the executor")
    add_colony_key(p)
    for name, msgtype, done, what in (("approve", "approveexecutormsg", "Executor approved", "Approve"),
                                      ("reject", "rejectexecutormsg", "Executor rejected", "Reject"),
                                      ("remove", "removeexecutormsg", "Executor removed", "Remove (unregister)")):
        p = add_command(g, name, f"{what} an executor (colony owner)", _by_name(msgtype, done))
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
