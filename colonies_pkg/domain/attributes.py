"""Process attributes: set by the assigned executor while the process runs; env vars at submit."""
from __future__ import annotations

from ..crypto import sha3_hex
from ..errors import BadRequest, Forbidden, NotFound
from ..models.process import Attribute, ProcessState
from ..storage import attributes as store
from ..storage import processes as process_store
from ..storage.db import Tx, inline
from . import security


def attribute_id(targetid: str, key: str, attributetype: int) -> str:
    return sha3_hex(f"{targetid}{key}{attributetype}")


@inline
def add_attribute(tx: Tx, now: int, caller: str, attribute: Attribute | None) -> Attribute:
    if attribute is None:
        raise BadRequest("Failed to add attribute, attribute is nil")
    row = process_store.get_row(tx, attribute.targetid)
    if row is None:
        raise NotFound("Failed to add attribute, process not found")
    security.require_member(tx, caller, row.colonyname)
    if row.state != ProcessState.RUNNING:
        raise Forbidden("Failed to add attribute, process is not running")
    if row.assignedexecutorid != caller:
        raise Forbidden(f"Failed to add attribute, only executor with id {row.assignedexecutorid} "
                        "is allowed to set attributes")
    attribute.attributeid = attribute_id(attribute.targetid, attribute.key, attribute.attributetype)
    attribute.targetprocessgraphid = row.processgraphid
    attribute.state = row.state
    if store.get(tx, attribute.attributeid) is not None:
        raise BadRequest(f"Failed to add attribute, attribute with key {attribute.key} already exists")
    store.add(tx, attribute)
    return attribute


def get_attribute(tx: Tx, now: int, caller: str, attributeid: str) -> Attribute:
    found = store.get(tx, attributeid)
    if found is None:
        raise BadRequest("Attribute does not exists")
    attribute, colonyname = found
    security.require_member(tx, caller, colonyname)
    return attribute
