"""`colonies blueprint …`: blueprint definitions (kinds, added and removed with the colony key) and
blueprints (instances with a desired spec and a reported status), as in the Go CLI: add, get, ls,
update, set one spec field, remove, trigger a reconcile, and show the change history."""
from __future__ import annotations

import argparse
import json
from typing import Any

from .common import CliError, Session, add_colony_key, add_command, add_group, add_json
from .output import fmt_time, info, parse_time, print_json, warn
from .specs import read_json
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


def _value(v: Any) -> str:
    return json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else str(v)


# --- definitions ------------------------------------------------------------------------------
def _def_add(args: argparse.Namespace) -> int:
    s = Session(args)
    d = _load(args.spec, s.colonyname, "blueprint definition")
    added = s.rpc({"msgtype": "addblueprintdefinitionmsg", "blueprintdefinition": d}, s.colony_prvkey)
    spec = added.get("spec") or {}
    info("BlueprintDefinition added", BlueprintDefinitionID=added.get("blueprintdefinitionid", ""),
         Name=added["metadata"].get("name", ""), Kind=(spec.get("names") or {}).get("kind", ""),
         Group=spec.get("group", ""), Version=spec.get("version", ""), ColonyName=added["metadata"].get("colonyname"))
    return 0


def _def_get(args: argparse.Namespace) -> int:
    s = Session(args)
    d = s.rpc({"msgtype": "getblueprintdefinitionmsg", "colonyname": s.colonyname, "name": args.name}, s.prvkey)
    if args.json:
        print_json(d)
        return 0
    spec = d.get("spec") or {}
    names, handler = spec.get("names") or {}, spec.get("handler") or {}
    kv_table([("Name", d["metadata"].get("name", "")), ("ID", d.get("blueprintdefinitionid", "")),
              ("Kind", names.get("kind", "")), ("Plural", names.get("plural", "")), ("Group", spec.get("group", "")),
              ("Version", spec.get("version", "")), ("Scope", spec.get("scope", ""))], title="BlueprintDefinition")
    rows = [("Executor Type", handler.get("executorType", "")), ("Function Name", handler.get("functionName", ""))]
    if handler.get("reconcileInterval"):
        rows.append(("Reconcile Interval", f"{handler['reconcileInterval']} seconds"))
    kv_table(rows, title="Handler")
    schema = spec.get("schema")
    if schema:
        props = schema.get("properties") or {}
        rows = [("Required Fields", ", ".join(schema["required"]))] if schema.get("required") else []
        kv_table([*rows, ("Properties", f"{len(props)} fields defined")], title="Schema")
        if props:
            list_table(["FIELD", "TYPE", "DESCRIPTION"],
                       [(k, p.get("type", ""), truncate(p.get("description") or "-", 50)) for k, p in props.items()],
                       title="Schema Properties")
    return 0


def _def_ls(args: argparse.Namespace) -> int:
    s = Session(args)
    defs = s.rpc({"msgtype": "getblueprintdefinitionsmsg", "colonyname": s.colonyname}, s.prvkey) or []
    if not defs:
        info("No blueprint definitions found")
        return 0
    if args.json:
        print_json(defs)
        return 0
    list_table(["NAME", "KIND", "FUNCTIONNAME"],
               [(d["metadata"].get("name", ""), ((d.get("spec") or {}).get("names") or {}).get("kind", ""),
                 ((d.get("spec") or {}).get("handler") or {}).get("functionName", "")) for d in defs])
    return 0


def _def_remove(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc({"msgtype": "removeblueprintdefinitionmsg", "namespace": s.colonyname, "name": args.name}, s.colony_prvkey)
    info("BlueprintDefinition removed", Name=args.name, ColonyName=s.colonyname)
    return 0


# --- blueprints -------------------------------------------------------------------------------
def _get_bp(s: Session, name: str) -> dict[str, Any]:
    return s.rpc({"msgtype": "getblueprintmsg", "namespace": s.colonyname, "name": name}, s.prvkey)


def _update(s: Session, bp: dict[str, Any], force: bool = False) -> dict[str, Any]:
    return s.rpc({"msgtype": "updateblueprintmsg", "blueprint": bp, "forcegeneration": force}, s.prvkey)


def _add(args: argparse.Namespace) -> int:
    s = Session(args)
    bp = _load(args.spec, s.colonyname, "blueprint")
    added = s.rpc({"msgtype": "addblueprintmsg", "blueprint": bp}, s.prvkey)
    info("Blueprint added", BlueprintID=added.get("blueprintid", ""), Name=added["metadata"].get("name", ""),
         Kind=added.get("kind", ""), Namespace=added["metadata"].get("colonyname", ""))
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
    bp = _get_bp(s, args.name)
    if args.json:
        print_json(bp)
        return 0
    md = bp.get("metadata") or {}
    rows = [("Name", md.get("name", "")), ("ID", bp.get("blueprintid", "")), ("Kind", bp.get("kind", "")),
            ("Generation", md.get("generation", 0)), ("Location", md.get("locationname") or "-")]
    for key, label in (("lastReconciliationTime", "Last Reconciliation"), ("createdAt", "Created At"),
                       ("updatedAt", "Updated At")):
        if parse_time(md.get(key)):  # Go's zero time: never set
            rows.append((label, fmt_time(md.get(key))))
    kv_table(rows, title="Blueprint")
    for key, title in (("labels", "Labels"), ("annotations", "Annotations")):
        if md.get(key):
            kv_table(list(md[key].items()), title=title)
    if bp.get("spec"):
        _spec_tables(bp["spec"], "Spec")
    if bp.get("status"):
        kv_table([(k, truncate(_value(v), 60)) for k, v in bp["status"].items()], title="Status")
    return 0


def _ls(args: argparse.Namespace) -> int:
    s = Session(args)
    msg = {"msgtype": "getblueprintsmsg", "namespace": s.colonyname}
    if args.kind:
        msg["kind"] = args.kind
    bps = s.rpc(msg, s.prvkey) or []
    if not bps:
        info("No blueprints found")
        return 0
    if args.json:
        print_json(bps)
        return 0
    try:
        defs = s.rpc({"msgtype": "getblueprintdefinitionsmsg", "colonyname": s.colonyname}, s.prvkey) or []
    except Exception:  # only the Executor Type column needs them
        defs = []
    types = {((d.get("spec") or {}).get("names") or {}).get("kind"): ((d.get("spec") or {}).get("handler") or {})
             .get("executorType") for d in defs}
    list_table(["NAME", "KIND", "LOCATION", "EXECUTOR TYPE", "GEN"],
               [(b["metadata"].get("name", ""), b.get("kind", ""), b["metadata"].get("locationname") or "-",
                 types.get(b.get("kind")) or "-", b["metadata"].get("generation", 0)) for b in bps])
    return 0


def _update_cmd(args: argparse.Namespace) -> int:
    s = Session(args)
    updated = _update(s, _load(args.spec, s.colonyname, "blueprint"))
    info("Blueprint updated", BlueprintID=updated.get("blueprintid", ""), Name=updated["metadata"].get("name", ""),
         Kind=updated.get("kind", ""), Generation=updated["metadata"].get("generation", 0))
    return 0


def _set(args: argparse.Namespace) -> int:
    """Change one existing spec field (dot path; `spec.` optional), then ask for a reconcile."""
    s = Session(args)
    bp = _get_bp(s, args.name)
    spec = bp.get("spec") or {}
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
    bp["spec"] = spec
    updated = _update(s, bp)
    info("Blueprint field updated", BlueprintID=updated.get("blueprintid", ""), Name=updated["metadata"].get("name"),
         Kind=updated.get("kind", ""), Key=args.key, Value=args.value)
    try:
        process = s.rpc({"msgtype": "reconcileblueprintmsg", "namespace": s.colonyname, "name": args.name,
                         "force": False}, s.prvkey)
    except Exception as exc:  # the update stands; a reconcile also comes from the cron
        warn("Failed to trigger reconciliation", Error=str(exc))
    else:
        info("Reconciliation triggered", ProcessID=process.get("processid", ""))
    return 0


def _remove(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc({"msgtype": "removeblueprintmsg", "namespace": s.colonyname, "name": args.name}, s.prvkey)
    info("Blueprint removed", Name=args.name, ColonyName=s.colonyname)
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    s = Session(args)
    process = s.rpc({"msgtype": "reconcileblueprintmsg", "namespace": s.colonyname, "name": args.name,
                     "force": args.force}, s.prvkey)
    pid = process.get("processid", "")
    info("Submitted reconciliation process", BlueprintName=args.name, ProcessID=pid, Force=str(args.force).lower())
    print(f"Reconciliation process submitted: {pid}")
    print(f"Use 'colonies log get -p {pid}' to view progress")
    return 0


def _changed_by(s: Session, caller: str, cache: dict[str, str]) -> str:
    if caller not in cache:
        cache[caller] = caller[:9] + "..." if len(caller) > 12 else caller
        for msgtype, key, label in (("getexecutorbyidmsg", "executorid", "executor"),
                                    ("getuserbyidmsg", "userid", "user")):
            try:
                found = s.rpc({"msgtype": msgtype, "colonyname": s.colonyname, key: caller}, s.prvkey)
            except Exception:
                continue
            name = (found or {}).get("executorname" if label == "executor" else "name")
            if name:
                cache[caller] = f"{label}: {name}"
                break
    return cache[caller]


def _history(args: argparse.Namespace) -> int:
    s = Session(args)
    bp = _get_bp(s, args.name)
    hist = s.rpc({"msgtype": "getblueprinthistorymsg", "blueprintid": bp["blueprintid"], "limit": args.limit},
                 s.prvkey) or []
    if not hist:
        info("No history found for this blueprint")
        return 0
    if args.generation >= 0:
        entry = next((h for h in hist if h.get("generation", 0) == args.generation), None)
        if entry is None:
            raise CliError(f"Generation {args.generation} not found in history")
        if args.json:
            print_json(entry)
            return 0
        kv_table([("Blueprint ID", entry.get("blueprintid", "")), ("Kind", entry.get("kind", "")),
                  ("Name", entry.get("name", "")), ("Namespace", entry.get("namespace", "")),
                  ("Generation", entry.get("generation", 0)), ("Timestamp", fmt_time(entry.get("timestamp"))),
                  ("Change Type", entry.get("changetype", "")), ("Changed By", entry.get("changedby", ""))],
                 title=f"Blueprint History - Generation {entry.get('generation', 0)}")
        if entry.get("spec"):
            _spec_tables(entry["spec"], "Spec")
        return 0
    if args.json:
        print_json(hist)
        return 0
    cache: dict[str, str] = {}
    list_table(["GENERATION", "TIMESTAMP", "CHANGE TYPE", "CHANGED BY"],
               [(h.get("generation", 0), fmt_time(h.get("timestamp")), h.get("changetype", ""),
                 _changed_by(s, h.get("changedby", ""), cache)) for h in hist])
    return 0


def register(sub: argparse._SubParsersAction) -> None:
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
