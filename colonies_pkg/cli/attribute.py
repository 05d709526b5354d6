"""`colonies attribute add|get`: key/value attributes on a running process (added by its
assigned executor, as type Out)."""
from __future__ import annotations

import argparse

from ..models.process import Attribute
from ..rpc.messages import AddAttributeMsg, GetAttributeMsg
from .common import Session, add_command, add_group, add_json
from .output import info, print_json
from .process import ATTRIBUTE_TYPES
from .table import list_table

OUT = 1


def _add(args: argparse.Namespace) -> int:
    s = Session(args)
    attribute = Attribute(targetid=args.processid, targetcolonyname=s.colonyname, key=args.key, value=args.value,
                          attributetype=OUT)
    added = s.rpc(AddAttributeMsg(attribute=attribute), s.prvkey, reply=Attribute)
    info("Attribute added", AttributeID=added.attributeid)
    return 0


def _get(args: argparse.Namespace) -> int:
    s = Session(args)
    a = s.rpc(GetAttributeMsg(attributeid=args.attributeid), s.prvkey, reply=Attribute)
    if args.json:
        print_json(a)
        return 0
    list_table(["ATTRIBUTEID", "TARGETID", "KEY", "VALUE", "TYPE"],
               [(a.attributeid, a.targetid, a.key, a.value, ATTRIBUTE_TYPES.get(a.attributetype, a.attributetype))])
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    g = add_group(sub, "attribute", "Manage process attributes")
    p = add_command(g, "add", "Add an attribute to a running process (as its assigned executor)", _add)
    p.add_argument("--key", required=True, help="attribute key")
    p.add_argument("--value", required=True, help="attribute value")
    p.add_argument("-p", "--processid", required=True, help="process id")
    p = add_command(g, "get", "Get an attribute", _get)
    p.add_argument("--attributeid", required=True, help="attribute id")
    add_json(p)
