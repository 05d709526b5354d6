"""Authorization rules (PROTOCOL §3): who may send what. Error texts follow the Go server."""
from __future__ import annotations

from typing import NamedTuple

from ..errors import Forbidden
from ..models.colony import Colony
from ..models.executor import ExecutorState
from ..storage import colonies as colony_store
from ..storage import executors as executor_store
from ..storage.db import Tx


class Member(NamedTuple):
    """The caller as a member of a colony: an executor (with its type) or a user."""

    kind: str  # "executor" or "user"
    name: str
    executortype: str = ""
    state: int = ExecutorState.APPROVED
    locationname: str = ""


def require_server_owner(tx: Tx, caller: str) -> None:
    if not caller or caller != colony_store.get_server_id(tx):
        raise Forbidden("Access denied, not server owner")


def _colony(tx: Tx, colonyname: str) -> Colony:
    if not colonyname:
        raise Forbidden("Empty Colony name")
    colony = colony_store.get_colony(tx, colonyname)
    if colony is None:
        raise Forbidden(f"Colony with name {colonyname} does not exists")
    return colony


def require_colony_owner(tx: Tx, caller: str, colonyname: str) -> None:
    if _colony(tx, colonyname).colonyid != caller:
        raise Forbidden("Access denied, not colony owner")


def require_member(tx: Tx, caller: str, colonyname: str, approved: bool = True) -> Member:
    """The executor check first; if it fails, the user check decides (as in Go)."""
    found = executor_store.membership(tx, caller, colonyname) if caller else None
    if found is not None and (not approved or found[2] == ExecutorState.APPROVED):
        return Member("executor", found[0], found[1], found[2], found[3])
    _colony(tx, colonyname)
    user = colony_store.get_user_by_id(tx, colonyname, caller) if caller else None
    if user is None:
        raise Forbidden(f"Access denied, not a member of Colony with name {colonyname}")
    return Member("user", user.name)


def require_executor(tx: Tx, caller: str, colonyname: str) -> Member:
    """An approved executor of the colony (assign, add function, …)."""
    found = executor_store.membership(tx, caller, colonyname) if caller else None
    if found is None:
        require_member(tx, caller, colonyname)
        raise Forbidden("Access denied, caller is not an executor of this colony")
    if found[2] != ExecutorState.APPROVED:
        raise Forbidden(f"Access denied, executor {found[0]} is not approved")
    return Member("executor", found[0], found[1], found[2], found[3])
