"""Who an executor is (layer L5): register itself with the colony owner's key, or find out which
approved executor a private key belongs to.
"""
from __future__ import annotations

import socket
import uuid
from typing import Any

from ..client import Client
from ..crypto import generate_prvkey, id_of_prvkey
from ..errors import BadRequest, ColoniesError

APPROVED = 1
STATES = {0: "pending", 1: "approved", 2: "rejected", 3: "unregistered"}


def default_name(executortype: str) -> str:
    """`<type>-<host>-<6 hex>`: unique, and says where it runs."""
    host = socket.gethostname().split(".")[0] or "host"
    return f"{executortype}-{host}-{uuid.uuid4().hex[:6]}"


def register_self(client: Client, colonyname: str, colony_prvkey: str, name: str, executortype: str,
                  prvkey: str | None = None) -> tuple[str, bool]:
    """Add and approve executor `name` with a new key (or `prvkey`); an executor already registered
    under that name is replaced. Returns (the executor's private key, whether one was replaced)."""
    prvkey = prvkey or generate_prvkey()
    executor = {"executorid": id_of_prvkey(prvkey), "executorname": name, "executortype": executortype,
                "colonyname": colonyname, "location": {"description": socket.gethostname()}}
    replaced = False
    try:
        client.rpc({"msgtype": "addexecutormsg", "executor": executor}, colony_prvkey)
    except BadRequest as exc:
        if "already exists" not in str(exc):
            raise
        client.rpc({"msgtype": "removeexecutormsg", "colonyname": colonyname, "executorname": name}, colony_prvkey)
        client.rpc({"msgtype": "addexecutormsg", "executor": executor}, colony_prvkey)
        replaced = True
    client.rpc({"msgtype": "approveexecutormsg", "colonyname": colonyname, "executorname": name}, colony_prvkey)
    return prvkey, replaced


def unregister(client: Client, colonyname: str, colony_prvkey: str, name: str) -> None:
    client.rpc({"msgtype": "removeexecutormsg", "colonyname": colonyname, "executorname": name}, colony_prvkey,
               timeout=10)


def identify(client: Client, colonyname: str, prvkey: str) -> dict[str, Any]:
    """The approved executor whose key `prvkey` is; a clear error when there is none."""
    executorid = id_of_prvkey(prvkey)
    try:
        executor = client.rpc({"msgtype": "getexecutorbyidmsg", "colonyname": colonyname, "executorid": executorid},
                              prvkey)
    except ColoniesError as exc:
        if exc.status in (403, 404):
            raise ColoniesError(f"no approved executor with id {executorid} in colony {colonyname}: add one "
                                "with `colonies executor add --approve` (or approve it), or give the colony key "
                                "to register this one") from exc
        raise
    if executor.get("state") != APPROVED:
        state = STATES.get(executor.get("state"), executor.get("state"))
        raise ColoniesError(f"executor {executor.get('executorname')} is {state}, not approved: "
                            f"colonies executor approve --name {executor.get('executorname')}")
    return executor
