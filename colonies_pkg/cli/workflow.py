"""`colonies workflow …`: submit a workflow (a JSON array of function specs with nodenames and
dependencies), list, show, cancel and remove workflows (process graphs)."""
from __future__ import annotations

import argparse

from ..models.workflow import ProcessGraph, WorkflowSpec
from ..rpc.messages import (
    CancelProcessGraphMsg,
    GetProcessGraphMsg,
    GetProcessGraphsMsg,
    GetProcessMsg,
    RemoveAllProcessGraphsMsg,
    RemoveProcessGraphMsg,
    SubmitWorkflowSpecMsg,
)
from ..rpc.replies import ProcessReply
from .common import Session, add_colony_key, add_command, add_group, add_json, confirm
from .output import error, fmt_args, fmt_kwargs, fmt_list, fmt_time, info, print_json, warn
from .process import CANCELLED, FAILED, RUNNING, SUCCESS, WAITING, add_removeall_flags, get_process, removeall_state
from .specs import load_workflow, to_model
from .table import kv_table, list_table
from .wait import STATE_NAMES, wait_for

LISTS = {
    "ps": (RUNNING, RUNNING.word),
    "psw": (WAITING, WAITING.word),
    "pss": (SUCCESS, SUCCESS.word),
    "psf": (FAILED, FAILED.word),
    "psc": (CANCELLED, CANCELLED.word),
}


def get_graph(s: Session, graphid: str) -> ProcessGraph:
    return s.rpc(GetProcessGraphMsg(processgraphid=graphid), s.prvkey, reply=ProcessGraph)


def _wait(s: Session, graph: ProcessGraph) -> int:
    """Wait for every leaf process (no children) of the graph; stop at the first failure."""
    graphid = graph.processgraphid
    graph = get_graph(s, graphid)
    parents = {edge.source for edge in graph.edges}
    for pid in graph.processids:
        if pid in parents:
            continue
        done = wait_for(s, get_process(s, pid))
        if done.state != SUCCESS:
            break
    graph = get_graph(s, graphid)
    if graph.state == SUCCESS:
        info("Workflow finished successfully", WorkflowID=graphid)
        return 0
    error(f"Workflow {STATE_NAMES.get(graph.state, 'failed').lower()}", WorkflowID=graphid)
    return 1


def _submit(args: argparse.Namespace) -> int:
    s = Session(args)
    spec = to_model(load_workflow(args.spec, s.colonyname), WorkflowSpec, args.spec)
    graph = s.rpc(SubmitWorkflowSpecMsg(spec=spec), s.prvkey, reply=ProcessGraph)
    info("Workflow submitted", ColonyName=s.colonyname, WorkflowID=graph.processgraphid)
    if args.json:
        print_json(graph)
    return _wait(s, graph) if args.wait else 0


def _ps(args: argparse.Namespace) -> int:
    state, word = LISTS[args.subcommand]
    s = Session(args)
    graphs = s.rpc(GetProcessGraphsMsg(colonyname=s.colonyname, count=args.count, state=state), s.prvkey,
                   reply=list[ProcessGraph] | None) or []
    if args.json:
        print_json(graphs)
    elif not graphs:
        warn(f"No {word} workflows found")
    else:
        list_table(["WORKFLOWID", "SUBMSSIONTIME", "INITIATOR"],
                   [(g.processgraphid, fmt_time(g.submissiontime), g.initiatorname) for g in graphs])
    return 0


def _get(args: argparse.Namespace) -> int:
    s = Session(args)
    graph = get_graph(s, args.workflowid)
    replies = [s.rpc_json(GetProcessMsg(processid=pid), s.prvkey, ProcessReply) for pid in graph.processids]
    if args.json:
        import msgspec

        print_json({**msgspec.to_builtins(graph), "processes": [plain for _, plain in replies]})
        return 0
    kv_table([
        ("WorkflowId", graph.processgraphid),
        ("SubmissionTime", fmt_time(graph.submissiontime)),
        ("State", STATE_NAMES.get(graph.state, graph.state)),
        ("StartTime", fmt_time(graph.starttime)),
        ("InitiatorName", graph.initiatorname),
        ("InitiatorId", graph.initiatorid),
        ("EndTime", fmt_time(graph.endtime)),
    ], title="Workflow")
    print()
    print("Processes:")
    for p, _ in replies:
        kv_table([
            ("WaitingForParents", str(p.waitforparents).lower()),
            ("State", STATE_NAMES.get(p.state, p.state)),
            ("ProcessId", p.processid),
            ("NodeName", p.spec.nodename),
            ("KwArgs", fmt_kwargs(p.spec.kwargs)),
            ("InitiatorId", p.initiatorid),
            ("Initiator", p.initiatorname),
            ("FuncName", p.spec.funcname),
            ("ExecutorType", p.conditions.executortype),
            ("Dependencies", fmt_list(p.conditions.dependencies, "None")),
            ("Args", fmt_args(p.spec.args)),
        ])
    return 0


def _remove(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc(RemoveProcessGraphMsg(processgraphid=args.workflowid, all=False), s.prvkey)
    info("Workflow removed", WorkflowID=args.workflowid)
    return 0


def _removeall(args: argparse.Namespace) -> int:
    s = Session(args)
    state, word = removeall_state(args)
    colonyname, key = s.colonyname, s.colony_prvkey
    confirm(f"WARNING!!! Are you sure you want to remove all {word}workflows in the Colony <{colonyname}>. "
            "This operation cannot be undone!", args.yes)
    s.rpc(RemoveAllProcessGraphsMsg(colonyname=colonyname, state=state), key)
    info(f"Removing all {word}workflows in Colony", ColonyName=colonyname)
    return 0


def _cancel(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc(CancelProcessGraphMsg(processgraphid=args.workflowid), s.prvkey)
    info("Workflow cancelled", WorkflowID=args.workflowid)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
