"""`colonies blueprint …`: blueprint definitions (kinds, added and removed with the colony key) and
blueprints (instances with a desired spec and a reported status), as in the Go CLI: add, get, ls,
update, set one spec field, remove, trigger a reconcile, and show the change history."""
from __future__ import annotations

import argparse
import contextlib
import json
from typing import Any

from ..errors import ColoniesError
from ..models.blueprint import Blueprint, BlueprintDefinition, BlueprintHistory
from ..models.colony import User
from ..models.executor import Executor
from ..rpc import blueprints as bm
from ..rpc import messages as m
from ..rpc.replies import ProcessReply
from .common import CliError, Session, add_colony_key, add_command, add_group, add_json
from .output import fmt_datetime, info, print_json, warn
from .specs import read_json, to_model
from .table import kv_table, list_table, truncate

COMPLEX_SPEC_KEYS = ("env", "volumes", "ports", "instances")  # shown in their own tables, as Go does


def _load(path: str, colonyname: str, what: str) -> dict[str, Any]:
    doc = read_json(path)
    if not isinstance(doc, dict):
        raise CliError(f"{path}: a {what} must be a JSON object")
    md = doc.get("metadata")
    if md is None:
        md = doc["metadata"] = {}
    if not isinstance(md, dict):
        raise CliError(f"{path}: metadata must be a JSON object")
    if not md.get("colonyname"):
        md["colonyname"] = colonyname
    return doc


def _value(v: object) -> str:
    return json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else str(v)


# --- definitions ------------------------------------------------------------------------------
def _def_add(args: argparse.Namespace) -> int:
    s = Session(args)
    d = _load(args.spec, s.colonyname, "blueprint definition")
    added = s.rpc(bm.AddBlueprintDefinitionMsg(blueprintdefinition=to_model(d, BlueprintDefinition, args.spec)),
                  s.colony_prvkey, reply=BlueprintDefinition)
    spec = added.spec
    info("BlueprintDefinition added", BlueprintDefinitionID=added.blueprintdefinitionid, Name=added.metadata.name,
         Kind=spec.names.kind, Group=spec.group, Version=spec.version, ColonyName=added.metadata.colonyname)
    return 0


def _def_get(args: argparse.Namespace) -> int:
    s = Session(args)
    d, plain = s.rpc_json(bm.GetBlueprintDefinitionMsg(colonyname=s.colonyname, name=args.name), s.prvkey,
                          BlueprintDefinition)
    if args.json:
        print_json(plain)  # as the server sent it
        return 0
    spec = d.spec
    names, handler = spec.names, spec.handler
    kv_table([("Name", d.metadata.name), ("ID", d.blueprintdefinitionid), ("Kind", names.kind),
              ("Plural", names.plural), ("Group", spec.group), ("Version", spec.version), ("Scope", spec.scope)],
             title="BlueprintDefinition")
    rows = [("Executor Type", handler.executorType), ("Function Name", handler.functionName)]
    if handler.reconcileInterval:
        rows.append(("Reconcile Interval", f"{handler.reconcileInterval} seconds"))
    kv_table(rows, title="Handler")
    schema = spec.schema
    if schema:
        props = schema.properties
        rows = [("Required Fields", ", ".join(schema.required))] if schema.required else []
        kv_table([*rows, ("Properties", f"{len(props)} fields defined")], title="Schema")
        if props:
            list_table(["FIELD", "TYPE", "DESCRIPTION"],
                       [(k, p.type, truncate(p.description or "-", 50)) for k, p in props.items()],
                       title="Schema Properties")
    return 0


def _def_ls(args: argparse.Namespace) -> int:
    s = Session(args)
    defs, plain = s.rpc_json(bm.GetBlueprintDefinitionsMsg(colonyname=s.colonyname), s.prvkey,
                             list[BlueprintDefinition] | None)
    if not defs:
        info("No blueprint definitions found")
        return 0
    if args.json:
        print_json(plain)  # as the server sent them
        return 0
    list_table(["NAME", "KIND", "FUNCTIONNAME"],
               [(d.metadata.name, d.spec.names.kind, d.spec.handler.functionName) for d in defs])
    return 0


def _def_remove(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc(bm.RemoveBlueprintDefinitionMsg(namespace=s.colonyname, name=args.name), s.colony_prvkey)
    info("BlueprintDefinition removed", Name=args.name, ColonyName=s.colonyname)
    return 0


# --- blueprints -------------------------------------------------------------------------------
def _get_bp(s: Session, name: str) -> Blueprint:
    return s.rpc(bm.GetBlueprintMsg(namespace=s.colonyname, name=name), s.prvkey, reply=Blueprint)


def _update(s: Session, bp: Blueprint, force: bool = False) -> Blueprint:
    return s.rpc(bm.UpdateBlueprintMsg(blueprint=bp, forcegeneration=force), s.prvkey, reply=Blueprint)


def _add(args: argparse.Namespace) -> int:
    s = Session(args)
    bp = to_model(_load(args.spec, s.colonyname, "blueprint"), Blueprint, args.spec)
    added = s.rpc(bm.AddBlueprintMsg(blueprint=bp), s.prvkey, reply=Blueprint)
    info("Blueprint added", BlueprintID=added.blueprintid, Name=added.metadata.name, Kind=added.kind,
         Namespace=added.metadata.colonyname)
    return 0


def _spec_tables(spec: dict[str, Any], title: str) -> None:
    simple = [(k, truncate(_value(v), 60)) for k, v in spec.items() if k not in COMPLEX_SPEC_KEYS]
    if simple:
        kv_table(simple, title=title)
    env = spec.get("env")
    if isinstance(env, dict) and env:
        list_table(["KEY", "VALUE"], [(k, _value(env[k])) for k in sorted(env)], title="Environment Variables")
    for key in ("volumes", "ports", "instances"):
        value = spec.get(key)
        if isinstance(value, list) and value:
            list_table(["#", "VALUE"], [(i, truncate(_value(v), 80)) for i, v in enumerate(value)],
                       title=key.capitalize())


def _get(args: argparse.Namespace) -> int:
    s = Session(args)
    bp, plain = s.rpc_json(bm.GetBlueprintMsg(namespace=s.colonyname, name=args.name), s.prvkey, Blueprint)
    if args.json:
        print_json(plain)  # as the server sent it
        return 0
    md = bp.metadata
    rows: list[tuple[str, object]] = [("Name", md.name), ("ID", bp.blueprintid), ("Kind", bp.kind),
                                   ("Generation", md.gen), ("Location", md.location or "-")]
    for when, label in ((md.lastReconciliationTime, "Last Reconciliation"), (md.createdAt, "Created At"),
                        (md.updatedAt, "Updated At")):
        if when.year > 1:  # Go's zero time: never set
            rows.append((label, fmt_datetime(when)))
    kv_table(rows, title="Blueprint")
    for pairs, title in ((md.labels, "Labels"), (md.annotations, "Annotations")):
        if pairs:
            kv_table(list(pairs.items()), title=title)
    # spec and status are the kind's own JSON (its definition's schema, the reconciler's report)
    if bp.spec:
        _spec_tables(bp.spec, "Spec")
    if bp.status:
        kv_table([(k, truncate(_value(v), 60)) for k, v in bp.status.items()], title="Status")
    return 0


def _ls(args: argparse.Namespace) -> int:
    s = Session(args)
    bps, plain = s.rpc_json(bm.GetBlueprintsMsg(namespace=s.colonyname, kind=args.kind or ""), s.prvkey,
                            list[Blueprint] | None)
    if not bps:
        info("No blueprints found")
        return 0
    if args.json:
        print_json(plain)  # as the server sent them
        return 0
    defs: list[BlueprintDefinition] = []
    with contextlib.suppress(ColoniesError):  # only the Executor Type column needs them
        defs = s.rpc(bm.GetBlueprintDefinitionsMsg(colonyname=s.colonyname), s.prvkey,
                     reply=list[BlueprintDefinition] | None) or []
    types = {d.spec.names.kind: d.spec.handler.executorType for d in defs}
    list_table(["NAME", "KIND", "LOCATION", "EXECUTOR TYPE", "GEN"],
               [(b.metadata.name, b.kind, b.metadata.location or "-", types.get(b.kind) or "-", b.metadata.gen)
                for b in bps])
    return 0


def _update_cmd(args: argparse.Namespace) -> int:
    s = Session(args)
    updated = _update(s, to_model(_load(args.spec, s.colonyname, "blueprint"), Blueprint, args.spec))
    info("Blueprint updated", BlueprintID=updated.blueprintid, Name=updated.metadata.name, Kind=updated.kind,
         Generation=updated.metadata.gen)
    return 0


def _set(args: argparse.Namespace) -> int:
    """Change one existing spec field (dot path; `spec.` optional), then ask for a reconcile."""
    s = Session(args)
    bp = _get_bp(s, args.name)
    spec = bp.spec or {}  # the kind's own JSON: walked as the user names it
    path = args.key[len("spec."):] if args.key.startswith("spec.") else args.key
    parts = path.split(".")
    current = spec
    for part in parts[:-1]:
        if part not in current:
            raise CliError(f"Invalid key path: '{args.key}' (field '{part}' does not exist in blueprint spec)")
        current = current[part]
        if not isinstance(current, dict):
            raise CliError(f"Invalid key path: {args.key} (cannot navigate through non-object at '{part}')")
    if parts[-1] not in current:
        raise CliError(f"Invalid key: '{args.key}' (field '{parts[-1]}' does not exist in blueprint spec)")
    try:
        current[parts[-1]] = json.loads(args.value)  # numbers, booleans, objects …
    except ValueError:
        current[parts[-1]] = args.value  # … else a string
    bp.spec = spec
    updated = _update(s, bp)
    info("Blueprint field updated", BlueprintID=updated.blueprintid, Name=updated.metadata.name, Kind=updated.kind,
         Key=args.key, Value=args.value)
    try:
        process = s.rpc(bm.ReconcileBlueprintMsg(namespace=s.colonyname, name=args.name, force=False), s.prvkey,
                        reply=ProcessReply)
    except ColoniesError as exc:  # the update stands; a reconcile also comes from the cron
        warn("Failed to trigger reconciliation", Error=str(exc))
    else:
        info("Reconciliation triggered", ProcessID=process.processid)
    return 0


def _remove(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc(bm.RemoveBlueprintMsg(namespace=s.colonyname, name=args.name), s.prvkey)
    info("Blueprint removed", Name=args.name, ColonyName=s.colonyname)
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    s = Session(args)
    process = s.rpc(bm.ReconcileBlueprintMsg(namespace=s.colonyname, name=args.name, force=args.force), s.prvkey,
                    reply=ProcessReply)
    pid = process.processid
    info("Submitted reconciliation process", BlueprintName=args.name, ProcessID=pid, Force=str(args.force).lower())
    print(f"Reconciliation process submitted: {pid}")
    print(f"Use 'colonies log get -p {pid}' to view progress")
    return 0


def _changed_by(s: Session, caller: str, cache: dict[str, str]) -> str:
    if caller not in cache:
        cache[caller] = caller[:9] + "..." if len(caller) > 12 else caller
        for label, lookup in (("executor", _executor_name), ("user", _user_name)):
            try:
                name = lookup(s, caller)
            except ColoniesError:
                continue
            if name:
                cache[caller] = f"{label}: {name}"
                break
    return cache[caller]


def _executor_name(s: Session, executorid: str) -> str:
    found = s.rpc(m.GetExecutorByIdMsg(colonyname=s.colonyname, executorid=executorid), s.prvkey,
                  reply=Executor | None)
    return found.executorname if found is not None else ""


def _user_name(s: Session, userid: str) -> str:
    found = s.rpc(m.GetUserByIdMsg(colonyname=s.colonyname, userid=userid), s.prvkey, reply=User | None)
    return found.name if found is not None else ""


def _history(args: argparse.Namespace) -> int:
    s = Session(args)
    bp = _get_bp(s, args.name)
    hist, plain = s.rpc_json(bm.GetBlueprintHistoryMsg(blueprintid=bp.blueprintid, limit=args.limit), s.prvkey,
                             list[BlueprintHistory] | None)
    if not hist:
        info("No history found for this blueprint")
        return 0
    if args.generation >= 0:
        found = next((i for i, h in enumerate(hist) if h.generation == args.generation), None)
        if found is None:
            raise CliError(f"Generation {args.generation} not found in history")
        if args.json:
            print_json(plain[found])  # as the server sent it
            return 0
        entry = hist[found]
        kv_table([("Blueprint ID", entry.blueprintid), ("Kind", entry.kind), ("Name", entry.name),
                  ("Namespace", entry.namespace), ("Generation", entry.generation),
                  ("Timestamp", fmt_datetime(entry.timestamp)), ("Change Type", entry.changetype),
                  ("Changed By", entry.changedby)],
                 title=f"Blueprint History - Generation {entry.generation}")
        if entry.spec:
            _spec_tables(entry.spec, "Spec")
        return 0
    if args.json:
        print_json(plain)  # as the server sent them
        return 0
    cache: dict[str, str] = {}
    list_table(["GENERATION", "TIMESTAMP", "CHANGE TYPE", "CHANGED BY"],
               [(h.generation, fmt_datetime(h.timestamp), h.changetype, _changed_by(s, h.changedby, cache))
                for h in hist])
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    g = add_group(sub, "blueprint", "Manage blueprints",
                  "Manage blueprints (instances of a kind with a desired spec and a reported status) and blueprint "
                  "definitions (the kinds)")
    d = add_group(g, "definition", "Manage blueprint definitions", "Manage blueprint definitions (the kinds)")
    p = add_command(d, "add", "Add a BlueprintDefinition (requires the colony owner key)", _def_add)
    p.add_argument("--spec", required=True, help="JSON specification file")
    add_colony_key(p)
    p = add_command(d, "get", "Get a BlueprintDefinition", _def_get)
    p.add_argument("--name", required=True, help="BlueprintDefinition name")
    add_json(p)
    p = add_command(d, "ls", "List BlueprintDefinitions", _def_ls)
    add_json(p)
    p = add_command(d, "remove", "Remove a BlueprintDefinition (requires the colony owner key)", _def_remove)
    p.add_argument("--name", required=True, help="BlueprintDefinition name")
    add_colony_key(p)

    p = add_command(g, "add", "Add a Blueprint", _add)
    p.add_argument("--spec", required=True, help="JSON specification file")
    p = add_command(g, "get", "Get a Blueprint", _get)
    p.add_argument("--name", required=True, help="Blueprint name")
    add_json(p)
    p = add_command(g, "ls", "List Blueprints", _ls)
    p.add_argument("--kind", default="", help="Filter by blueprint kind")
    add_json(p)
    p = add_command(g, "update", "Update a Blueprint", _update_cmd)
    p.add_argument("--spec", required=True, help="JSON specification file")
    p = add_command(g, "set", "Set a field value in a Blueprint's spec, then trigger a reconciliation", _set)
    p.add_argument("--name", required=True, help="Blueprint name")
    p.add_argument("--key", required=True, help="Field key (use dot notation for nested fields, e.g. 'spec.replicas')")
    p.add_argument("--value", required=True, help="New value for the field (JSON, else a string)")
    p = add_command(g, "remove", "Remove a Blueprint", _remove)
    p.add_argument("--name", required=True, help="Blueprint name")
    p = add_command(g, "reconcile", "Trigger immediate reconciliation of a Blueprint", _reconcile)
    p.add_argument("--name", required=True, help="Blueprint name")
    p.add_argument("-f", "--force", action="store_true", help="Force a new generation (reconcilers recreate everything)")
    p = add_command(g, "history", "Show a Blueprint's history of changes", _history)
    p.add_argument("--name", required=True, help="Blueprint name")
    p.add_argument("-l", "--limit", type=int, default=10, help="Limit number of history entries")
    p.add_argument("-g", "--generation", type=int, default=-1, help="Show details for a specific generation")
    add_json(p)
