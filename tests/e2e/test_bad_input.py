"""Bad input to every message gets a 4xx error envelope and changes nothing (issue 10).

A real server on a real socket holds one of everything (colony, user, executors, waiting and
running processes, a workflow, a cron, a generator, a log, an attribute, a file, a snapshot, a
location, a function, a channel entry). Every registered message (POST /api and the /pubsub
WebSocket) is then sent raw, signed by each kind of sender, as:

* A. a payload with one field (top level, or one level inside a struct field) of the wrong JSON
  type, or an integer beyond int64: always 400;
* B. nothing but its `msgtype`: a 4xx, except read-only messages, which may answer;
* C. the real colony, and every other string field naming nothing (`no-such-<field>`): a 4xx,
  except read-only messages, which may answer (e.g. an empty filtered list);
* D. its record (struct field) empty but for the colony: the same rule;
* E. each integer field at the int64 extremes (and 99, -2): the same rule, and 400 beyond;
* F. the requests that created a colony, user, executor, cron, snapshot and location, again: 4xx.
The subscriptions get an error frame for wrong types, no fields, or an unknown process.

After each message the SQLite database (every row of every table, read-only from the test
process) and the channel log are compared with the snapshot taken before: nothing may change,
and the server must never answer 5xx.
"""
from __future__ import annotations

import base64
import json
import sqlite3
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
import requests
import websocket

from colonies_pkg.rpc import messages

from .conftest import SERVER_PRV, ColonyEnv, Member, ServerProcess, make_colony, new_key, sign_envelope

READ_PREFIXES = ("get", "resolve", "search", "version", "channelread")
API_MESSAGES = sorted(set(messages.MESSAGES) - messages.WEBSOCKET_ONLY)
WS_MESSAGES = sorted(messages.WEBSOCKET_ONLY)


def is_read(name: str) -> bool:
    return name.startswith(READ_PREFIXES)


# --------------------------------------------------------------------------------------------- raw I/O
def call(server: ServerProcess, msg: dict[str, Any], prv: str) -> tuple[int, dict[str, Any]]:
    r = requests.post(server.api_url, data=json.dumps(sign_envelope(msg, prv)), timeout=30)
    env = r.json()
    return r.status_code, {"env": env, "payload": json.loads(base64.b64decode(env["payload"]))}


def ok(server: ServerProcess, msg: dict[str, Any], prv: str) -> Any:
    status, reply = call(server, msg, prv)
    assert status == 200, (msg["msgtype"], reply)
    return reply["payload"]


def assert_4xx(status: int, reply: dict[str, Any], what: str) -> None:
    env, payload = reply["env"], reply["payload"]
    assert 400 <= status < 500, f"{what}: HTTP {status} {payload}"
    assert env["payloadtype"] == "error" and env["error"] is True, f"{what}: {env}"
    assert payload["status"] == status and isinstance(payload["message"], str) and payload["message"], what


def ws_call(server: ServerProcess, msg: dict[str, Any], prv: str) -> dict[str, Any]:
    ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}/pubsub", timeout=10)
    try:
        ws.send(json.dumps(sign_envelope(msg, prv)))
        env = json.loads(ws.recv())
        return {"env": env, "payload": json.loads(base64.b64decode(env["payload"]))}
    finally:
        ws.close()


# --------------------------------------------------------------------------------------------- the world
@dataclass
class World:
    server: ServerProcess
    colony: ColonyEnv
    senders: dict[str, str]
    executor: Member
    running_id: str
    named: list[tuple[dict[str, Any], str]]  # requests that created something unique by its name

    def snapshot(self) -> Any:
        url = self.server.env.get("COLONIES_DATABASE_URL")
        if url:  # the PostgreSQL run: every table but the replicas' lease (renewed as time passes)
            import psycopg

            with psycopg.connect(url) as pg:
                tables = [r[0] for r in pg.execute("SELECT table_name FROM information_schema.tables "
                                                   "WHERE table_schema = 'public' AND table_name != 'leases' "
                                                   "ORDER BY table_name")]
                rows = {t: sorted(map(repr, pg.execute(f'SELECT * FROM "{t}"'))) for t in tables}
        else:
            db = sqlite3.connect(f"file:{self.server.data_dir / 'colonies.db'}?mode=ro", uri=True)
            try:
                tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
                rows = {t: sorted(map(repr, db.execute(f'SELECT * FROM "{t}"'))) for t in tables}
            finally:
                db.close()
        channel = ok(self.server, {"msgtype": "channelreadmsg", "processid": self.running_id, "name": "chat",
                                   "afterseq": 0, "limit": 0}, self.executor.prv)
        return rows, channel

    def assert_unchanged(self, before: Any) -> None:
        rows, channel = self.snapshot()
        changed = {t: (sorted(set(before[0].get(t, [])) - set(rows.get(t, []))),
                       sorted(set(rows.get(t, [])) - set(before[0].get(t, []))))
                   for t in set(rows) | set(before[0]) if rows.get(t) != before[0].get(t)}
        assert changed == {}, "rows changed (table: (gone, new)): " + repr(changed)
        assert channel == before[1]


def _spec(colony: ColonyEnv, executortype: str, **extra: Any) -> dict[str, Any]:
    return {"funcname": "f", "maxwaittime": -1, "maxexectime": -1, "maxretries": 0,
            "conditions": {"colonyname": colony.name, "executortype": executortype}, **extra}


@pytest.fixture(scope="module")
def world(server: ServerProcess) -> Iterator[World]:
    from pycolonies import Colonies

    colony = make_colony(Colonies("127.0.0.1", server.port))
    user = colony.new_user()
    ex = colony.new_executor()
    other_ex = colony.new_executor()
    colony.new_executor(approve=False)
    outsider_prv, _ = new_key()
    s, o = server, colony.colony_prv
    named: list[tuple[dict[str, Any], str]] = []

    def unique(msg: dict[str, Any], prv: str) -> None:
        ok(s, msg, prv)
        named.append((msg, prv))

    ok(s, {"msgtype": "addfunctionmsg", "fun": {"executorname": ex.name, "colonyname": colony.name,
                                                 "funcname": "f"}}, ex.prv)
    ok(s, {"msgtype": "submitfuncspecmsg", "spec": _spec(colony, "idle-type")}, user.prv)
    ok(s, {"msgtype": "submitfuncspecmsg", "spec": _spec(colony, ex.type, channels=["chat"])}, user.prv)
    running = ok(s, {"msgtype": "assignprocessmsg", "colonyname": colony.name, "timeout": 5}, ex.prv)
    pid = running["processid"]
    ok(s, {"msgtype": "addlogmsg", "processid": pid, "message": "hello"}, ex.prv)
    ok(s, {"msgtype": "addattributemsg", "attribute": {"targetid": pid, "targetcolonyname": colony.name,
                                                        "key": "k", "value": "v", "attributetype": 1}}, ex.prv)
    ok(s, {"msgtype": "channelappendmsg", "processid": pid, "name": "chat", "sequence": 1,
           "payload": list(b"hi")}, user.prv)
    wf = {"colonyname": colony.name, "functionspecs": [_spec(colony, "idle-type", nodename="a"),
                                                       _spec(colony, "idle-type", nodename="b")]}
    wf["functionspecs"][1]["conditions"]["dependencies"] = ["a"]
    ok(s, {"msgtype": "submitworkflowspecmsg", "spec": wf}, user.prv)
    unique({"msgtype": "addcronmsg", "cron": {"colonyname": colony.name, "name": "c", "interval": 86400,
                                              "workflowspec": json.dumps(wf)}}, user.prv)
    ok(s, {"msgtype": "addgeneratormsg", "generator": {"colonyname": colony.name, "name": "g", "trigger": 100,
                                                        "workflowspec": json.dumps(wf)}}, user.prv)
    ok(s, {"msgtype": "addfilemsg", "file": {"colonyname": colony.name, "label": "/l", "name": "x", "size": 1,
                                              "checksum": "0" * 64, "checksumalg": "SHA256",
                                              "ref": {"protocol": "s3", "s3object": {"bucket": "b",
                                                                                      "object": "o"}}}}, user.prv)
    unique({"msgtype": "createsnapshotmsg", "colonyname": colony.name, "label": "/l", "name": "snap"}, user.prv)
    unique({"msgtype": "addlocationmsg", "location": {"colonyname": colony.name, "name": "here"}}, o)
    unique({"msgtype": "addblueprintdefinitionmsg", "blueprintdefinition": {  # no handler: no cron firing mid-test
        "kind": "BlueprintDefinition", "metadata": {"name": "lights", "colonyname": colony.name},
        "spec": {"names": {"kind": "Light"}, "schema": {"required": ["on"], "properties": {"on": {"type": "boolean"}}}}}},
        o)
    unique({"msgtype": "addblueprintmsg", "blueprint": {"kind": "Light", "metadata": {"name": "l1", "colonyname":
                                                                                     colony.name}, "spec": {"on": True}}},
           user.prv)
    senders = {"server owner": SERVER_PRV, "colony owner": o, "user": user.prv, "assigned executor": ex.prv,
               "other executor": other_ex.prv, "outsider": outsider_prv}
    _, other_id = new_key()
    named += [({"msgtype": "addcolonymsg", "colony": {"name": colony.name, "colonyid": other_id}}, SERVER_PRV),
              ({"msgtype": "addusermsg", "user": {"colonyname": colony.name, "name": user.name, "userid": other_id,
                                                  "email": "", "phone": ""}}, o),
              ({"msgtype": "addexecutormsg", "executor": {"colonyname": colony.name, "executorname": ex.name,
                                                          "executorid": other_id, "executortype": "t"}}, o)]
    yield World(server, colony, senders, ex, pid, named)


# --------------------------------------------------------------------------------------------- inputs
def _wrong_value(ftype: Any) -> Any:
    """A JSON value that does not decode as `ftype` (None when every value would)."""
    for candidate in ({"wrong": 1}, "wrong", 12345, [{"wrong": 1}], True):
        try:
            msgspec.convert(candidate, ftype, strict=True)
        except msgspec.ValidationError:
            return candidate
    return None


def _struct_of(ftype: Any) -> type[msgspec.Struct] | None:
    for t in (ftype, *typing.get_args(ftype)):
        if isinstance(t, type) and issubclass(t, msgspec.Struct):
            return t
    return None


def _wrong_values(ftype: Any) -> list[Any]:
    """Values of the wrong JSON type, and integers beyond int64 (Go refuses them) for int fields."""
    wrong = _wrong_value(ftype)
    beyond = [2**64, -(2**63) - 1] if int in (ftype, *typing.get_args(ftype)) else []
    return ([] if wrong is None else [wrong]) + beyond


def wrong_type_payloads(name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for f in msgspec.structs.fields(messages.MESSAGES[name]):
        if f.name == "msgtype":
            continue
        for wrong in _wrong_values(f.type):
            yield f"{f.name}={wrong!r}", {"msgtype": name, f.name: wrong}
        inner = _struct_of(f.type)
        if inner is not None:
            for g in msgspec.structs.fields(inner):
                for wrong in _wrong_values(g.type):
                    yield f"{f.name}.{g.name}={wrong!r}", {"msgtype": name, f.name: {g.name: wrong}}


def _references(name: str) -> list[str]:
    """The string fields of a message that name something, besides its colony."""
    return [f.name for f in msgspec.structs.fields(messages.MESSAGES[name])
            if f.type is str and f.name not in ("msgtype", "colonyname")]


NAMING_MESSAGES = [n for n in API_MESSAGES if _references(n)]


def no_such_payload(name: str, colonyname: str) -> dict[str, Any]:
    msg: dict[str, Any] = {"msgtype": name, **{field: f"no-such-{field}" for field in _references(name)}}
    if "colonyname" in messages.MESSAGES[name].__struct_fields__:
        msg["colonyname"] = colonyname
    return msg


# --------------------------------------------------------------------------------------------- tests
def test_every_message_is_swept() -> None:
    assert len(API_MESSAGES) >= 84 and len(WS_MESSAGES) == 3
    assert sum(1 for n in API_MESSAGES if not is_read(n)) >= 45
    assert sum(1 for n in API_MESSAGES for _ in wrong_type_payloads(n)) > 150
    assert len(NAMING_MESSAGES) >= 40
    assert len(RECORD_MESSAGES) >= 12
    assert len(INT_MESSAGES) >= 10  # the Int64 fields are found too


@pytest.mark.parametrize("name", API_MESSAGES)
def test_wrong_json_types_are_400_and_change_nothing(world: World, name: str) -> None:
    before = world.snapshot()
    cases = list(wrong_type_payloads(name))
    for field, msg in cases:
        status, reply = call(world.server, msg, world.senders["colony owner"])
        assert_4xx(status, reply, f"{name}.{field}")
        assert status == 400, (name, field, reply)
    assert cases or all(f.name == "msgtype" for f in msgspec.structs.fields(messages.MESSAGES[name])), name
    world.assert_unchanged(before)


@pytest.mark.parametrize("name", API_MESSAGES)
def test_empty_message_is_refused_and_changes_nothing(world: World, name: str) -> None:
    before = world.snapshot()
    for who, prv in world.senders.items():
        status, reply = call(world.server, {"msgtype": name}, prv)
        if status == 200:
            assert is_read(name), f"{name} from {who} with no fields was accepted: {reply}"
        else:
            assert_4xx(status, reply, f"{name} from {who}")
    world.assert_unchanged(before)


@pytest.mark.parametrize("name", NAMING_MESSAGES)
def test_references_to_nothing_are_refused_and_change_nothing(world: World, name: str) -> None:
    msg = no_such_payload(name, world.colony.name)
    before = world.snapshot()
    for who, prv in world.senders.items():
        status, reply = call(world.server, msg, prv)
        if status == 200:
            assert is_read(name), f"{name} from {who} naming nothing was accepted: {msg} → {reply}"
        else:
            assert_4xx(status, reply, f"{name} from {who}")
    world.assert_unchanged(before)


@pytest.mark.parametrize("name", WS_MESSAGES)
def test_bad_subscriptions_get_an_error_frame(world: World, name: str) -> None:
    before = world.snapshot()
    bad = [msg for _, msg in wrong_type_payloads(name)]
    if "processid" in messages.MESSAGES[name].__struct_fields__:
        bad.append({"msgtype": name, "processid": "no-such-process", "name": "chat", "timeout": 1})
    for msg in bad:
        for who, prv in world.senders.items():
            reply = ws_call(world.server, msg, prv)
            status = reply["payload"].get("status", 0)
            assert reply["env"]["error"] is True and 400 <= status < 500, (name, who, msg, reply)
    for who, prv in world.senders.items():  # an empty subscription names no colony and no process
        reply = ws_call(world.server, {"msgtype": name}, prv)
        assert reply["env"]["error"] is True and 400 <= reply["payload"]["status"] < 500, (name, who, reply)
    world.assert_unchanged(before)


def _empty_record(name: str, colonyname: str) -> dict[str, Any] | None:
    """The message with its record (a struct field) empty but for the colony, or None."""
    cls = messages.MESSAGES[name]
    msg: dict[str, Any] = {"msgtype": name}
    for f in msgspec.structs.fields(cls):
        inner = _struct_of(f.type)
        if inner is not None:
            cols = [g.name for g in msgspec.structs.fields(inner) if g.name in ("colonyname", "targetcolonyname")]
            msg[f.name] = dict.fromkeys(cols, colonyname)
    if len(msg) == 1:
        return None
    if "colonyname" in cls.__struct_fields__:
        msg["colonyname"] = colonyname
    return msg


RECORD_MESSAGES = [n for n in API_MESSAGES if _empty_record(n, "c") is not None]


@pytest.mark.parametrize("name", RECORD_MESSAGES)
def test_empty_records_are_refused_and_change_nothing(world: World, name: str) -> None:
    """A record with nothing but its colony (no name, no id, no type) is a 4xx from anyone."""
    msg = _empty_record(name, world.colony.name)
    before = world.snapshot()
    for who, prv in world.senders.items():
        status, reply = call(world.server, msg, prv)
        if status == 200:
            assert is_read(name), f"{name} from {who} with an empty record was accepted: {msg} → {reply}"
        else:
            assert_4xx(status, reply, f"{name} from {who}")
    world.assert_unchanged(before)


INT_EXTREMES = (99, -2, -(2**63), 2**63 - 1)


def _int_fields(name: str) -> list[str]:
    """The integer fields (plain `int` or `models.ints.Int64`, i.e. Annotated[int, …])."""
    return [f.name for f in msgspec.structs.fields(messages.MESSAGES[name])
            if f.type is int or (typing.get_origin(f.type) is typing.Annotated and typing.get_args(f.type)[0] is int)]


INT_MESSAGES = [n for n in API_MESSAGES if _int_fields(n)]


@pytest.mark.parametrize("name", INT_MESSAGES)
def test_out_of_range_numbers_are_refused_or_harmless(world: World, name: str) -> None:
    """Each integer field at an extreme (with the real colony): a 4xx, or an answer that changes
    nothing from a read; beyond int64: 400."""
    before = world.snapshot()
    for field in _int_fields(name):
        for value in (*INT_EXTREMES, 2**64, -(2**63) - 1):
            if name == "assignprocessmsg" and field == "timeout" and -(2**63) <= value < 2**63:
                continue  # any int64 but 0 is a legal assign timeout (≤ 0: one try, as in Go)
            msg = {"msgtype": name, field: value}
            if "colonyname" in messages.MESSAGES[name].__struct_fields__:
                msg["colonyname"] = world.colony.name
            for who in ("colony owner", "user", "assigned executor"):
                status, reply = call(world.server, msg, world.senders[who])
                what = f"{name}.{field}={value} from {who}"
                if value >= 2**63 or value < -(2**63):
                    assert status == 400, (what, reply)
                if status == 200:
                    assert is_read(name), f"{what} was accepted: {reply}"
                else:
                    assert_4xx(status, reply, what)
    world.assert_unchanged(before)


def test_the_snapshot_sees_a_change(world: World) -> None:
    """The comparison above is not blind: an accepted log line or channel entry shows up in it."""
    before = world.snapshot()
    ok(world.server, {"msgtype": "addlogmsg", "processid": world.running_id, "message": "more"}, world.executor.prv)
    after_log = world.snapshot()
    assert after_log[0] != before[0]
    ok(world.server, {"msgtype": "channelappendmsg", "processid": world.running_id, "name": "chat", "sequence": 2,
                      "payload": list(b"again")}, world.executor.prv)
    assert world.snapshot()[1] != after_log[1]


def test_names_already_taken_are_refused_and_change_nothing(world: World) -> None:
    """Sending again what created a colony, user, executor, cron, snapshot, location, blueprint
    definition or blueprint (the same name; a new id where there is one) is a 4xx and leaves the
    first one alone. (Functions and
    generators are not unique by name, as in Go: every addfunctionmsg of a restarted executor adds a
    row.)"""
    assert len(world.named) == 8
    before = world.snapshot()
    for msg, prv in world.named:
        status, reply = call(world.server, msg, prv)
        assert_4xx(status, reply, f"second {msg['msgtype']}")
    world.assert_unchanged(before)


def test_far_deadlines_do_not_overflow(world: World) -> None:
    """maxwaittime/maxexectime at the int64 limit are legal: they mean "never", the process is
    assigned and closed as usual; a cron interval or @every beyond 100 years is a 400."""
    from pycolonies import Colonies

    colony = make_colony(Colonies("127.0.0.1", world.server.port))
    user, ex = colony.new_user(), colony.new_executor()
    spec = _spec(colony, ex.type)
    spec.update(maxwaittime=2**63 - 1, maxexectime=2**63 - 1)
    submitted = ok(world.server, {"msgtype": "submitfuncspecmsg", "spec": spec}, user.prv)
    assigned = ok(world.server, {"msgtype": "assignprocessmsg", "colonyname": colony.name, "timeout": 5}, ex.prv)
    assert assigned["processid"] == submitted["processid"]
    ok(world.server, {"msgtype": "closesuccessfulmsg", "processid": assigned["processid"], "out": []}, ex.prv)
    history = ok(world.server, {"msgtype": "getprocesshistmsg", "colonyname": colony.name, "executorid": "",
                                "seconds": 2**63 - 1, "state": 2}, user.prv)
    assert [p["processid"] for p in history] == [submitted["processid"]]
    wf = json.dumps({"colonyname": colony.name, "functionspecs": [_spec(colony, ex.type, nodename="a")]})
    for cron in ({"interval": 2**62}, {"interval": -1, "cronexpression": "@every 99999999999h"},
                 {"interval": -1, "cronexpression": "@every " + "9" * 400 + "h"}):
        status, reply = call(world.server, {"msgtype": "addcronmsg", "cron": {
            "colonyname": colony.name, "name": "far", "workflowspec": wf, **cron}}, user.prv)
        assert status == 400, (cron, reply)
    assert ok(world.server, {"msgtype": "getcronsmsg", "colonyname": colony.name, "count": 10}, user.prv) == []
