"""Generators (PROTOCOL §4.11, §6.8): packed arguments trigger workflows.

A pack is stored and, in the same unit of work, turned into workflows whenever `trigger` args are
waiting (oldest first; the args replace the roots' `args`), so no arg is used twice or lost.
Args that wait longer than `timeout` seconds (counted from the oldest waiting arg) are flushed
as one smaller workflow by the generator loop.
"""
from __future__ import annotations

from ..clock import NS
from ..errors import BadRequest, NotFound
from ..ids import new_id
from ..models.cron import Generator
from ..storage import generators as store
from ..storage.db import Tx
from ..storage.rows import GeneratorRow
from . import security, workflows
from .crons import CHECKER_PERIOD_MS, parse_workflow
from .events import GeneratorPacked

MAX_GENERATOR_COUNT = 100


def add(tx: Tx, now: int, caller: str, gen: Generator | None) -> Generator:
    if gen is None:
        raise BadRequest("Failed to add generator, generator is nil")
    member = security.require_member(tx, caller, gen.colonyname)
    if not gen.name:
        raise BadRequest("Failed to add generator, generator name is empty")
    if gen.trigger <= 0:
        raise BadRequest("Failed to add generator, trigger must be larger than 0")
    parse_workflow(gen.workflowspec, gen.colonyname)
    generatorid = new_id()
    store.add_generator(tx, {
        "generatorid": generatorid, "colonyname": gen.colonyname, "name": gen.name, "initiatorid": caller,
        "initiatorname": member.name, "workflowspec": gen.workflowspec, "trigger": gen.trigger,
        "timeout": gen.timeout if gen.timeout > 0 else -1, "firstpack": 0, "lastrun": 0})
    row = store.get_generator(tx, generatorid)
    assert row is not None
    return store.generator_wire(row)


def _row(tx: Tx, caller: str, generatorid: str) -> GeneratorRow:
    row = store.get_generator(tx, generatorid)
    if row is None:
        raise NotFound("Failed to get generator, generator is nil")
    security.require_member(tx, caller, row.colonyname)
    return row


def get(tx: Tx, now: int, caller: str, generatorid: str) -> Generator:
    row = _row(tx, caller, generatorid)
    return store.generator_wire(row, store.queue_size(tx, generatorid), CHECKER_PERIOD_MS)


def resolve(tx: Tx, now: int, caller: str, colonyname: str, name: str) -> Generator:
    security.require_member(tx, caller, colonyname)
    row = store.generator_by_name(tx, colonyname, name)
    if row is None:
        raise NotFound(f"Failed to resolve generator, no generator named {name}")
    return store.generator_wire(row)


def list_generators(tx: Tx, now: int, caller: str, colonyname: str, count: int) -> list[Generator]:
    security.require_member(tx, caller, colonyname)
    if count > MAX_GENERATOR_COUNT:
        raise BadRequest(f"Count is larger than MaxCount limit <{MAX_GENERATOR_COUNT}>")
    return [store.generator_wire(r, store.queue_size(tx, r.generatorid)) for r in
            store.list_generators(tx, colonyname, count)]


def remove(tx: Tx, now: int, caller: str, generatorid: str) -> None:
    _row(tx, caller, generatorid)
    store.remove_generator(tx, generatorid)


def _spawn(tx: Tx, now: int, row: GeneratorRow, args: list[str]) -> None:
    spec = parse_workflow(row.workflowspec, row.colonyname)
    workflows.create_graph(tx, now, row.initiatorid, row.initiatorname, spec, root_args=args)
    store.set_generator_lastrun(tx, row.generatorid, now)


def pack(tx: Tx, now: int, caller: str, generatorid: str, arg: str) -> int:
    """Store one arg; start a workflow for every full batch. Returns workflows started."""
    row = _row(tx, caller, generatorid)
    store.pack(tx, generatorid, arg, now)
    started = 0
    while store.queue_size(tx, generatorid) >= row.trigger:
        _spawn(tx, now, row, store.take_args(tx, generatorid, row.trigger))
        started += 1
    if row.timeout > 0 and store.queue_size(tx, generatorid):
        tx.events.append(GeneratorPacked())
    return started


def flush_expired(tx: Tx, now: int) -> int:
    """Generator loop: full batches first, then args older than the timeout as one workflow."""
    started = 0
    for row in store.all_generators_with_args(tx):
        gid = row.generatorid
        while store.queue_size(tx, gid) >= row.trigger:
            _spawn(tx, now, row, store.take_args(tx, gid, row.trigger))
            started += 1
        count = store.queue_size(tx, gid)
        oldest = store.oldest_arg_time(tx, gid)
        if count and row.timeout > 0 and (now - oldest) // NS >= row.timeout:
            _spawn(tx, now, row, store.take_args(tx, gid, count))
            started += 1
    return started
