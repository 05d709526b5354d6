"""Blueprints over a real socket with pycolonies 1.0.25 (CHANNELS_BLUEPRINTS §3, §4).

Definitions are the colony owner's; blueprints belong to members (and the owner). Each test works
in a fresh colony of the module's `dev --no-executor` server. Reconcile processes are taken by a
real executor loop of the handler type, through `assignprocessmsg`.
"""
from __future__ import annotations

import base64
import copy
import json
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from pycolonies import Colonies, ColoniesConnectionError

from .conftest import (
    REPO_ROOT,
    ColonyEnv,
    Member,
    ServerProcess,
    make_colony,
    new_key,
    poll_until,
    sign_envelope,
    uniq,
)


def definition(colony: ColonyEnv, kind: str, *, handler: dict[str, Any] | None = None,
               schema: dict[str, Any] | None = None, name: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"group": "test.io", "version": "v1", "names": {"kind": kind, "plural": kind.lower() + "s"},
                            "scope": "Namespaced"}
    if handler:
        spec["handler"] = handler
    if schema:
        spec["schema"] = schema
    return {"kind": "BlueprintDefinition", "metadata": {"name": name or uniq("def"), "colonyname": colony.name},
            "spec": spec}


def blueprint(colony: ColonyEnv, kind: str, spec: dict[str, Any], *, name: str | None = None,
              location: str = "") -> dict[str, Any]:
    md: dict[str, Any] = {"name": name or uniq("bp"), "colonyname": colony.name}
    if location:
        md["locationname"] = location
    return {"kind": kind, "metadata": md, "spec": spec}


def raw(client: Colonies, msg: dict[str, Any], prv: str) -> tuple[int, Any]:
    """POST a signed message; (HTTP status, decoded reply payload)."""
    r = requests.post(client.url, json=sign_envelope(msg, prv), timeout=10)
    return r.status_code, json.loads(base64.b64decode(r.json()["payload"]))


def processes_of(colony: ColonyEnv, executortype: str) -> list[Any]:
    return [p for p in colony.client.list_processes(colony.name, 100, 0, colony.user.prv) or []
            if p["spec"]["conditions"]["executortype"] == executortype]


@pytest.fixture
def owner_def(colony: ColonyEnv) -> tuple[ColonyEnv, Member, str]:
    """A colony with an approved member executor and a definition of a fresh kind (no handler)."""
    member = colony.new_executor()
    kind = uniq("Kind")
    colony.client.add_blueprint_definition(definition(colony, kind), colony.colony_prv)
    return colony, member, kind


# --- definitions ------------------------------------------------------------------------------
def test_definition_crud_by_the_colony_owner(colony: ColonyEnv) -> None:
    c, owner = colony.client, colony.colony_prv
    member = colony.new_executor()
    kind = uniq("Kind")
    d = definition(colony, kind, handler={"executorType": "rec", "functionName": "reconcile",
                                          "reconcileInterval": 30})
    added = c.add_blueprint_definition(d, owner)
    assert len(added["blueprintdefinitionid"]) == 64
    assert added["spec"]["names"]["kind"] == kind and added["spec"]["handler"]["reconcileInterval"] == 30
    assert added["metadata"]["createdAt"] == "0001-01-01T00:00:00Z"
    name = d["metadata"]["name"]
    for prv in (owner, member.prv, colony.user.prv):  # owner and members may read
        got = c.get_blueprint_definition(colony.name, name, prv)
        assert got == added
    listed = c.get_blueprint_definitions(colony.name, member.prv)
    assert [x["metadata"]["name"] for x in listed] == [name]
    with pytest.raises(ColoniesConnectionError, match="already exists"):  # 409
        c.add_blueprint_definition(d, owner)
    c.remove_blueprint_definition(colony.name, name, owner)
    with pytest.raises(ColoniesConnectionError, match="Blueprint definition not found"):
        c.get_blueprint_definition(colony.name, name, owner)
    assert c.get_blueprint_definitions(colony.name, owner) == []


def test_definition_with_instances_cannot_be_removed(owner_def) -> None:
    colony, member, kind = owner_def
    c = colony.client
    name = c.get_blueprint_definitions(colony.name, member.prv)[0]["metadata"]["name"]
    c.add_blueprint(blueprint(colony, kind, {"x": 1}, name="one"), member.prv)
    status, reply = raw(c, {"msgtype": "removeblueprintdefinitionmsg", "namespace": colony.name, "name": name},
                        colony.colony_prv)
    assert status == 409
    assert reply["message"] == f"cannot remove BlueprintDefinition '{name}': 1 blueprint(s) of kind '{kind}' still exist"
    assert len(c.get_blueprint_definitions(colony.name, member.prv)) == 1
    c.remove_blueprint(colony.name, "one", member.prv)
    c.remove_blueprint_definition(colony.name, name, colony.colony_prv)


# --- blueprints -------------------------------------------------------------------------------
def test_blueprint_crud_generation_and_history(owner_def) -> None:
    colony, member, kind = owner_def
    c, prv = colony.client, member.prv
    bp = blueprint(colony, kind, {"deviceType": "light", "power": False, "brightness": 0}, name="lamp")
    bp["handler"] = {"executortype": "ignored"}  # pycolonies' docs send it; Go drops it
    added = c.add_blueprint(bp, prv)
    assert "handler" not in added and "generation" not in added["metadata"] and "status" not in added
    got = c.get_blueprint(colony.name, "lamp", prv)
    assert got["blueprintid"] == added["blueprintid"] and got["spec"]["power"] is False

    bp["spec"] = {"deviceType": "light", "power": True, "brightness": 100}
    updated = c.update_blueprint(bp, prv)
    assert updated["blueprintid"] == added["blueprintid"] and updated["metadata"]["generation"] == 1
    assert c.update_blueprint(bp, prv)["metadata"]["generation"] == 1  # same spec: no bump
    assert c.update_blueprint(bp, prv, force_generation=True)["metadata"]["generation"] == 2

    c.update_blueprint_status(colony.name, "lamp", {"power": True, "lastSeen": "2024-01-01T12:00:00Z"}, prv)
    got = c.get_blueprint(colony.name, "lamp", colony.colony_prv)  # the owner may read
    assert got["status"] == {"power": True, "lastSeen": "2024-01-01T12:00:00Z"}
    assert got["metadata"]["generation"] == 2 and got["spec"]["brightness"] == 100

    hist = c.get_blueprint_history(added["blueprintid"], prv)
    assert [(h["changetype"], h["generation"]) for h in hist] == [("update", 2), ("update", 1), ("create", 0)]
    assert all(h["changedby"] == member.id and h["namespace"] == colony.name for h in hist)
    assert hist[2]["spec"]["power"] is False and len(hist[0]["historyid"]) == 36
    assert len(c.get_blueprint_history(added["blueprintid"], prv, limit=1)) == 1

    c.remove_blueprint(colony.name, "lamp", prv)
    with pytest.raises(ColoniesConnectionError, match="Blueprint not found"):
        c.get_blueprint(colony.name, "lamp", prv)
    with pytest.raises(ColoniesConnectionError, match="Blueprint not found"):
        c.get_blueprint_history(added["blueprintid"], prv)


def test_list_filters_by_kind_and_location(colony: ColonyEnv) -> None:
    c, owner = colony.client, colony.colony_prv
    user = colony.user
    k1, k2 = uniq("KindA"), uniq("KindB")
    for k in (k1, k2):
        c.add_blueprint_definition(definition(colony, k), owner)
    c.add_blueprint(blueprint(colony, k1, {}, name="a1", location="Lab"), user.prv)
    c.add_blueprint(blueprint(colony, k1, {}, name="a2"), user.prv)
    c.add_blueprint(blueprint(colony, k2, {}, name="b1", location="lab"), owner)  # the owner may add
    names = lambda xs: [x["metadata"]["name"] for x in xs]  # noqa: E731
    assert names(c.get_blueprints(colony.name, user.prv)) == ["a1", "a2", "b1"]
    assert names(c.get_blueprints(colony.name, user.prv, kind=k1)) == ["a1", "a2"]
    assert names(c.get_blueprints(colony.name, user.prv, kind=k1, location="LAB")) == ["a1"]
    assert names(c.get_blueprints(colony.name, user.prv, location="lab")) == ["a1", "a2", "b1"]  # Go: ignored
    assert c.get_blueprints(colony.name, user.prv, kind="Nope") == []
    assert c.get_blueprint(colony.name, "a1", user.prv)["metadata"]["locationname"] == "Lab"
    # the locations named by blueprints were created, once each
    c.add_blueprint(blueprint(colony, k2, {}, name="b2", location="lab"), user.prv)
    _, locs = raw(c, {"msgtype": "getlocationsmsg", "colonyname": colony.name}, user.prv)
    assert sorted((x["name"], x["description"]) for x in locs) == [("Lab", "Auto-created from blueprint a1"),
                                                                   ("lab", "Auto-created from blueprint b1")]


def test_schema_checks_and_bad_input_change_nothing(colony: ColonyEnv) -> None:
    c, owner = colony.client, colony.colony_prv
    member = colony.new_executor()
    kind = uniq("Kind")
    schema = {"type": "object", "required": ["image"],
              "properties": {"image": {"type": "string"}, "replicas": {"type": "number"},
                             "mode": {"type": "string", "enum": ["fast", "slow"]},
                             "ports": {"type": "array", "items": {"type": "number"}},
                             "env": {"type": "object", "properties": {"TZ": {"type": "string"}}}}}
    c.add_blueprint_definition(definition(colony, kind, schema=schema), owner)
    good = {"image": "nginx", "replicas": 2, "mode": "fast", "ports": [80], "env": {"TZ": "UTC"}, "extra": True}
    c.add_blueprint(blueprint(colony, kind, good, name="web"), member.prv)
    before = c.get_blueprint(colony.name, "web", member.prv)
    hist_before = c.get_blueprint_history(before["blueprintid"], member.prv)

    bad_specs = {
        "required field 'image' is missing": {"replicas": 1},
        "field 'image' must be a string, got float64": {"image": 5},
        "field 'replicas' must be a number, got string": {"image": "x", "replicas": "2"},
        r"field 'mode' must be one of \[fast slow\], got medium": {"image": "x", "mode": "medium"},
        r"field 'ports\[1\]' must be a number, got string": {"image": "x", "ports": [80, "443"]},
        "field 'env.TZ' must be a string, got bool": {"image": "x", "env": {"TZ": True}},
    }
    for text, spec in bad_specs.items():
        for msgtype in ("addblueprintmsg", "updateblueprintmsg"):
            status, reply = raw(c, {"msgtype": msgtype, "blueprint": blueprint(colony, kind, spec, name="web" if
                                    msgtype == "updateblueprintmsg" else "new")}, member.prv)
            assert status == 400, (msgtype, reply)
            assert reply["message"].startswith("blueprint validation failed: ")
            assert re.search(text, reply["message"]), reply["message"]

    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"msgtype": "addblueprintmsg"}, 400, "Failed to add blueprint, blueprint is nil"),
        ({"msgtype": "updateblueprintmsg"}, 400, "Failed to update blueprint, blueprint is nil"),
        ({"msgtype": "addblueprintmsg", "blueprint": blueprint(colony, "", good)}, 400, "blueprint kind is required"),
        ({"msgtype": "addblueprintmsg", "blueprint": blueprint(colony, "Unknown", good)}, 400,
         f"BlueprintDefinition for kind 'Unknown' not found in namespace '{colony.name}'"),
        ({"msgtype": "addblueprintmsg", "blueprint": blueprint(colony, kind, good, name="web")}, 409,
         f"blueprint with name 'web' already exists in colony '{colony.name}'"),
        ({"msgtype": "addblueprintmsg", "blueprint": {"kind": kind, "metadata": {"colonyname": colony.name},
                                                      "spec": good}}, 400,
         "metadata.name is required"),
        ({"msgtype": "addblueprintmsg", "blueprint": {**blueprint(colony, kind, good), "spec": [1]}}, 400,
         "invalid JSON"),
        ({"msgtype": "addblueprintmsg", "blueprint": {**blueprint(colony, kind, good),
                                                      "metadata": {"name": "t", "colonyname": colony.name,
                                                                   "createdAt": "yesterday"}}}, 400, "invalid JSON"),
        ({"msgtype": "addblueprintmsg", "blueprint": blueprint(colony, kind, good, location="x" * 300)}, 400,
         "location name longer than 256 characters"),
        ({"msgtype": "updateblueprintmsg", "blueprint": blueprint(colony, kind, good, name="ghost")}, 404,
         f"blueprint 'ghost' not found in namespace '{colony.name}'"),
        ({"msgtype": "updateblueprintstatusmsg", "colonyname": colony.name, "blueprintname": "web",
          "status": [1, 2]}, 400, "invalid JSON"),
        ({"msgtype": "updateblueprintstatusmsg", "colonyname": colony.name, "blueprintname": "ghost",
          "status": {}}, 404, "Blueprint not found"),
        ({"msgtype": "getblueprintmsg", "namespace": colony.name, "name": "ghost"}, 404, "Blueprint not found"),
        ({"msgtype": "removeblueprintmsg", "namespace": colony.name, "name": "ghost"}, 404, "Blueprint not found"),
        ({"msgtype": "reconcileblueprintmsg", "namespace": colony.name, "name": "ghost"}, 404, "Blueprint not found"),
        ({"msgtype": "reconcileblueprintmsg", "namespace": colony.name, "name": "web"}, 400,
         "Blueprint has no handler with executor type defined"),
        ({"msgtype": "reconcileblueprintmsg", "namespace": colony.name, "name": "web", "force": "yes"}, 400,
         "invalid JSON"),
        ({"msgtype": "getblueprinthistorymsg", "blueprintid": "0" * 64}, 404, "Blueprint not found"),
        ({"msgtype": "getblueprinthistorymsg", "blueprintid": before["blueprintid"], "limit": "x"}, 400,
         "invalid JSON"),
        ({"msgtype": "getblueprintsmsg", "namespace": colony.name, "kind": 7}, 400, "invalid JSON"),
    ]
    for msg, want_status, text in cases:
        status, reply = raw(c, msg, member.prv)
        assert (status, text in str(reply.get("message"))) == (want_status, True), (text, msg)

    owner_cases: list[tuple[dict[str, Any], int, str]] = [
        ({"msgtype": "addblueprintdefinitionmsg"}, 400, "blueprint definition is nil"),
        ({"msgtype": "addblueprintdefinitionmsg", "blueprintdefinition": {"metadata": {"colonyname": colony.name}}}, 400,
         "metadata.name is required"),
        ({"msgtype": "addblueprintdefinitionmsg", "blueprintdefinition": {"metadata": {"name": "x"}}}, 403,
         "Empty Colony name"),
        ({"msgtype": "addblueprintdefinitionmsg", "blueprintdefinition": {**definition(colony, "K"), "spec": 3}},
         400, "invalid JSON"),
        ({"msgtype": "addblueprintdefinitionmsg", "blueprintdefinition": definition(
            colony, "K", handler={"executorType": "rec", "functionName": "f", "reconcileInterval": -5})}, 400,
         "reconcileInterval must be 0 (60 s) to"),
        ({"msgtype": "addblueprintdefinitionmsg", "blueprintdefinition": definition(
            colony, "K", handler={"executorType": "rec", "functionName": "f", "reconcileInterval": 2**62})}, 400,
         "reconcileInterval must be 0 (60 s) to"),
        ({"msgtype": "addblueprintdefinitionmsg", "blueprintdefinition": definition(
            colony, "K", handler={"executorType": "rec", "functionName": "f", "reconcileInterval": 2**63})}, 400,
         "out of the int64 range"),
        ({"msgtype": "getblueprintdefinitionmsg", "colonyname": colony.name, "name": "ghost"}, 404,
         "Blueprint definition not found"),
        ({"msgtype": "removeblueprintdefinitionmsg", "namespace": colony.name, "name": "ghost"}, 404,
         f"BlueprintDefinition 'ghost' not found in namespace '{colony.name}'"),
        ({"msgtype": "getblueprintdefinitionsmsg", "colonyname": 5}, 400, "invalid JSON"),
    ]
    for msg, want_status, text in owner_cases:
        status, reply = raw(c, msg, owner)
        assert (status, text in str(reply.get("message"))) == (want_status, True), (text, msg)

    # nothing changed
    assert c.get_blueprint(colony.name, "web", member.prv) == before
    assert c.get_blueprint_history(before["blueprintid"], member.prv) == hist_before
    assert [b["metadata"]["name"] for b in c.get_blueprints(colony.name, member.prv)] == ["web"]
    assert len(c.get_blueprint_definitions(colony.name, owner)) == 1
    assert processes_of(colony, "rec") == []
    assert raw(c, {"msgtype": "getlocationsmsg", "colonyname": colony.name}, member.prv) == (200, [])


# --- authorization ----------------------------------------------------------------------------
MEMBER_ONLY = ("updateblueprintstatusmsg", "reconcileblueprintmsg")


def test_every_message_refuses_outsiders(client: Colonies) -> None:
    colony = make_colony(client)
    other = make_colony(client)
    member = colony.new_executor()
    pending = colony.new_executor(approve=False)
    kind = uniq("Kind")
    d = definition(colony, kind, handler={"executorType": "rec", "functionName": "reconcile"})
    client.add_blueprint_definition(d, colony.colony_prv)
    bp = client.add_blueprint(blueprint(colony, kind, {"v": 1}, name="bp"), member.prv)
    before_procs = len(processes_of(colony, "rec"))
    dname = d["metadata"]["name"]
    msgs = {
        "addblueprintdefinitionmsg": {"blueprintdefinition": definition(colony, uniq("K"))},
        "getblueprintdefinitionmsg": {"colonyname": colony.name, "name": dname},
        "getblueprintdefinitionsmsg": {"colonyname": colony.name},
        "removeblueprintdefinitionmsg": {"namespace": colony.name, "name": dname},
        "addblueprintmsg": {"blueprint": blueprint(colony, kind, {"v": 2}, name="intruder")},
        "getblueprintmsg": {"namespace": colony.name, "name": "bp"},
        "getblueprintsmsg": {"namespace": colony.name},
        "updateblueprintmsg": {"blueprint": blueprint(colony, kind, {"v": 3}, name="bp")},
        "removeblueprintmsg": {"namespace": colony.name, "name": "bp"},
        "updateblueprintstatusmsg": {"colonyname": colony.name, "blueprintname": "bp", "status": {"hacked": True}},
        "reconcileblueprintmsg": {"namespace": colony.name, "name": "bp"},
        "getblueprinthistorymsg": {"blueprintid": bp["blueprintid"]},
    }
    stranger = new_key()[0]
    outsiders = {
        "a key that is no member": stranger,
        "an executor of another colony": other.new_executor().prv,
        "a user of another colony": other.new_user().prv,
        "the owner of another colony": other.colony_prv,
        "an executor of this colony that is not approved": pending.prv,
        "the server owner": "fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d",
    }
    for who, prv in outsiders.items():
        for msgtype, body in msgs.items():
            status, reply = raw(client, {"msgtype": msgtype, **copy.deepcopy(body)}, prv)
            assert status == 403, (who, msgtype, reply)
            want = (f"Access denied, not a member of Colony with name {colony.name}" if msgtype in MEMBER_ONLY
                    else "Access denied, not colony owner")
            assert reply["message"] == want, (who, msgtype, reply)
    # the owner-only messages refuse members; the member-only ones refuse the owner
    for msgtype in ("addblueprintdefinitionmsg", "removeblueprintdefinitionmsg"):
        for prv in (member.prv, colony.user.prv):
            status, reply = raw(client, {"msgtype": msgtype, **msgs[msgtype]}, prv)
            assert (status, reply["message"]) == (403, "Access denied, not colony owner"), msgtype
    for msgtype in ("updateblueprintstatusmsg", "reconcileblueprintmsg"):
        status, reply = raw(client, {"msgtype": msgtype, **msgs[msgtype]}, colony.colony_prv)
        assert (status, reply["message"]) == (403, f"Access denied, not a member of Colony with name {colony.name}")
    # nothing changed
    assert client.get_blueprint(colony.name, "bp", member.prv) == bp
    assert [x["metadata"]["name"] for x in client.get_blueprints(colony.name, member.prv)] == ["bp"]
    assert [x["metadata"]["name"] for x in client.get_blueprint_definitions(colony.name, member.prv)] == [dname]
    assert len(client.get_blueprint_history(bp["blueprintid"], member.prv)) == 1
    assert len(processes_of(colony, "rec")) == before_procs


# --- reconciliation ---------------------------------------------------------------------------
def test_reconcile_processes_reach_the_handler_executor(colony: ColonyEnv) -> None:
    c, owner = colony.client, colony.colony_prv
    rtype = uniq("reconciler")
    rprv, rid = new_key()
    rname = uniq("rec")
    c.add_executor({"executorname": rname, "executorid": rid, "colonyname": colony.name,
                    "executortype": rtype, "locationname": "edge"}, owner)  # processes go to executors at "edge"
    c.approve_executor(colony.name, rname, owner)
    reconciler = Member(rname, rprv, rid, rtype)
    member = colony.new_executor()
    kind = uniq("Kind")
    c.add_blueprint_definition(definition(colony, kind, handler={"executorType": rtype, "functionName": "reconcile",
                                                                  "reconcileInterval": 1}), owner)
    seen: list[tuple[str, dict[str, Any], str]] = []
    errors: list[Any] = []
    stop = threading.Event()

    def reconciler_loop() -> None:
        """What a reconciler does: take a process, read the blueprint, report its status, close.

        Raw RPC, because pycolonies' Process model refuses the bool kwarg `force: true` of Go."""
        while not stop.is_set():
            status, p = raw(c, {"msgtype": "assignprocessmsg", "colonyname": colony.name, "timeout": 1},
                            reconciler.prv)
            if status != 200:
                continue
            spec = p["spec"]
            seen.append((spec["funcname"], spec["kwargs"], spec["conditions"]["locationname"]))
            if spec["funcname"] == "reconcile" and "blueprintName" in spec["kwargs"]:
                c.update_blueprint_status(colony.name, spec["kwargs"]["blueprintName"], {"seen": True},
                                          reconciler.prv)
            status, reply = raw(c, {"msgtype": "closesuccessfulmsg", "processid": p["processid"], "out": []},
                                reconciler.prv)
            if status != 200:
                errors.append(reply)

    thread = threading.Thread(target=reconciler_loop, daemon=True)
    thread.start()
    try:
        bp = blueprint(colony, kind, {"replicas": 1}, name="dep", location="edge")
        c.add_blueprint(bp, member.prv)
        poll_until(lambda: ("reconcile", {"kind": kind, "blueprintName": "dep"}, "edge") in seen, 20,
                   what="the reconcile process of the add")
        poll_until(lambda: c.get_blueprint(colony.name, "dep", member.prv).get("status") == {"seen": True}, 20,
                   what="the status reported by the reconciler")
        cron = next(x for x in c.get_crons(colony.name, 100, member.prv) if x["name"] == f"reconcile-{kind}-edge")
        assert cron["interval"] == 1 and cron["waitforprevprocessgraph"] is True
        assert json.loads(cron["workflowspec"])["functionspecs"][0]["kwargs"] == {"kind": kind}
        poll_until(lambda: ("reconcile", {"kind": kind}, "edge") in seen, 20, what="a periodic reconcile run")

        bp["spec"] = {"replicas": 3}
        c.update_blueprint(bp, member.prv)
        poll_until(lambda: sum(1 for s in seen if s[1].get("blueprintName") == "dep") == 2, 20,
                   what="the reconcile process of the update")
        forced = c.reconcile_blueprint(colony.name, "dep", member.prv, force=True)
        assert forced["spec"]["kwargs"] == {"kind": kind, "blueprintName": "dep", "force": True}
        assert forced["spec"]["nodename"] == f"{rtype}-reconcile" and forced["initiatorid"] == member.id
        poll_until(lambda: ("reconcile", {"kind": kind, "blueprintName": "dep", "force": True}, "edge") in seen, 20,
                   what="the requested reconcile")
        assert c.get_blueprint(colony.name, "dep", member.prv)["metadata"]["generation"] == 2

        c.remove_blueprint(colony.name, "dep", member.prv)
        poll_until(lambda: ("cleanup", {"kind": kind, "blueprintName": "dep"}, "edge") in seen, 20,
                   what="the cleanup process")
        assert not [x for x in c.get_crons(colony.name, 100, member.prv) if x["name"].startswith("reconcile-")]
    finally:
        stop.set()
        thread.join(15)
    assert not errors


def test_one_reconcile_cron_per_kind_and_location(colony: ColonyEnv) -> None:
    c, owner = colony.client, colony.colony_prv
    member = colony.new_executor()
    kind = uniq("Kind")
    c.add_blueprint_definition(definition(colony, kind, handler={"executorType": "rec", "functionName": "sync"}), owner)
    crons = lambda: sorted(x["name"] for x in c.get_crons(colony.name, 100, member.prv) or [])  # noqa: E731
    one = blueprint(colony, kind, {"v": 1}, name="one", location="a")
    c.add_blueprint(one, member.prv)
    c.add_blueprint(blueprint(colony, kind, {"v": 1}, name="two", location="b"), owner)
    c.add_blueprint(blueprint(colony, kind, {"v": 1}, name="three", location="b"), member.prv)
    assert crons() == [f"reconcile-{kind}-a", f"reconcile-{kind}-b"]
    cron = next(x for x in c.get_crons(colony.name, 100, member.prv) if x["name"] == f"reconcile-{kind}-a")
    assert cron["interval"] == 60 and cron["initiatorname"] == member.name  # Go's fixed period is the default
    one["metadata"]["locationname"] = "b"  # moving the last blueprint at "a" takes its periodic run along
    c.update_blueprint(one, member.prv)
    assert crons() == [f"reconcile-{kind}-b"]
    for name in ("one", "two"):
        c.remove_blueprint(colony.name, name, member.prv)
        assert crons() == [f"reconcile-{kind}-b"]
    c.remove_blueprint(colony.name, "three", member.prv)
    assert crons() == []
    kinds = [(p["spec"]["funcname"], p["spec"]["kwargs"].get("blueprintName"))
             for p in c.list_processes(colony.name, 100, 0, member.prv)]
    assert sorted(kinds) == sorted([("sync", "one"), ("sync", "two"), ("sync", "three"), ("cleanup", "one"),
                                    ("cleanup", "two"), ("cleanup", "three")])  # the move changed no spec


def test_definition_without_handler_submits_nothing(owner_def) -> None:
    colony, member, kind = owner_def
    c = colony.client
    c.add_blueprint(blueprint(colony, kind, {"a": 1}, name="quiet"), member.prv)
    c.update_blueprint(blueprint(colony, kind, {"a": 2}, name="quiet"), member.prv)
    c.remove_blueprint(colony.name, "quiet", member.prv)
    assert c.list_processes(colony.name, 100, 0, member.prv) == []
    assert c.get_crons(colony.name, 100, member.prv) in ([], None)


def test_removing_the_colony_removes_its_blueprints(client: Colonies) -> None:
    colony = make_colony(client)
    member = colony.new_executor()
    kind = uniq("Kind")
    name = uniq("def")
    client.add_blueprint_definition(definition(colony, kind, name=name), colony.colony_prv)
    client.add_blueprint(blueprint(colony, kind, {}, name="b"), member.prv)
    client.del_colony(colony.name, "fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d")
    again = ColonyEnv(client, colony.name, colony.colony_prv, colony.colony_id, colony.default_type)
    client.add_colony({"colonyid": colony.colony_id, "name": colony.name},
                      "fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d")
    assert client.get_blueprint_definitions(again.name, again.colony_prv) == []
    assert client.get_blueprints(again.name, again.colony_prv) == []


# --- CLI --------------------------------------------------------------------------------------
def test_cli_blueprint_commands(colony: ColonyEnv, server: ServerProcess, tmp_path: Path) -> None:
    member = colony.new_executor()
    env = {"COLONIES_SERVER_HOST": "127.0.0.1", "COLONIES_SERVER_PORT": str(server.port), "COLONIES_TLS": "false",
           "COLONIES_COLONY_NAME": colony.name, "COLONIES_PRVKEY": member.prv,
           "COLONIES_COLONY_PRVKEY": colony.colony_prv, "PATH": "/usr/bin:/bin"}

    def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([sys.executable, "colonies.py", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                           text=True, timeout=60)
        assert (r.returncode == 0) == ok, (args, r.stdout, r.stderr)
        return r

    kind = uniq("Kind")
    dfile, bfile = tmp_path / "def.json", tmp_path / "bp.json"
    dfile.write_text(json.dumps({"kind": "BlueprintDefinition", "metadata": {"name": "lamps"},
                                 "spec": {"names": {"kind": kind}, "handler": {"executorType": "rec",
                                                                               "functionName": "reconcile"}}}))
    bfile.write_text(json.dumps({"kind": kind, "metadata": {"name": "lamp1"},
                                 "spec": {"power": False, "env": {"TZ": "UTC"}}}))
    assert "BlueprintDefinition added" in cli("blueprint", "definition", "add", "--spec", str(dfile)).stderr
    out = cli("blueprint", "definition", "ls").stdout
    assert "lamps" in out and kind in out and "reconcile" in out
    assert "rec" in cli("blueprint", "definition", "get", "--name", "lamps").stdout
    assert json.loads(cli("blueprint", "definition", "get", "--name", "lamps", "--json").stdout)["kind"] == \
        "BlueprintDefinition"
    cli("blueprint", "add", "--spec", str(bfile))
    out = cli("blueprint", "ls").stdout
    assert "lamp1" in out and kind in out
    assert json.loads(cli("blueprint", "ls", "--kind", kind, "--json").stdout)[0]["metadata"]["name"] == "lamp1"
    r = cli("blueprint", "set", "--name", "lamp1", "--key", "spec.power", "--value", "true")
    assert "Blueprint field updated" in r.stderr and "Reconciliation triggered" in r.stderr
    cli("blueprint", "set", "--name", "lamp1", "--key", "nope", "--value", "1", ok=False)
    got = json.loads(cli("blueprint", "get", "--name", "lamp1", "--json").stdout)
    assert got["spec"]["power"] is True and got["metadata"]["generation"] == 1
    assert "lamp1" in cli("blueprint", "get", "--name", "lamp1").stdout
    bfile.write_text(json.dumps({"kind": kind, "metadata": {"name": "lamp1"}, "spec": {"power": False}}))
    assert "Blueprint updated" in cli("blueprint", "update", "--spec", str(bfile)).stderr
    r = cli("blueprint", "reconcile", "--name", "lamp1", "--force")
    assert "Reconciliation process submitted: " in r.stdout
    hist = json.loads(cli("blueprint", "history", "--name", "lamp1", "--json").stdout)
    assert [h["changetype"] for h in hist] == ["update", "update", "create"]
    out = cli("blueprint", "history", "--name", "lamp1").stdout
    assert "create" in out and f"executor: {member.name}" in out
    detail = cli("blueprint", "history", "--name", "lamp1", "--generation", "0").stdout
    assert "power" in detail and "create" in detail
    r = cli("blueprint", "definition", "remove", "--name", "lamps", ok=False)
    assert "still exist" in r.stderr
    cli("blueprint", "remove", "--name", "lamp1")
    cli("blueprint", "definition", "remove", "--name", "lamps")
    assert "No blueprint definitions found" in cli("blueprint", "definition", "ls").stderr
    procs = [p for p in colony.client.list_processes(colony.name, 100, 0, member.prv)
             if p["spec"]["conditions"]["executortype"] == "rec" and not p["processgraphid"]]  # not cron runs
    assert sorted(p["spec"]["funcname"] for p in procs) == ["cleanup", "reconcile", "reconcile", "reconcile", "reconcile",
                                                      "reconcile"]


def test_example_light_reconciler(colony: ColonyEnv, server: ServerProcess) -> None:
    """examples/python/light_reconciler.py driven as its docstring says, with the example specs."""
    member = colony.new_executor()
    env = {"COLONIES_SERVER_HOST": "127.0.0.1", "COLONIES_SERVER_PORT": str(server.port), "COLONIES_TLS": "false",
           "COLONIES_SERVER_TLS": "false", "COLONIES_COLONY_NAME": colony.name, "COLONIES_PRVKEY": member.prv,
           "COLONIES_COLONY_PRVKEY": colony.colony_prv, "PATH": "/usr/bin:/bin"}
    reconciler = subprocess.Popen([sys.executable, "examples/python/light_reconciler.py"], cwd=REPO_ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    c = colony.client
    try:
        assert reconciler.stdout is not None and "registered" in reconciler.stdout.readline()

        def cli(*args: str) -> None:
            r = subprocess.run([sys.executable, "colonies.py", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                               text=True, timeout=60)
            assert r.returncode == 0, (args, r.stdout, r.stderr)

        cli("blueprint", "definition", "add", "--spec", "examples/blueprints/light-definition.json")
        cli("blueprint", "add", "--spec", "examples/blueprints/light.json")
        status = poll_until(lambda: c.get_blueprint(colony.name, "kitchen-light", member.prv).get("status"), 30,
                            what="the status reported by the example reconciler")
        assert status["power"] is True and status["brightness"] == 80 and status["lastSeen"].endswith("Z")
        cli("blueprint", "set", "--name", "kitchen-light", "--key", "brightness", "--value", "30")
        poll_until(lambda: c.get_blueprint(colony.name, "kitchen-light", member.prv)["status"]["brightness"] == 30,
                   30, what="the new brightness reported")
        cli("blueprint", "reconcile", "--name", "kitchen-light", "--force")
        cli("blueprint", "remove", "--name", "kitchen-light")

        def done() -> list[str]:
            return sorted(p["spec"]["funcname"] for p in c.list_processes(colony.name, 100, 2, member.prv) or [])
        poll_until(lambda: "cleanup" in done() and done().count("reconcile") >= 4, 30,
                   what="every reconcile and the cleanup closed successfully")
        assert c.list_processes(colony.name, 100, 3, member.prv) in ([], None)  # none failed
    finally:
        reconciler.terminate()
        out, _ = reconciler.communicate(timeout=15)
    assert "unregistered" in out and "switching it off" in out
