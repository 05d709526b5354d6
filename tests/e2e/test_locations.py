"""Locations over a real socket (raw signed requests: pycolonies 1.0.25 has no location calls):
CRUD, the colony cascade, the authorization refusals, bad input, and that executor
`locationname` / `conditions.locationname` matching is unchanged."""
from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests
from pycolonies import ColoniesConnectionError

from .conftest import SERVER_PRV, ColonyEnv, ServerProcess, make_colony, new_key, sign_envelope, uniq


def rpc(port: int, msg: dict[str, Any], prv: str) -> tuple[int, Any]:
    r = requests.post(f"http://127.0.0.1:{port}/api", json=sign_envelope(msg, prv), timeout=30)
    reply = r.json()
    assert reply["payloadtype"] == ("error" if reply["error"] else msg["msgtype"])
    return r.status_code, json.loads(base64.b64decode(reply["payload"]))


def add(port: int, colony: ColonyEnv, name: str, prv: str | None = None, **fields: Any) -> tuple[int, Any]:
    location = {"locationid": "", "name": name, "colonyname": colony.name, "description": "", "long": 0, "lat": 0,
                **fields}
    return rpc(port, {"msgtype": "addlocationmsg", "location": location}, prv or colony.colony_prv)


def ls(port: int, colony: ColonyEnv, prv: str) -> tuple[int, Any]:
    return rpc(port, {"msgtype": "getlocationsmsg", "colonyname": colony.name}, prv)


def get(port: int, colony: ColonyEnv, name: str, prv: str) -> tuple[int, Any]:
    return rpc(port, {"msgtype": "getlocationmsg", "colonyname": colony.name, "name": name}, prv)


def remove(port: int, colony: ColonyEnv, name: str, prv: str | None = None) -> tuple[int, Any]:
    return rpc(port, {"msgtype": "removelocationmsg", "colonyname": colony.name, "name": name},
               prv or colony.colony_prv)


def test_location_crud(colony: ColonyEnv, server: ServerProcess) -> None:
    port, member = server.port, colony.user.prv
    assert ls(port, colony, member) == (200, [])
    status, lab = add(port, colony, "lab1", description="ICE Datacenter", long=22.1567, lat=65.6115,
                      locationid="ab" * 32)
    assert status == 200
    assert lab == {"locationid": "ab" * 32, "name": "lab1", "colonyname": colony.name,
                   "description": "ICE Datacenter", "long": 22.1567, "lat": 65.6115}
    status, edge = add(port, colony, "edge", long=-73.9857, lat=40.7484)
    assert status == 200 and len(edge["locationid"]) == 64  # an empty id is generated
    assert ls(port, colony, member) == (200, [lab, edge])
    assert get(port, colony, "lab1", member) == (200, lab)
    status, dup = add(port, colony, "lab1")
    assert status == 400 and "already exists" in dup["message"]
    assert remove(port, colony, "lab1") == (200, {})
    assert get(port, colony, "lab1", member)[0] == 404
    status, gone = remove(port, colony, "lab1")
    assert status == 400 and "not found" in gone["message"]
    assert ls(port, colony, member) == (200, [edge])


def test_bad_input_is_400_and_stores_nothing(colony: ColonyEnv, server: ServerProcess) -> None:
    port = server.port
    for fields in ({"name": ""}, {"name": "  "}, {"long": 181}, {"lat": -90.5}, {"name": "x" * 300}):
        name = fields.pop("name", uniq("loc"))
        status, reply = add(port, colony, name, **fields)
        assert status == 400, (fields, reply)
    status, reply = rpc(port, {"msgtype": "addlocationmsg"}, colony.colony_prv)
    assert status == 400 and "location is nil" in reply["message"]
    status, reply = rpc(port, {"msgtype": "addlocationmsg", "location": {"name": "x", "colonyname": colony.name,
                                                                           "long": "east"}}, colony.colony_prv)
    assert status == 400
    status, reply = rpc(port, {"msgtype": "getlocationsmsg", "colonyname": "no-such-colony"}, colony.user.prv)
    assert status == 400 and "does not exists" in reply["message"]
    assert ls(port, colony, colony.user.prv) == (200, [])


def test_refusals(colony: ColonyEnv, server: ServerProcess) -> None:
    port = server.port
    assert add(port, colony, "site")[0] == 200
    other = make_colony(colony.client)
    members = {"user": colony.user.prv, "executor": colony.new_executor().prv}
    strangers = {"user of another colony": other.user.prv, "executor of another colony": other.new_executor().prv,
                 "another colony's owner": other.colony_prv, "server owner": SERVER_PRV}
    for who, prv in {**members, **strangers}.items():
        status, reply = add(port, colony, uniq("loc"), prv=prv)
        assert (status, reply["message"]) == (403, "Access denied, not colony owner"), who
        status, reply = remove(port, colony, "site", prv=prv)
        assert (status, reply["message"]) == (403, "Access denied, not colony owner"), who
    for who, prv in strangers.items():
        for status, reply in (ls(port, colony, prv), get(port, colony, "site", prv)):
            assert status == 403 and "not a member" in reply["message"], who
    # members may read, unapproved executors included (as Go: membership without approval)
    unapproved = colony.new_executor(approve=False).prv
    for prv in [*members.values(), unapproved]:
        assert [loc["name"] for loc in ls(port, colony, prv)[1]] == ["site"]
        assert get(port, colony, "site", prv)[1]["name"] == "site"
    assert [loc["name"] for loc in ls(port, colony, colony.user.prv)[1]] == ["site"]  # nothing changed


def test_removing_the_colony_removes_its_locations(colony: ColonyEnv, server: ServerProcess) -> None:
    port = server.port
    assert add(port, colony, "doomed")[0] == 200
    other = make_colony(colony.client)
    assert add(port, other, "doomed")[0] == 200  # same name, another colony
    colony.client.del_colony(colony.name, SERVER_PRV)
    # a new colony with the same name starts without locations
    colony.client.add_colony({"colonyid": colony.colony_id, "name": colony.name}, SERVER_PRV)
    assert ls(port, colony, colony.colony_prv)[0] == 403  # the owner is not a member; add a user
    fresh_user = colony.new_user()
    assert ls(port, colony, fresh_user.prv) == (200, [])
    assert [loc["name"] for loc in ls(port, other, other.user.prv)[1]] == ["doomed"]


def test_executor_locations_still_steer_assignment(colony: ColonyEnv, server: ServerProcess) -> None:
    """`conditions.locationname` matches the executor's `locationname` (ignoring case), whether or
    not a Location of that name is registered."""
    assert add(server.port, colony, "North")[0] == 200
    executors = {}
    for loc in ("north", "south"):
        prv, eid = new_key()
        name = uniq(f"exec-{loc}")
        colony.client.add_executor({"executorname": name, "executorid": eid, "colonyname": colony.name,
                                    "executortype": colony.default_type, "locationname": loc}, colony.colony_prv)
        colony.client.approve_executor(colony.name, name, colony.colony_prv)
        executors[loc] = prv
    for loc, other in (("NORTH", "south"), ("south", "north")):
        spec = {"funcname": "where", "maxexectime": 60, "maxretries": 0, "maxwaittime": -1,
                "conditions": {"colonyname": colony.name, "executortype": colony.default_type, "locationname": loc}}
        status, process = rpc(server.port, {"msgtype": "submitfuncspecmsg", "spec": spec}, colony.user.prv)
        assert status == 200
        with pytest.raises(ColoniesConnectionError, match="No process"):
            colony.client.assign(colony.name, 1, executors[other])
        assert colony.client.assign(colony.name, 10, executors[loc.lower()]).processid == process["processid"]
