"""`colonies cron …`: crons start a workflow on a 6-field cron expression (seconds first) or
every --interval seconds; add, list, show, run now and remove them."""
from __future__ import annotations

import argparse
import json

import msgspec

from ..config import parse_bool
from ..models.cron import Cron, CronRequest
from ..models.process import FunctionSpec
from ..models.workflow import WorkflowSpec
from ..rpc.messages import AddCronMsg, GetCronMsg, GetCronsMsg, RemoveCronMsg, RunCronMsg
from .common import CliError, Session, add_command, add_group, add_json
from .output import fmt_time, info, print_json, warn
from .process import spec_table
from .specs import load_workflow
from .table import kv_table, list_table


def workflow_specs(workflowspec: str) -> list[FunctionSpec]:
    """The function specs inside a cron's or generator's `workflowspec` JSON string (a WorkflowSpec);
    none if it is not one: the cron or generator is still shown."""
    try:
        return msgspec.json.decode(workflowspec or "{}", type=WorkflowSpec).functionspecs or []
    except (msgspec.DecodeError, msgspec.ValidationError):
        return []


def _random(value: str) -> bool:
    # `--random` alone, or followed by a value as in the guide (`--random 10`): any value but false/0 is on
    return parse_bool(value) is not False


def _add(args: argparse.Namespace) -> int:
    s = Session(args)
    if not args.cron and args.interval <= 0:
        raise CliError("give a cron expression (--cron) or an interval in seconds (--interval)")
    random = args.random is True or (isinstance(args.random, str) and _random(args.random))
    spec = load_workflow(args.spec, s.colonyname)
    cron = CronRequest(name=args.name, colonyname=s.colonyname, cronexpression=args.cron or "",
                       interval=args.interval if args.interval > 0 else -1, random=random,
                       waitforprevprocessgraph=args.waitprevious, waitforprevprocessgrap=args.waitprevious,
                       workflowspec=json.dumps(spec))
    if args.waitprevious:
        info("Will wait for previous processgraph to finish")
    else:
        info("Will not wait for previous processgraph to finish")
    added = s.rpc(AddCronMsg(cron=cron), s.prvkey, reply=Cron)
    info("Cron added", CronID=added.cronid)
    return 0


def _ls(args: argparse.Namespace) -> int:
    s = Session(args)
    crons = s.rpc(GetCronsMsg(colonyname=s.colonyname, count=args.count), s.prvkey, reply=list[Cron] | None) or []
    if args.json:
        print_json(crons)
    elif not crons:
        warn("No crons found")
    else:
        list_table(["CRONID", "NAME", "INITIATOR"],
                   [(c.cronid, c.name, c.initiatorname) for c in crons])
    return 0


def _get(args: argparse.Namespace) -> int:
    s = Session(args)
    c = s.rpc(GetCronMsg(cronid=args.cronid), s.prvkey, reply=Cron)
    if args.json:
        print_json(c)
        return 0
    kv_table([
        ("CronId", c.cronid),
        ("Name", c.name),
        ("Colony", c.colonyname),
        ("InitiatorID", c.initiatorid),
        ("Initiator", c.initiatorname),
        ("Cron Expression", c.cronexpression),
        ("Interval", c.interval),
        ("Random", str(c.random).lower()),
        ("NextRun", fmt_time(c.nextrun)),
        ("LastRun", fmt_time(c.lastrun)),
        ("PrevProcessGraphID", c.prevprocessgraphid),
        ("WaitForPrevProcessGraph", str(c.waitforprevprocessgraph).lower()),
        ("CheckerPeriod", c.checkerperiod),
    ], title="Cron")
    for spec in workflow_specs(c.workflowspec):
        spec_table(spec)
    return 0


def _run(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc(RunCronMsg(cronid=args.cronid), s.prvkey)
    info("Running cron", CronID=args.cronid)
    return 0


def _remove(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc(RemoveCronMsg(cronid=args.cronid, all=False), s.prvkey)
    info("Removing cron", CronId=args.cronid)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    g = add_group(sub, "cron", "Manage cron")
    p = add_command(g, "add", "Add a cron that starts a workflow", _add)
    p.add_argument("--spec", required=True, help="workflow JSON file (array of function specs)")
    p.add_argument("--name", required=True, help="cron name (unique in the colony)")
    p.add_argument("--cron", help='cron expression with seconds first, e.g. "0/5 * * * * *"')
    p.add_argument("--interval", type=int, default=-1, help="start the workflow every N seconds instead")
    p.add_argument("--random", nargs="?", const=True, default=False, metavar="BOOL",
                   help="with --interval: start at a random time within each interval")
    p.add_argument("--waitprevious", action="store_true",
                   help="only start when the previous workflow of this cron has finished")
    p = add_command(g, "ls", "List crons", _ls)
    p.add_argument("--count", type=int, default=100, help="number of crons to list")
    add_json(p)
    p = add_command(g, "get", "Get info about a cron", _get)
    p.add_argument("--cronid", required=True, help="cron id")
    add_json(p)
    p = add_command(g, "run", "Start a cron's workflow now", _run)
    p.add_argument("--cronid", required=True, help="cron id")
    p = add_command(g, "remove", "Remove a cron", _remove)
    p.add_argument("--cronid", required=True, help="cron id")
