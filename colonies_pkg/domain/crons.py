"""Crons (PROTOCOL §4.10, §6.7): workflows started on a schedule, and the firing rule.

`fire_due(tx, now)` is what the scheduler runs at each due time: it starts every due cron's
workflow (unless it waits for a previous graph still running), sets its next run, and returns
when the scheduler should look again.
"""
from __future__ import annotations

import random as _random
from typing import Any, NamedTuple

import msgspec

from ..errors import BadRequest, NotFound
from ..ids import new_id
from ..models.cron import Cron, CronRequest
from ..models.process import ProcessState
from ..models.workflow import ProcessGraph, WorkflowSpec
from ..storage import crons as store
from ..storage import workflows as graph_store
from ..storage.db import Tx
from ..storage.rows import CronRow
from . import schedule, security, workflows
from .events import CronsChanged

CHECKER_PERIOD_MS = 1000
_any_list = msgspec.json.Decoder(list[Any])
_spec_decoder = msgspec.json.Decoder(WorkflowSpec)
FINISHED = (ProcessState.SUCCESS, ProcessState.FAILED, ProcessState.CANCELLED)


def parse_workflow(text: str, colonyname: str) -> WorkflowSpec:
    """A stored workflowspec JSON string, validated; `colonyname` fills an empty one."""
    try:
        spec = _spec_decoder.decode(text)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadRequest(f"Failed to parse workflow spec: {exc}") from exc
    if not spec.colonyname:
        spec.colonyname = colonyname
    if spec.colonyname != colonyname:
        raise BadRequest(f"The workflow spec belongs to colony {spec.colonyname}, not {colonyname}")
    workflows.validate(spec)
    return spec


def add(tx: Tx, now: int, caller: str, cron: CronRequest | None, rng: _random.Random | None = None) -> Cron:
    if cron is None:
        raise BadRequest("Failed to add cron, cron is nil")
    member = security.require_member(tx, caller, cron.colonyname)
    if not cron.name:
        raise BadRequest("Failed to add cron, cron name is empty")
    parse_workflow(cron.workflowspec, cron.colonyname)
    schedule.validate(cron.cronexpression, cron.interval, cron.random)
    if store.cron_by_name(tx, cron.colonyname, cron.name) is not None:
        raise BadRequest(f"A cron with name {cron.name} already exists in Colony with name {cron.colonyname}")
    cronid = new_id()
    store.add_cron(tx, {
        "cronid": cronid, "colonyname": cron.colonyname, "name": cron.name, "initiatorid": caller,
        "initiatorname": member.name, "cronexpression": cron.cronexpression, "interval": cron.interval,
        "random": int(cron.random), "anchor": now,
        "nextrun": schedule.next_run(cron.cronexpression, cron.interval, cron.random, now, now, rng),
        "lastrun": 0, "workflowspec": cron.workflowspec, "prevprocessgraphid": "",
        "waitforprevprocessgraph": int(cron.waitforprevprocessgraph or cron.waitforprevprocessgrap),
    })
    tx.events.append(CronsChanged())
    row = store.get_cron(tx, cronid)
    assert row is not None
    return store.cron_wire(row)


def _cron_row(tx: Tx, caller: str, cronid: str) -> CronRow:
    row = store.get_cron(tx, cronid)
    if row is None:
        raise NotFound("Failed to get cron, cron is nil")
    security.require_member(tx, caller, row.colonyname)
    return row


def get(tx: Tx, now: int, caller: str, cronid: str) -> Cron:
    return store.cron_wire(_cron_row(tx, caller, cronid), CHECKER_PERIOD_MS)


def list_crons(tx: Tx, now: int, caller: str, colonyname: str, count: int) -> list[Cron]:
    security.require_member(tx, caller, colonyname)
    return [store.cron_wire(r) for r in store.list_crons(tx, colonyname, count)]


def remove(tx: Tx, now: int, caller: str, cronid: str) -> None:
    _cron_row(tx, caller, cronid)
    store.remove_cron(tx, cronid)
    tx.events.append(CronsChanged())


class Started(NamedTuple):
    graph: ProcessGraph | None
    blocked: bool


def start(tx: Tx, now: int, row: CronRow, rng: _random.Random | None = None) -> Started:
    """Start one run of a cron now, unless it waits for its previous graph still running."""
    prev = graph_store.get_row(tx, row.prevprocessgraphid) if row.prevprocessgraphid else None
    if prev is not None and row.waitforprevprocessgraph and prev.state not in FINISHED:
        return Started(None, True)
    root_input: list[Any] = []
    if prev is not None:
        for out in graph_store.leaf_outputs(tx, prev.processgraphid):
            root_input.extend(_any_list.decode(out))
    try:
        spec = parse_workflow(row.workflowspec, row.colonyname)
        graph = workflows.create_graph(tx, now, row.initiatorid, row.initiatorname, spec, root_input=root_input)
    except BadRequest:
        graph = None  # the colony changed under the cron; it stays scheduled and visible
    nextrun = schedule.next_run(row.cronexpression, row.interval, bool(row.random), row.anchor, now, rng)
    store.set_cron_run(tx, row.cronid, nextrun, lastrun=now,
                       prevgraph=graph.processgraphid if graph else row.prevprocessgraphid)
    tx.events.append(CronsChanged())
    return Started(graph, False)


def run_now(tx: Tx, now: int, caller: str, cronid: str) -> Cron:
    """runcronmsg: authorize first, then start it (the reply is the cron before the run)."""
    row = _cron_row(tx, caller, cronid)
    before = store.cron_wire(row)
    start(tx, now, row)
    return before


class Due(NamedTuple):
    fired: int
    next_due: int  # Unix ns of the earliest next run, 0 when there are no crons
    blocked: bool  # some due cron waits for its previous graph: look again soon


def fire_due(tx: Tx, now: int, rng: _random.Random | None = None) -> Due:
    fired, blocked = 0, False
    for row in store.due_crons(tx, now):
        started = start(tx, now, row, rng)
        fired += started.graph is not None
        blocked = blocked or started.blocked
    return Due(fired, store.earliest_nextrun(tx), blocked)
