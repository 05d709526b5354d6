"""Server id, colonies, users and statistics."""
from __future__ import annotations

from ..errors import BadRequest, NotFound
from ..ids import is_valid_id
from ..models.colony import Colony, Statistics, User
from ..storage import colonies as store
from ..storage import executors as executor_store
from ..storage import processes as process_store
from ..storage import workflows as graph_store
from ..storage.db import Tx
from . import security
from .events import ColonyResumed, ProcessesRemoved


def ensure_server_id(tx: Tx, now: int, serverid: str) -> None:
    """Set the server owner at start-up (COLONIES_SERVER_ID / _PRVKEY)."""
    if serverid and store.get_server_id(tx) != serverid:
        store.set_server_id(tx, serverid)


def change_server_id(tx: Tx, now: int, caller: str, serverid: str) -> None:
    security.require_server_owner(tx, caller)
    if not serverid:
        raise BadRequest("Failed to change server Id, new server Id is empty")
    if not is_valid_id(serverid):
        raise BadRequest("Failed to change server Id, invalid server Id length")
    store.set_server_id(tx, serverid)


def add_colony(tx: Tx, now: int, caller: str, colony: Colony | None) -> Colony:
    security.require_server_owner(tx, caller)
    if colony is None:
        raise BadRequest("Failed to add colony, colony is <nil>")
    if len(colony.colonyid) != 64 or not is_valid_id(colony.colonyid):
        raise BadRequest("Failed to add colony, invalid colony Id length")
    if not colony.name:
        raise BadRequest("Failed to add colony, colony name is empty")
    if store.get_colony(tx, colony.name) is not None:
        raise BadRequest(f"A Colony with name {colony.name} already exists")
    store.add_colony(tx, colony)
    return colony


def remove_colony(tx: Tx, now: int, caller: str, name: str) -> None:
    security.require_server_owner(tx, caller)
    if store.get_colony(tx, name) is None:
        raise BadRequest(f"Colony with name {name} not found")
    store.remove_colony(tx, name)  # cascades to everything in the colony
    tx.events.append(ColonyResumed(name))
    tx.events.append(ProcessesRemoved(name))


def list_colonies(tx: Tx, now: int, caller: str) -> list[Colony]:
    security.require_server_owner(tx, caller)
    return store.list_colonies(tx)


def get_colony(tx: Tx, now: int, caller: str, name: str) -> Colony:
    security.require_member(tx, caller, name)
    colony = store.get_colony(tx, name)
    assert colony is not None
    return colony


def change_colony_id(tx: Tx, now: int, caller: str, name: str, colonyid: str) -> None:
    security.require_colony_owner(tx, caller, name)
    if not colonyid:
        raise BadRequest("Failed to change colony Id, new colony Id is empty")
    if not is_valid_id(colonyid):
        raise BadRequest("Failed to change colony Id, invalid colony Id length")
    store.set_colony_id(tx, name, colonyid)


def _statistics(tx: Tx, colonyname: str | None) -> Statistics:
    counts = process_store.state_counts(tx, colonyname)
    total, active, unregistered = executor_store.counts(tx, colonyname)
    stats = Statistics(
        colonies=1 if colonyname is not None else store.count_colonies(tx),
        executors=total, activeexecutors=active, unregisteredexecutors=unregistered,
        waitingprocesses=counts.get(0, 0), runningprocesses=counts.get(1, 0),
        successfulprocesses=counts.get(2, 0), failedprocesses=counts.get(3, 0),
        cancelledprocesses=counts.get(4, 0),
    )
    graphs = graph_store.graph_counts(tx, colonyname)
    stats.waitingworkflows, stats.runningworkflows = graphs.get(0, 0), graphs.get(1, 0)
    stats.successfulworkflows, stats.failedworkflows = graphs.get(2, 0), graphs.get(3, 0)
    stats.cancelledworkflows = graphs.get(4, 0)
    return stats


def colony_statistics(tx: Tx, now: int, caller: str, name: str) -> Statistics:
    security.require_member(tx, caller, name)
    return _statistics(tx, name)


def server_statistics(tx: Tx, now: int, caller: str) -> Statistics:
    security.require_server_owner(tx, caller)
    stats = _statistics(tx, None)
    stats.executors -= stats.unregisteredexecutors
    return stats


# --- users ------------------------------------------------------------------------------------
def add_user(tx: Tx, now: int, caller: str, user: User | None) -> User:
    if user is None:
        raise BadRequest("Failed to add user, user is nil")
    security.require_colony_owner(tx, caller, user.colonyname)
    if not user.name:
        raise BadRequest("Failed to add user, user name is empty")
    if not is_valid_id(user.userid):
        raise BadRequest("Failed to add user, invalid user Id length")
    if store.get_user(tx, user.colonyname, user.name) is not None:
        raise BadRequest(f"A user with name {user.name} already exists in Colony with name {user.colonyname}")
    if store.get_user_by_id(tx, user.colonyname, user.userid) is not None:
        raise BadRequest(f"A user with Id {user.userid} already exists in Colony with name {user.colonyname}")
    store.add_user(tx, user)
    return user


def list_users(tx: Tx, now: int, caller: str, colonyname: str) -> list[User]:
    security.require_member(tx, caller, colonyname, approved=False)
    return store.list_users(tx, colonyname)


def get_user(tx: Tx, now: int, caller: str, colonyname: str, name: str) -> User:
    security.require_member(tx, caller, colonyname, approved=False)
    user = store.get_user(tx, colonyname, name)
    if user is None:
        raise NotFound("Failed to get user, user is nil")
    return user


def get_user_by_id(tx: Tx, now: int, caller: str, colonyname: str, userid: str) -> User:
    security.require_member(tx, caller, colonyname, approved=False)
    user = store.get_user_by_id(tx, colonyname, userid)
    if user is None:
        raise NotFound(f"Failed to get user, user with Id {userid} not found")
    return user


def remove_user(tx: Tx, now: int, caller: str, colonyname: str, name: str) -> None:
    security.require_colony_owner(tx, caller, colonyname)
    if store.get_user(tx, colonyname, name) is None:
        raise BadRequest(f"User with name {name} not found")
    store.remove_user(tx, colonyname, name)


def change_user_id(tx: Tx, now: int, caller: str, colonyname: str, userid: str) -> None:
    security.require_member(tx, caller, colonyname, approved=False)
    user = store.get_user_by_id(tx, colonyname, caller)
    if user is None:
        raise BadRequest("Failed to change user Id, caller is not a user of the colony")
    if not userid:
        raise BadRequest("Failed to change user Id, new user Id is empty")
    if not is_valid_id(userid):
        raise BadRequest("Failed to change user Id, invalid user Id length")
    store.set_user_id(tx, colonyname, user.name, userid)
