"""Who an executor is (layer L5): register itself with the colony owner's key, or find out which
approved executor a private key belongs to.
"""
from __future__ import annotations

import socket
import uuid

from ..client import Client
from ..crypto import generate_prvkey, id_of_prvkey
from ..errors import BadRequest, ColoniesError
from ..models.executor import Executor
from ..rpc import messages as m

APPROVED = 1
STATES = {0: "pending", 1: "approved", 2: "rejected", 3: "unregistered"}


def default_name(executortype: str) -> str:
    """`<type>-<host>-<6 hex>`: unique, and says where it runs."""
    host = socket.gethostname().split(".")[0] or "host"
    return f"{executortype}-{host}-{uuid.uuid4().hex[:6]}"


def register_self(client: Client, colonyname: str, colony_prvkey: str, name: str, executortype: str,
                  prvkey: str | None = None) -> str:
    """Add and approve executor `name` under a new key, or again under `prvkey` (the key it was
    registered with, e.g. after the server unregistered it as stale). Returns the private key.

    Names are never reused (unless the server allows re-registration): a name that exists under
    another key is a clear error."""
    again = prvkey is not None
    prvkey = prvkey or generate_prvkey()
    executor = Executor(executorid=id_of_prvkey(prvkey), executorname=name, executortype=executortype,
                        colonyname=colonyname)
    try:
        client.rpc(m.AddExecutorMsg(executor=executor), colony_prvkey)
    except BadRequest as exc:
        if "already exists" not in str(exc) or not again:
            if "already exists" in str(exc):
                raise ColoniesError(f"an executor named {name} is already registered in colony {colonyname}, and "
                                    "names are not reused: leave --name out for a unique one, or run as that "
                                    "executor with its key (COLONIES_PRVKEY, without COLONIES_COLONY_PRVKEY)") from exc
            raise
    client.rpc(m.ApproveExecutorMsg(colonyname=colonyname, executorname=name), colony_prvkey)
    if again:
        identify(client, colonyname, prvkey)  # the name is still ours
    return prvkey


def unregister(client: Client, colonyname: str, colony_prvkey: str, name: str) -> None:
    client.rpc(m.RemoveExecutorMsg(colonyname=colonyname, executorname=name), colony_prvkey, timeout=10)


def identify(client: Client, colonyname: str, prvkey: str) -> Executor:
    """The approved executor whose key `prvkey` is; a clear error when there is none."""
    executorid = id_of_prvkey(prvkey)
    try:
        executor = client.rpc(m.GetExecutorByIdMsg(colonyname=colonyname, executorid=executorid), prvkey,
                              reply=Executor)
    except ColoniesError as exc:
        if exc.status in (403, 404):
            raise ColoniesError(f"no approved executor with id {executorid} in colony {colonyname}: add one "
                                "with `colonies executor add --approve` (or approve it), or give the colony key "
                                "to register this one") from exc
        raise
    if executor.state != APPROVED:
        state = STATES.get(executor.state, executor.state)
        raise ColoniesError(f"executor {executor.executorname} is {state}, not approved: "
                            f"colonies executor approve --name {executor.executorname}")
    return executor
