"""Every entry of the dispatch table (`server/dispatch.py` HANDLERS), walked in process: each message
is refused, with the ColonyOS error envelope and nothing changed, when it comes unsigned, from an
unknown key, or from a member of another colony; and a payload that is not a message gives a 400.

The messages are built from their Structs: string fields take the ids and names of real objects
in the target colony (a process, a workflow, a cron, a generator, a file, a snapshot, ...), so a
refusal is the authorization rule at work, not a lookup that found nothing. A message added to
HANDLERS is walked without any change here, except that it needs a RULES entry (who may send it):
the test fails without one.
"""
from __future__ import annotations

import json
import types
import typing
from typing import Any

import msgspec
import pytest

from colonies_pkg.crypto import sign
from colonies_pkg.rpc.messages import UNSIGNED
from colonies_pkg.server.dispatch import HANDLERS

from .conftest import Api, Colony, Key, assert_error, assert_ok, b64, new_colony, sign_envelope

MSGTYPES = sorted(cls.__struct_config__.tag for cls in HANDLERS)

# Who may send what (PROTOCOL §3): the roles that get past authorization; every other role gets 403.
SERVER_OWNER, COLONY_OWNER = ("server",), ("owner",)
MEMBER, EXECUTOR = ("user", "executor"), ("executor",)  # EXECUTOR: the colony's (assigned) executor
RULES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(["addcolonymsg", "changeserveridmsg", "getclustermsg", "getcoloniesmsg", "getstatisticsmsg",
                     "removecolonymsg"], SERVER_OWNER),
    **dict.fromkeys(["addexecutormsg", "addusermsg", "approveexecutormsg", "changecolonyidmsg", "pauseassignmentsmsg",
                     "rejectexecutormsg", "removeallprocessesmsg", "removeallprocessgraphsmsg", "removeexecutormsg",
                     "removeusermsg", "resumeassignmentsmsg"], COLONY_OWNER),
    **dict.fromkeys(["addattributemsg", "addexecutorlogmsg", "addfunctionmsg", "addlogmsg", "assignprocessmsg",
                     "changeexecutoridmsg", "closefailedmsg", "closesuccessfulmsg", "removefunctionmsg",
                     "reportallocationmsg", "setoutputmsg", "updateexecutormsg"], EXECUTOR),
    **dict.fromkeys(["addchildmsg", "addcronmsg", "addfilemsg", "addgeneratormsg", "cancelprocessgraphmsg",
                     "cancelprocessmsg", "changeuseridmsg", "createsnapshotmsg", "getattributemsg", "getcolonymsg",
                     "getcolonystatsmsg", "getcronmsg", "getcronsmsg", "getexecutorbyidmsg", "getexecutormsg",
                     "getexecutorsmsg", "getfilelabelsmsg", "getfilemsg", "getfilesmsg", "getfunctionsmsg",
                     "getgeneratormsg", "getgeneratorsmsg", "getlogsmsg", "getpausestatusmsg", "getprocessesmsg",
                     "getprocessgraphmsg", "getprocessgraphsmsg", "getprocesshistmsg", "getprocessmsg",
                     "getsnapshotmsg", "getsnapshotsmsg", "getuserbyidmsg", "getusermsg", "getusersmsg",
                     "packgeneratormsg", "removeallsnapshotmsg", "removecronmsg", "removefilemsg", "removegeneratormsg",
                     "removeprocessgraphmsg", "removeprocessmsg", "removesnapshotmsg", "resolvegeneratormsg",
                     "runcronmsg", "searchlogsmsg", "submitfuncspecmsg", "submitworkflowspecmsg"], MEMBER),
    **dict.fromkeys(["addlocationmsg", "removelocationmsg"], COLONY_OWNER),
    **dict.fromkeys(["getlocationmsg", "getlocationsmsg", "channelappendmsg", "channelreadmsg"], MEMBER),
    # blueprints (CHANNELS_BLUEPRINTS.md §2): definitions are the colony owner's; the status update and
    # reconcile are for members only; the rest is open to a member or the colony owner
    **dict.fromkeys(["addblueprintdefinitionmsg", "removeblueprintdefinitionmsg"], COLONY_OWNER),
    **dict.fromkeys(["updateblueprintstatusmsg", "reconcileblueprintmsg"], MEMBER),
    **dict.fromkeys(["addblueprintmsg", "getblueprintdefinitionmsg", "getblueprintdefinitionsmsg",
                     "getblueprinthistorymsg", "getblueprintmsg", "getblueprintsmsg", "removeblueprintmsg",
                     "updateblueprintmsg"], COLONY_OWNER + MEMBER),
}
BY_TAG = {cls.__struct_config__.tag: cls for cls in HANDLERS}
SIGNED = [t for t in MSGTYPES if t not in UNSIGNED]


def _struct_type(tp: Any) -> type[msgspec.Struct] | None:
    """The Struct in `X`, `X | None` or `Optional[X]`, if any."""
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return tp
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        for arg in typing.get_args(tp):
            found = _struct_type(arg)
            if found is not None:
                return found
    return None


def build(cls: type[msgspec.Struct], values: dict[str, Any]) -> dict[str, Any]:
    """A JSON object for `cls`: known field names from `values`, nested Structs built the same way."""
    out: dict[str, Any] = {}
    for f in msgspec.structs.fields(cls):
        nested = _struct_type(f.type)
        if f.encode_name in values:
            out[f.encode_name] = values[f.encode_name]
        elif nested is not None:
            out[f.encode_name] = build(nested, values)
    return out


def message(msgtype: str, values: dict[str, Any]) -> dict[str, Any]:
    return {"msgtype": msgtype, **build(BY_TAG[msgtype], values)}


class World:
    """Colony `target` with one object of every kind, and `other`, a second colony."""

    def __init__(self, api: Api, other: bool = True) -> None:
        self.api = api
        self.target = new_colony(api)
        self.other = new_colony(api) if other else self.target
        self.values = self._populate(self.target)

    def key(self, role: str) -> Key:
        c = self.target
        return {"server": self.api.owner, "owner": c.owner, "user": c.user, "executor": c.executor}[role]

    def _populate(self, c: Colony) -> dict[str, Any]:
        api = self.api
        conditions = {"colonyname": c.name, "executortype": c.executortype}
        waiting = c.submit("echo")
        running = c.submit("echo")
        assigned = api.ok({"msgtype": "assignprocessmsg", "colonyname": c.name, "timeout": 1}, c.executor.prv)
        assert assigned["processid"] in (waiting["processid"], running["processid"])
        graph = api.ok({"msgtype": "submitworkflowspecmsg", "spec": {"colonyname": c.name, "functionspecs": [
            {"nodename": "a", "funcname": "echo", "conditions": {**conditions, "dependencies": []}}]}}, c.user.prv)
        cron = api.ok({"msgtype": "addcronmsg", "cron": {
            "name": "cron", "colonyname": c.name, "interval": 3600,
            "workflowspec": json.dumps({"colonyname": c.name, "functionspecs": [
                {"nodename": "a", "funcname": "echo", "conditions": conditions}]})}}, c.user.prv)
        generator = api.ok({"msgtype": "addgeneratormsg", "generator": {
            "name": "gen", "colonyname": c.name, "trigger": 10, "timeout": 60,
            "workflowspec": json.dumps({"colonyname": c.name, "functionspecs": [
                {"nodename": "a", "funcname": "echo", "conditions": conditions}]})}}, c.user.prv)
        function = api.ok({"msgtype": "addfunctionmsg", "fun": {
            "executorname": c.executorname, "executortype": c.executortype, "colonyname": c.name,
            "funcname": "echo"}}, c.executor.prv)
        sha = "ab" * 32
        ref = {"protocol": "s3", "s3object": {"server": "localhost:9000", "port": 9000, "bucket": "b", "object": sha}}
        file = api.ok({"msgtype": "addfilemsg", "file": {
            "colonyname": c.name, "label": "/data", "name": "x.txt", "size": 1, "checksum": sha,
            "checksumalg": "SHA256", "ref": ref}}, c.user.prv)
        snapshot = api.ok({"msgtype": "createsnapshotmsg", "colonyname": c.name, "label": "/data", "name": "snap"},
                          c.user.prv)
        attribute = api.ok({"msgtype": "addattributemsg", "attribute": {
            "targetid": assigned["processid"], "targetcolonyname": c.name, "attributetype": 1, "key": "k",
            "value": "v"}}, c.executor.prv)
        api.ok({"msgtype": "addlogmsg", "processid": assigned["processid"], "message": "hello"}, c.executor.prv)
        kind = f"Kind{c.name.replace('-', '')}"
        api.ok({"msgtype": "addblueprintdefinitionmsg", "blueprintdefinition": {
            "kind": "BlueprintDefinition", "metadata": {"name": "def", "colonyname": c.name},
            "spec": {"group": "test.io", "version": "v1", "names": {"kind": kind, "plural": kind.lower() + "s"},
                     "scope": "Namespaced"}}}, c.owner.prv)
        blueprint = api.ok({"msgtype": "addblueprintmsg", "blueprint": {
            "kind": kind, "metadata": {"name": "bp", "colonyname": c.name}, "spec": {"x": 1}}}, c.user.prv)
        return {
            "colonyname": c.name, "targetcolonyname": c.name, "colonyid": Key.new().id, "serverid": api.owner.id,
            "processid": assigned["processid"], "targetid": assigned["processid"],
            "blueprintid": blueprint["blueprintid"], "namespace": c.name, "blueprintname": "bp", "kind": kind,
            "processgraphid": graph["processgraphid"], "parentprocessid": graph["rootprocessids"][0],
            "childprocessid": waiting["processid"], "cronid": cron["cronid"], "generatorid": generator["generatorid"],
            "generatorname": "gen", "functionid": function["functionid"], "fileid": file["fileid"],
            "snapshotid": snapshot["snapshotid"], "attributeid": attribute["attributeid"],
            "executorname": c.executorname, "executorid": c.executor.id, "executortype": c.executortype,
            "userid": c.user.id, "name": c.username, "label": "/data", "funcname": "echo", "nodename": "n",
            "message": "hi", "text": "hello", "arg": "x", "key": "k", "value": "v", "timeout": 1, "count": 10,
            "interval": 3600, "trigger": 10, "workflowspec": json.dumps({"colonyname": c.name, "functionspecs": []}),
        }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from starlette.testclient import TestClient

    from colonies_pkg.config import ServerConfig
    from colonies_pkg.crypto import id_of_prvkey
    from colonies_pkg.server.app import create_app

    owner = Key("fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d",
                id_of_prvkey("fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d"))
    config = ServerConfig(data_dir=str(tmp_path_factory.mktemp("dispatch") / "data"), server_id=owner.id,
                          synchronous="OFF")  # durability is not under test here; fsyncs would dominate
    with TestClient(create_app(config, start_loops=False)) as client:
        yield World(Api(client, config, owner))


def test_every_handler_is_walked() -> None:
    assert len(MSGTYPES) == len(HANDLERS) > 70
    assert set(UNSIGNED) <= set(MSGTYPES)
    assert set(RULES) <= set(SIGNED), "a rule for a message that is not handled"


def test_every_signed_handler_has_a_rule() -> None:
    """A message added to HANDLERS must say who may send it: a RULES entry, checked above and below."""
    missing = sorted(set(SIGNED) - set(RULES))
    assert not missing, f"HANDLERS entries without a RULES entry (who may send it): {missing}"


READS = ("get", "search", "resolve")


@pytest.mark.parametrize("msgtype", sorted(RULES))
def test_who_may_send_it(world: World, msgtype: str) -> None:
    """The roles of the rule get past authorization (a message that may change the colony gets a
    fresh one for each role); the other roles of the same colony are refused and change nothing."""
    allowed = RULES[msgtype]
    with world.api.unchanged():
        for role in ("server", "owner", "user", "executor"):
            if role not in allowed:
                rep = world.api.rpc(message(msgtype, world.values), world.key(role).prv)
                assert_error(rep, 403)
    for role in allowed:
        # a read leaves the colony as it was, so only the other messages need a fresh one
        target = world if msgtype.startswith(READS) else World(world.api, other=False)
        rep = target.api.rpc(message(msgtype, target.values), target.key(role).prv)
        assert rep.status != 403, (role, rep)


@pytest.mark.parametrize("msgtype", SIGNED)
def test_a_bad_signature_is_refused(world: World, msgtype: str) -> None:
    with world.api.unchanged():
        env = sign_envelope(message(msgtype, world.values), world.target.user.prv)
        env["signature"] = "00" * 65
        assert_error(world.api.post(json.dumps(env)), 403)
        env["signature"] = ""
        assert_error(world.api.post(json.dumps(env)), 403)


@pytest.mark.parametrize("msgtype", SIGNED)
def test_an_unknown_key_is_refused(world: World, msgtype: str) -> None:
    with world.api.unchanged():
        rep = world.api.rpc(message(msgtype, world.values), Key.new().prv)
        assert_error(rep, 403)


@pytest.mark.parametrize("msgtype", SIGNED)
def test_a_member_of_another_colony_is_refused(world: World, msgtype: str) -> None:
    with world.api.unchanged():
        for key in (world.other.owner, world.other.user, world.other.executor):
            assert_error(world.api.rpc(message(msgtype, world.values), key.prv), 403)


def _wrong_value(tp: Any) -> Any:
    """A JSON value the field's type does not accept (None when it accepts anything)."""
    for candidate in (12345, "wrong", {"no": "such"}):
        try:
            msgspec.convert(candidate, tp)
        except msgspec.ValidationError:
            return candidate
    return None


def wrong_payloads(msgtype: str) -> list[Any]:
    """Payloads that are not this message: not an object, and an object whose fields all have the wrong type."""
    fields = {f.encode_name: _wrong_value(f.type) for f in msgspec.structs.fields(BY_TAG[msgtype])}
    fields = {k: v for k, v in fields.items() if v is not None}
    return [[1, 2], "text"] + ([{"msgtype": msgtype, **fields}] if fields else [])


@pytest.mark.parametrize("msgtype", MSGTYPES)
def test_a_payload_that_is_not_the_message_is_a_400(world: World, msgtype: str) -> None:
    with world.api.unchanged():
        for payload in wrong_payloads(msgtype):
            body = b64(payload)
            env = {"payloadtype": msgtype, "payload": body, "signature": sign(body, world.target.user.prv)}
            rep = world.api.post(json.dumps(env))
            assert_error(rep, 400)
            assert rep.payload["message"].startswith("Failed to "), rep


@pytest.mark.parametrize("msgtype", sorted(UNSIGNED))
def test_unsigned_messages_answer_anyone(world: World, msgtype: str) -> None:
    env = {"payloadtype": msgtype, "payload": b64(message(msgtype, world.values)), "signature": ""}
    assert isinstance(assert_ok(world.api.post(json.dumps(env)), msgtype), dict)
    rep = world.api.rpc(message(msgtype, world.values), Key.new().prv)
    assert isinstance(assert_ok(rep, msgtype), dict)


def test_the_world_is_real(world: World) -> None:
    """The objects the messages name exist and their owner sees them (so refusals above are real)."""
    c, v = world.target, world.values
    assert world.api.ok({"msgtype": "getprocessmsg", "processid": v["processid"]}, c.user.prv)["state"] == 1
    assert world.api.ok({"msgtype": "getprocessgraphmsg", "processgraphid": v["processgraphid"]}, c.user.prv)
    assert world.api.ok({"msgtype": "getcronmsg", "cronid": v["cronid"]}, c.user.prv)["name"] == "cron"
    assert world.api.ok({"msgtype": "getgeneratormsg", "generatorid": v["generatorid"]}, c.user.prv)["name"] == "gen"
    assert world.api.ok({"msgtype": "getsnapshotmsg", "colonyname": c.name, "snapshotid": v["snapshotid"]},
                        c.user.prv)["name"] == "snap"
    assert world.api.ok({"msgtype": "getattributemsg", "attributeid": v["attributeid"]}, c.user.prv)["key"] == "k"


def test_unchanged_notices_a_commit(world: World) -> None:
    """The `unchanged()` check above is not vacuous: an accepted write inside it fails it."""
    c = world.target
    with pytest.raises(AssertionError, match="the database was changed"), world.api.unchanged():
        world.api.ok({"msgtype": "addlogmsg", "processid": world.values["processid"], "message": "x"}, c.executor.prv)
