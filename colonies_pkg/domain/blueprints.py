"""Blueprints (CHANNELS_BLUEPRINTS §3–§4): definitions declare kinds, blueprints are instances with
a desired `spec` and a reported `status`, and every spec change is kept in a history.

Reconciliation is done by executors, not here. When the definition of a kind names a handler
(`spec.handler.executorType` and `functionName`), the server submits ordinary processes to that
executor type: one per add, per spec change and per `reconcileblueprintmsg`, a `cleanup` process
per removal, and a periodic run through an ordinary interval cron `reconcile-<kind>[-<location>]`
(fired by the cron scheduler like any other cron) while blueprints of that kind and location exist.

Authorization: definitions are added and removed by the colony owner; the rest is open to a member
or the colony owner, except the status update and reconcile (members only).
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec

from ..clock import NS
from ..errors import BadRequest, ColoniesError, Conflict, Forbidden, NotFound
from ..ids import new_id
from ..models.blueprint import Blueprint, BlueprintDefinition, BlueprintHistory
from ..models.location import Location
from ..models.process import Conditions, FunctionSpec, Process
from ..models.workflow import WorkflowSpec
from ..storage import blueprints as store
from ..storage import crons as cron_store
from ..storage import locations as location_store
from ..storage import processes as process_store
from ..storage.db import Tx
from . import blueprint_schema, locations, schedule, security
from .events import CronsChanged
from .processes import insert_process, new_process_row

RECONCILE_INTERVAL = 60  # seconds between periodic reconcile runs, unless the handler says otherwise
_enc = msgspec.json.Encoder()


def _member_or_owner(tx: Tx, caller: str, colonyname: str) -> security.Member | None:
    """A member of the colony (returned), or else its owner (None); the owner check's error wins."""
    try:
        return security.require_member(tx, caller, colonyname)
    except Forbidden:
        security.require_colony_owner(tx, caller, colonyname)
        return None


def _initiator_name(member: security.Member | None) -> str:
    return member.name if member is not None else ""


def _time(now: int) -> datetime:
    return datetime.fromtimestamp(now // NS, UTC).replace(microsecond=(now % NS) // 1000)


# --- definitions ------------------------------------------------------------------------------
def add_definition(tx: Tx, now: int, caller: str, d: BlueprintDefinition | None) -> BlueprintDefinition:
    if d is None:
        raise BadRequest("Failed to add blueprint definition, blueprint definition is nil")
    colonyname, name = d.metadata.colonyname, d.metadata.name
    security.require_colony_owner(tx, caller, colonyname)
    if not name:
        raise BadRequest("Failed to add blueprint definition, metadata.name is required")
    interval = d.spec.handler.reconcileInterval or 0
    if not 0 <= interval <= schedule.MAX_INTERVAL:
        raise BadRequest(f"Failed to add blueprint definition, spec.handler.reconcileInterval must be 0 (60 s) to "
                         f"{schedule.MAX_INTERVAL} seconds")
    if not d.blueprintdefinitionid:
        d.blueprintdefinitionid = new_id()
    taken = store.definition_exists(tx, colonyname, name, d.blueprintdefinitionid)
    if taken == "name":
        raise Conflict(f"BlueprintDefinition with name '{name}' already exists in colony '{colonyname}' "
                       "(duplicate key)")
    if taken == "id":
        raise Conflict(f"BlueprintDefinition with id '{d.blueprintdefinitionid}' already exists (duplicate key)")
    store.add_definition(tx, d)
    return d


def get_definition(tx: Tx, now: int, caller: str, colonyname: str, name: str) -> BlueprintDefinition:
    _member_or_owner(tx, caller, colonyname)
    d = store.get_definition(tx, colonyname, name)
    if d is None:
        raise NotFound("Blueprint definition not found")
    return d


def list_definitions(tx: Tx, now: int, caller: str, colonyname: str) -> list[BlueprintDefinition]:
    _member_or_owner(tx, caller, colonyname)
    return store.list_definitions(tx, colonyname)


def remove_definition(tx: Tx, now: int, caller: str, colonyname: str, name: str) -> None:
    security.require_colony_owner(tx, caller, colonyname)
    d = store.get_definition(tx, colonyname, name)
    if d is None:
        raise NotFound(f"BlueprintDefinition '{name}' not found in namespace '{colonyname}'")
    kind = d.spec.names.kind
    left = store.count_of_kind(tx, colonyname, kind)
    if left:
        raise Conflict(f"cannot remove BlueprintDefinition '{name}': {left} blueprint(s) of kind '{kind}' still exist")
    store.remove_definition(tx, colonyname, name)


# --- blueprints -------------------------------------------------------------------------------
def _definition_of(tx: Tx, b: Blueprint) -> BlueprintDefinition:
    """The definition that `b.kind` must match; checks the spec against its schema."""
    if not b.kind:
        raise BadRequest("blueprint kind is required")
    colonyname = b.metadata.colonyname
    d = store.definition_for_kind(tx, colonyname, b.kind)
    if d is None:
        raise BadRequest(f"BlueprintDefinition for kind '{b.kind}' not found in namespace '{colonyname}'")
    if d.spec.schema:
        blueprint_schema.validate(b.spec or {}, d.spec.schema)
    return d


def _history(tx: Tx, now: int, caller: str, b: Blueprint, changetype: str) -> None:
    store.add_history(tx, b.metadata.colonyname, BlueprintHistory(
        historyid=str(uuid.uuid4()), blueprintid=b.blueprintid, kind=b.kind, namespace=b.metadata.colonyname,
        name=b.metadata.name, generation=b.metadata.gen, spec=b.spec, status=b.status, timestamp=_time(now),
        changedby=caller, changetype=changetype))


def add_blueprint(tx: Tx, now: int, caller: str, b: Blueprint | None) -> Blueprint:
    if b is None:
        raise BadRequest("Failed to add blueprint, blueprint is nil")
    colonyname, name = b.metadata.colonyname, b.metadata.name
    member = _member_or_owner(tx, caller, colonyname)
    if not b.blueprintid:
        b.blueprintid = new_id()
    d = _definition_of(tx, b)
    if not name:
        raise BadRequest("Failed to add blueprint, metadata.name is required")
    if store.get_blueprint(tx, colonyname, name) is not None:
        raise Conflict(f"blueprint with name '{name}' already exists in colony '{colonyname}'")
    if store.blueprint_id_taken(tx, b.blueprintid):
        raise Conflict(f"blueprint with id '{b.blueprintid}' already exists")
    location = b.metadata.location
    if location and location_store.get(tx, colonyname, location) is None:  # as Go: the site comes into being
        if len(location) > locations.MAX_NAME:
            raise BadRequest(f"Failed to add blueprint, location name longer than {locations.MAX_NAME} characters")
        location_store.add(tx, Location(locationid=new_id(), name=location, colonyname=colonyname,
                                        description=f"Auto-created from blueprint {name}"), now)
    store.add_blueprint(tx, b)
    _history(tx, now, caller, b, "create")
    if d.reconciles:
        _ensure_cron(tx, now, caller, _initiator_name(member), b, d)
        _submit_reconcile(tx, now, caller, _initiator_name(member), b, d)
    return b


def get_blueprint(tx: Tx, now: int, caller: str, colonyname: str, name: str) -> Blueprint:
    _member_or_owner(tx, caller, colonyname)
    b = store.get_blueprint(tx, colonyname, name)
    if b is None:
        raise NotFound("Blueprint not found")
    return b


def list_blueprints(tx: Tx, now: int, caller: str, colonyname: str, kind: str, locationname: str) -> list[Blueprint]:
    _member_or_owner(tx, caller, colonyname)
    # as in Go, the location filter applies only together with a kind
    return store.list_blueprints(tx, colonyname, kind, locationname if kind and locationname else None)


def update_blueprint(tx: Tx, now: int, caller: str, b: Blueprint | None, force: bool) -> Blueprint:
    if b is None:
        raise BadRequest("Failed to update blueprint, blueprint is nil")
    colonyname, name = b.metadata.colonyname, b.metadata.name
    member = _member_or_owner(tx, caller, colonyname)
    old = store.get_blueprint(tx, colonyname, name)
    if old is None:
        raise NotFound(f"blueprint '{name}' not found in namespace '{colonyname}'")
    d = _definition_of(tx, b)
    b.blueprintid = old.blueprintid
    changed = not blueprint_schema.same_json(b.spec or {}, old.spec or {}) or force
    b.metadata.generation = old.metadata.gen + 1 if changed else old.metadata.gen
    b.metadata.__post_init__()  # generation 0 stays out of the JSON
    store.replace_blueprint(tx, b)
    moved = (old.kind, old.metadata.location) != (b.kind, b.metadata.location)
    if moved:  # the periodic run follows the blueprint to its new kind or location
        _drop_cron_if_unused(tx, colonyname, old.kind, old.metadata.location)
        if d.reconciles:
            _ensure_cron(tx, now, caller, _initiator_name(member), b, d)
    if changed:
        _history(tx, now, caller, b, "update")
        if d.reconciles:
            _submit_reconcile(tx, now, caller, _initiator_name(member), b, d)
    return b


def remove_blueprint(tx: Tx, now: int, caller: str, colonyname: str, name: str) -> None:
    member = _member_or_owner(tx, caller, colonyname)
    b = store.get_blueprint(tx, colonyname, name)
    if b is None:
        raise NotFound("Blueprint not found")
    store.remove_blueprint(tx, b.blueprintid)  # its history stays
    _drop_cron_if_unused(tx, colonyname, b.kind, b.metadata.location)
    d = store.definition_for_kind(tx, colonyname, b.kind)
    if d is not None and d.spec.handler.executorType:
        et = d.spec.handler.executorType
        _submit(tx, now, caller, _initiator_name(member), FunctionSpec(
            nodename=f"{et}-cleanup", funcname="cleanup", kwargs={"blueprintName": name, "kind": b.kind},
            conditions=Conditions(colonyname=colonyname, executortype=et, locationname=b.metadata.location)))


def update_status(tx: Tx, now: int, caller: str, colonyname: str, name: str, status: dict[str, Any] | None) -> None:
    security.require_member(tx, caller, colonyname)
    b = store.get_blueprint(tx, colonyname, name)
    if b is None:
        raise NotFound("Blueprint not found")
    b.status = status
    b.__post_init__()
    store.replace_blueprint(tx, b)


def reconcile(tx: Tx, now: int, caller: str, colonyname: str, name: str, force: bool) -> Process:
    member = security.require_member(tx, caller, colonyname)
    b = store.get_blueprint(tx, colonyname, name)
    if b is None:
        raise NotFound("Blueprint not found")
    if force:
        b.metadata.generation = b.metadata.gen + 1
        store.replace_blueprint(tx, b)
    d = store.definition_for_kind(tx, colonyname, b.kind)
    if d is None or not d.spec.handler.executorType:
        raise BadRequest("Blueprint has no handler with executor type defined")
    if not d.spec.handler.functionName:
        raise BadRequest("Blueprint has no handler with function name defined")
    return _submit_reconcile(tx, now, caller, member.name, b, d, force)


def history(tx: Tx, now: int, caller: str, blueprintid: str, limit: int) -> list[BlueprintHistory]:
    b = store.get_blueprint_by_id(tx, blueprintid)
    if b is None:
        raise NotFound("Blueprint not found")
    _member_or_owner(tx, caller, b.metadata.colonyname)
    return store.history(tx, blueprintid, limit)


# --- reconcile processes and crons ------------------------------------------------------------
def _reconcile_spec(b: Blueprint, d: BlueprintDefinition, kwargs: dict[str, Any]) -> FunctionSpec:
    h = d.spec.handler
    return FunctionSpec(nodename=f"{h.executorType}-{h.functionName}", funcname=h.functionName, kwargs=kwargs,
                        conditions=Conditions(colonyname=b.metadata.colonyname, executortype=h.executorType,
                                              locationname=b.metadata.location))


def _submit(tx: Tx, now: int, caller: str, initiatorname: str, spec: FunctionSpec) -> Process:
    """Insert one WAITING process built like Go's empty function spec (no deadlines, no retries)."""
    spec.maxexectime, spec.maxretries, spec.maxwaittime, spec.priority = -1, -1, 0, 0
    spec.normalize()
    row = new_process_row(spec, now, caller, initiatorname)
    insert_process(tx, row, {})
    process = process_store.get(tx, row["processid"])
    if process is None:
        raise ColoniesError("Failed to submit reconciliation process")
    return process


def _submit_reconcile(tx: Tx, now: int, caller: str, initiatorname: str, b: Blueprint, d: BlueprintDefinition,
                      force: bool = False) -> Process:
    kwargs: dict[str, Any] = {"kind": b.kind, "blueprintName": b.metadata.name}
    if force:
        kwargs["force"] = True
    return _submit(tx, now, caller, initiatorname, _reconcile_spec(b, d, kwargs))


def cron_name(kind: str, locationname: str) -> str:
    return f"reconcile-{kind}-{locationname}" if locationname else f"reconcile-{kind}"


def _ensure_cron(tx: Tx, now: int, caller: str, initiatorname: str, b: Blueprint, d: BlueprintDefinition) -> None:
    """The periodic reconcile of every blueprint of this kind at this location: an interval cron."""
    colonyname, name = b.metadata.colonyname, cron_name(b.kind, b.metadata.location)
    if store.cron_exists(tx, colonyname, name):
        return
    spec = _reconcile_spec(b, d, {"kind": b.kind}).normalize()  # no blueprintName: every blueprint of the kind
    spec.maxexectime, spec.maxretries = -1, -1
    workflow = _enc.encode(WorkflowSpec(colonyname=colonyname, functionspecs=[spec])).decode()
    interval = d.spec.handler.reconcileInterval or RECONCILE_INTERVAL
    cron_store.add_cron(tx, {
        "cronid": new_id(), "colonyname": colonyname, "name": name, "initiatorid": caller,
        "initiatorname": initiatorname, "cronexpression": "", "interval": interval, "random": 0, "anchor": now,
        "nextrun": schedule.next_run("", interval, False, now, now), "lastrun": 0, "workflowspec": workflow,
        "prevprocessgraphid": "", "waitforprevprocessgraph": 1,
    })
    tx.events.append(CronsChanged())


def _drop_cron_if_unused(tx: Tx, colonyname: str, kind: str, locationname: str) -> None:
    if store.count_of_kind(tx, colonyname, kind, locationname):
        return
    if store.remove_cron_named(tx, colonyname, cron_name(kind, locationname)):
        tx.events.append(CronsChanged())
