"""`colonies colony …`: add, remove and list colonies (server owner), show a colony and its
statistics (members), change its id (colony owner)."""
from __future__ import annotations

import argparse

from ..models.colony import Colony, Statistics
from ..rpc.messages import (
    AddColonyMsg,
    ChangeColonyIdMsg,
    GetColoniesMsg,
    GetColonyMsg,
    GetColonyStatsMsg,
    RemoveColonyMsg,
)
from .common import Session, add_colony_key, add_command, add_group, add_json, add_server_key
from .output import info, print_json, warn
from .table import kv_table, list_table


def stats_rows(stats: Statistics) -> list[tuple[str, int]]:
    return [
        ("Executors", stats.executors),
        ("Active executors", stats.activeexecutors),
        ("Waiting processes", stats.waitingprocesses),
        ("Running processes", stats.runningprocesses),
        ("Successful processes", stats.successfulprocesses),
        ("Failed processes", stats.failedprocesses),
        ("Cancelled processes", stats.cancelledprocesses),
        ("Waiting workflows", stats.waitingworkflows),
        ("Running workflows", stats.runningworkflows),
        ("Successful workflows", stats.successfulworkflows),
        ("Failed workflows", stats.failedworkflows),
        ("Cancelled workflows", stats.cancelledworkflows),
    ]


def _add(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc(AddColonyMsg(colony=Colony(colonyid=args.colonyid, name=args.name)), s.server_prvkey)
    info("Colony added", ColonyID=args.colonyid, ColonyName=args.name)
    return 0


def _remove(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc(RemoveColonyMsg(colonyname=args.name), s.server_prvkey)
    info("Colony removed", ColonyName=args.name)
    return 0


def _ls(args: argparse.Namespace) -> int:
    s = Session(args)
    colonies = s.rpc(GetColoniesMsg(), s.server_prvkey, reply=list[Colony] | None) or []
    if args.json:
        print_json(colonies)
    elif not colonies:
        warn("No colonies found")
    else:
        list_table(["NAME", "COLONYID"], [(c.name, c.colonyid) for c in colonies])
    return 0


def _get(args: argparse.Namespace) -> int:
    s = Session(args)
    name = args.name or s.colonyname
    colony = s.rpc(GetColonyMsg(colonyname=name), s.prvkey, reply=Colony)
    if args.json:
        print_json(colony)
    else:
        kv_table([("Name", colony.name), ("ColonyId", colony.colonyid)])
    return 0


def _stats(args: argparse.Namespace) -> int:
    s = Session(args)
    name = args.name or s.colonyname
    stats = s.rpc(GetColonyStatsMsg(colonyname=name), s.prvkey, reply=Statistics)
    if args.json:
        print_json(stats)
    else:
        kv_table([("Colony", name), *stats_rows(stats)])
    return 0


def _chid(args: argparse.Namespace) -> int:
    s = Session(args)
    name = args.name or s.colonyname
    s.rpc(ChangeColonyIdMsg(colonyname=name, colonyid=args.colonyid), s.colony_prvkey)
    info("Changed colony Id", ColonyId=args.colonyid, ColonyName=name)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    g = add_group(sub, "colony", "Manage colonies")
    p = add_command(g, "add", "Add a colony (server owner)", _add)
    p.add_argument("--name", required=True, help="colony name")
    p.add_argument("--colonyid", required=True, help="colony id: the id of the colony owner's private key")
    add_server_key(p)
    p = add_command(g, "remove", "Remove a colony and everything in it (server owner)", _remove)
    p.add_argument("--name", required=True, help="colony name")
    add_server_key(p)
    p = add_command(g, "ls", "List all colonies (server owner)", _ls)
    add_server_key(p)
    add_json(p)
    p = add_command(g, "get", "Get info about a colony", _get)
    p.add_argument("--name", help="colony name (default: the configured colony)")
    add_json(p)
    p = add_command(g, "stats", "Show statistics of a colony", _stats)
    p.add_argument("--name", help="colony name (default: the configured colony)")
    add_json(p)
    p = add_command(g, "chid", "Change the colony id (colony owner; sign with the old key)", _chid)
    p.add_argument("--colonyid", required=True, help="the new colony id")
    p.add_argument("--name", help="colony name (default: the configured colony)")
    add_colony_key(p)
