"""`colonies workflow …`: submit a workflow (a JSON array of function specs with nodenames and
dependencies), list, show, cancel and remove workflows (process graphs)."""
from __future__ import annotations

import argparse
from typing import Any

from .common import Session, add_colony_key, add_command, add_group, add_json, confirm
from .output import error, fmt_args, fmt_kwargs, fmt_list, fmt_time, info, print_json, warn
from .process import CANCELLED, FAILED, RUNNING, SUCCESS, WAITING, add_removeall_flags, removeall_state
from .specs import load_workflow
from .table import kv_table, list_table
from .wait import STATE_NAMES, wait_for

LISTS = {
    "ps": (RUNNING, RUNNING.word),
    "psw": (WAITING, WAITING.word),
    "pss": (SUCCESS, SUCCESS.word),
    "psf": (FAILED, FAILED.word),
    "psc": (CANCELLED, CANCELLED.word),
}


def get_graph(s: Session, graphid: str) -> dict[str, Any]:
    return s.rpc({"msgtype": "getprocessgraphmsg", "processgraphid": graphid}, s.prvkey)


def _wait(s: Session, graph: dict[str, Any]) -> int:
    """Wait for every leaf process (no children) of the graph; stop at the first failure."""
    graphid = graph["processgraphid"]
    graph = get_graph(s, graphid)
    parents = {edge["source"] for edge in graph.get("edges") or []}
    for pid in graph.get("processids") or []:
        if pid in parents:
            continue
        process = s.rpc({"msgtype": "getprocessmsg", "processid": pid}, s.prvkey)
        done = wait_for(s, process)
        if done.get("state") != SUCCESS:
            break
    graph = get_graph(s, graphid)
    if graph.get("state") == SUCCESS:
        info("Workflow finished successfully", WorkflowID=graphid)
        return 0
    error(f"Workflow {STATE_NAMES.get(graph.get('state', -1), 'failed').lower()}", WorkflowID=graphid)
    return 1


def _submit(args: argparse.Namespace) -> int:
    s = Session(args)
    spec = load_workflow(args.spec, s.colonyname)
    graph = s.rpc({"msgtype": "submitworkflowspecmsg", "spec": spec}, s.prvkey)
    info("Workflow submitted", ColonyName=s.colonyname, WorkflowID=graph["processgraphid"])
    if args.json:
        print_json(graph)
    return _wait(s, graph) if args.wait else 0


def _ps(args: argparse.Namespace) -> int:
    state, word = LISTS[args.subcommand]
    s = Session(args)
    graphs = s.rpc({"msgtype": "getprocessgraphsmsg", "colonyname": s.colonyname, "count": args.count,
                    "state": state}, s.prvkey) or []
    if args.json:
        print_json(graphs)
    elif not graphs:
        warn(f"No {word} workflows found")
    else:
        list_table(["WORKFLOWID", "SUBMSSIONTIME", "INITIATOR"],
                   [(g.get("processgraphid", ""), fmt_time(g.get("submissiontime")), g.get("initiatorname", ""))
                    for g in graphs])
    return 0


def _get(args: argparse.Namespace) -> int:
    s = Session(args)
    graph = get_graph(s, args.workflowid)
    processes = [s.rpc({"msgtype": "getprocessmsg", "processid": pid}, s.prvkey)
                 for pid in graph.get("processids") or []]
    if args.json:
        print_json({**graph, "processes": processes})
        return 0
    kv_table([
        ("WorkflowId", graph.get("processgraphid", "")),
        ("SubmissionTime", fmt_time(graph.get("submissiontime"))),
        ("State", STATE_NAMES.get(graph.get("state", -1), graph.get("state"))),
        ("StartTime", fmt_time(graph.get("starttime"))),
        ("InitiatorName", graph.get("initiatorname", "")),
        ("InitiatorId", graph.get("initiatorid", "")),
        ("EndTime", fmt_time(graph.get("endtime"))),
    ], title="Workflow")
    print()
    print("Processes:")
    for p in processes:
        spec = p.get("spec") or {}
        conditions = spec.get("conditions") or {}
        kv_table([
            ("WaitingForParents", str(bool(p.get("waitforparents"))).lower()),
            ("State", STATE_NAMES.get(p.get("state", -1), p.get("state"))),
            ("ProcessId", p.get("processid", "")),
            ("NodeName", spec.get("nodename", "")),
            ("KwArgs", fmt_kwargs(spec.get("kwargs"))),
            ("InitiatorId", p.get("initiatorid", "")),
            ("Initiator", p.get("initiatorname", "")),
            ("FuncName", spec.get("funcname", "")),
            ("ExecutorType", conditions.get("executortype", "")),
            ("Dependencies", fmt_list(conditions.get("dependencies"), "None")),
            ("Args", fmt_args(spec.get("args"))),
        ])
    return 0


def _remove(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc({"msgtype": "removeprocessgraphmsg", "processgraphid": args.workflowid, "all": False}, s.prvkey)
    info("Workflow removed", WorkflowID=args.workflowid)
    return 0


def _removeall(args: argparse.Namespace) -> int:
    s = Session(args)
    state, word = removeall_state(args)
    colonyname, key = s.colonyname, s.colony_prvkey
    confirm(f"WARNING!!! Are you sure you want to remove all {word}workflows in the Colony <{colonyname}>. "
            "This operation cannot be undone!", args.yes)
    s.rpc({"msgtype": "removeallprocessgraphsmsg", "colonyname": colonyname, "state": state}, key)
    info(f"Removing all {word}workflows in Colony", ColonyName=colonyname)
    return 0


def _cancel(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc({"msgtype": "cancelprocessgraphmsg", "processgraphid": args.workflowid}, s.prvkey)
    info("Workflow cancelled", WorkflowID=args.workflowid)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    g = add_group(sub, "workflow", "Manage workflows")
    p = add_command(g, "submit", "Submit a workflow (JSON array of function specs)", _submit)
    p.add_argument("--spec", required=True, help="workflow JSON file")
    p.add_argument("--wait", action="store_true", help="wait until the workflow is finished")
    add_json(p)
    for name, (_, word) in LISTS.items():
        p = add_command(g, name, f"List {word} workflows", _ps)
        p.add_argument("--count", type=int, default=20, help="number of workflows to list (max 100)")
        add_json(p)
    p = add_command(g, "get", "Get info about a workflow and its processes", _get)
    p.add_argument("--workflowid", required=True, help="workflow (process graph) id")
    add_json(p)
    p = add_command(g, "remove", "Remove a workflow and its processes", _remove)
    p.add_argument("--workflowid", required=True, help="workflow (process graph) id")
    p = add_command(g, "removeall", "Remove all workflows", _removeall)
    add_colony_key(p)
    add_removeall_flags(p, "workflows")
    p = add_command(g, "cancel", "Cancel a workflow (its waiting and running processes)", _cancel)
    p.add_argument("--workflowid", required=True, help="workflow (process graph) id")
