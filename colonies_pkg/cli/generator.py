"""`colonies generator …`: generators start a workflow once --trigger args have been packed
(or --timeout seconds passed); the packed args become the root processes' args."""
from __future__ import annotations

import argparse
import json

from ..models.cron import Generator
from ..rpc.messages import (
    AddGeneratorMsg,
    GetGeneratorMsg,
    GetGeneratorsMsg,
    PackGeneratorMsg,
    RemoveGeneratorMsg,
)
from .common import CliError, Session, add_command, add_group, add_json
from .cron import workflow_specs
from .output import fmt_time, info, print_json, warn
from .process import spec_table
from .specs import load_workflow
from .table import kv_table, list_table


def _add(args: argparse.Namespace) -> int:
    s = Session(args)
    if args.trigger <= 0:
        raise CliError("--trigger must be a positive number of packed args")
    spec = load_workflow(args.spec, s.colonyname)
    generator = Generator(name=args.name, colonyname=s.colonyname, workflowspec=json.dumps(spec),
                          trigger=args.trigger, timeout=args.timeout)
    added = s.rpc(AddGeneratorMsg(generator=generator), s.prvkey, reply=Generator)
    info("Generator added", GeneratorID=added.generatorid, GeneratorName=args.name,
         Timeout=args.timeout, Trigger=args.trigger)
    return 0


def _pack(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc(PackGeneratorMsg(generatorid=args.generatorid, arg=args.arg), s.prvkey)
    info("Packed arg into generator", Arg=args.arg, GeneratorID=args.generatorid)
    return 0


def _ls(args: argparse.Namespace) -> int:
    s = Session(args)
    generators = s.rpc(GetGeneratorsMsg(colonyname=s.colonyname, count=args.count), s.prvkey,
                       reply=list[Generator] | None) or []
    if args.json:
        print_json(generators)
    elif not generators:
        warn("No generators found")
    else:
        list_table(["GENERATORID", "NAME", "INITIATOR"],
                   [(g.generatorid, g.name, g.initiatorname) for g in generators])
    return 0


def _get(args: argparse.Namespace) -> int:
    s = Session(args)
    g = s.rpc(GetGeneratorMsg(generatorid=args.generatorid), s.prvkey, reply=Generator)
    if args.json:
        print_json(g)
        return 0
    kv_table([
        ("GeneratorId", g.generatorid),
        ("Name", g.name),
        ("Colony", g.colonyname),
        ("Initiator", g.initiatorname),
        ("Trigger", g.trigger),
        ("Timeout", g.timeout),
        ("QueueSize", g.queuesize),
        ("Lastrun", fmt_time(g.lastrun)),
        ("CheckerPeriod", g.checkerperiod),
    ], title="Generator")
    for spec in workflow_specs(g.workflowspec):
        spec_table(spec)
    return 0


def _remove(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc(RemoveGeneratorMsg(generatorid=args.generatorid, all=False), s.prvkey)
    info("Removing generator", GeneratorID=args.generatorid)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    g = add_group(sub, "generator", "Manage generators")
    p = add_command(g, "add", "Add a generator that starts a workflow from packed args", _add)
    p.add_argument("--spec", required=True, help="workflow JSON file (array of function specs)")
    p.add_argument("--name", required=True, help="generator name")
    p.add_argument("--trigger", type=int, required=True, help="start a workflow every N packed args")
    p.add_argument("--timeout", type=int, default=-1,
                   help="also start one with fewer args after N seconds (-1: never)")
    p = add_command(g, "pack", "Pack an arg into a generator", _pack)
    p.add_argument("--generatorid", required=True, help="generator id")
    p.add_argument("--arg", required=True, help="the arg (a string)")
    p = add_command(g, "ls", "List generators", _ls)
    p.add_argument("--count", type=int, default=100, help="number of generators to list")
    add_json(p)
    p = add_command(g, "get", "Get info about a generator", _get)
    p.add_argument("--generatorid", required=True, help="generator id")
    add_json(p)
    p = add_command(g, "remove", "Remove a generator", _remove)
    p.add_argument("--generatorid", required=True, help="generator id")
