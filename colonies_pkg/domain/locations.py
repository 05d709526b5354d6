"""Locations of a colony (Go `pkg/server/handlers/location`): the colony owner adds and removes
them, members (approved or not) list and read them. Executors and `conditions.locationname`
name a location freely: a location need not be registered to be used, as in Go."""
from __future__ import annotations

from ..errors import BadRequest, NotFound
from ..ids import new_id
from ..models.location import Location
from ..storage import colonies as colony_store
from ..storage import locations as store
from ..storage.db import Tx
from . import security

MAX_NAME = 256
MAX_DESCRIPTION = 4096


def _require_colony(tx: Tx, colonyname: str) -> None:
    if colony_store.get_colony(tx, colonyname) is None:
        raise BadRequest(f"Colony with name <{colonyname}> does not exists")


def add(tx: Tx, now: int, caller: str, location: Location | None) -> Location:
    if location is None:
        raise BadRequest("Failed to add location, location is nil")
    _require_colony(tx, location.colonyname)
    security.require_colony_owner(tx, caller, location.colonyname)
    if not location.name.strip():
        raise BadRequest("Failed to add location, location name is empty")
    if len(location.name) > MAX_NAME or len(location.description) > MAX_DESCRIPTION:
        raise BadRequest(f"Failed to add location, name longer than {MAX_NAME} or description longer than "
                         f"{MAX_DESCRIPTION} characters")
    if not (-180.0 <= location.long <= 180.0 and -90.0 <= location.lat <= 90.0):
        raise BadRequest("Failed to add location, longitude must be in [-180, 180] and latitude in [-90, 90]")
    if store.get(tx, location.colonyname, location.name) is not None:
        raise BadRequest(f"A location with name <{location.name}> already exists in Colony with name "
                         f"<{location.colonyname}>")
    if not location.locationid:
        location.locationid = new_id()
    store.add(tx, location, now)
    added = store.get(tx, location.colonyname, location.name)
    assert added is not None
    return added


def list_locations(tx: Tx, now: int, caller: str, colonyname: str) -> list[Location]:
    _require_colony(tx, colonyname)
    security.require_member(tx, caller, colonyname, approved=False)
    return store.list_in(tx, colonyname)


def get(tx: Tx, now: int, caller: str, colonyname: str, name: str) -> Location:
    _require_colony(tx, colonyname)
    security.require_member(tx, caller, colonyname, approved=False)
    location = store.get(tx, colonyname, name)
    if location is None:
        raise NotFound(f"Failed to get location, location <{name}> not found in Colony <{colonyname}>")
    return location


def remove(tx: Tx, now: int, caller: str, colonyname: str, name: str) -> None:
    _require_colony(tx, colonyname)
    security.require_colony_owner(tx, caller, colonyname)
    if not store.remove(tx, colonyname, name):
        raise BadRequest(f"Location with name <{name}> not found")
