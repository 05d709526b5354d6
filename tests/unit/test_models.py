"""models/*: FunctionSpec normalisation, decoding the exact payloads pycolonies 1.0.25 sends
(PROTOCOL Appendix C), the Process wire shape, and pycolonies' pydantic models accepting what
we produce (a Process built through the real domain code on a temp database)."""
from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime

import model as pymodel  # pycolonies 1.0.25 pydantic models
import msgspec
import pycolonies
import pytest
from hypothesis import given
from hypothesis import strategies as st

from colonies_pkg.clock import ZERO_TIME, format_time
from colonies_pkg.domain import colonies, executors, processes
from colonies_pkg.models import Colony, Conditions, FunctionSpec, Process
from colonies_pkg.models.executor import Executor
from colonies_pkg.models.process import FS, GPU
from colonies_pkg.rpc import envelope, messages

NOW = 1_735_725_600_123_456_789
HEX = "ab" * 32

# Appendix C, byte for byte where the appendix is complete; "..." parts are filled in with
# what pycolonies' FuncSpec/Conditions defaults serialise to.
_CONDITIONS_DEFAULT = ('{"colonyname": "dev", "executornames": null, "executortype": "cli", "dependencies": [], '
                       '"nodes": 0, "cpu": "", "processes": 0, "processespernode": 0, "mem": "", "storage": "", '
                       '"gpu": {"name": "", "mem": "", "count": 0, "nodecount": 0}, "walltime": 0}')
SUBMIT = ('{"msgtype": "submitfuncspecmsg", "spec": {"nodename": "echo", "funcname": "echo", "args": ["hello"], '
          '"kwargs": null, "priority": 1, "maxwaittime": -1, "maxexectime": 10, "maxretries": 2, "conditions": '
          '{"colonyname": "dev", "executornames": null, "executortype": "cli", "dependencies": [], "nodes": 0, '
          '"cpu": "", "processes": 0, "processespernode": 0, "mem": "", "storage": "", "gpu": {"name": "", "mem": "", '
          '"count": 0, "nodecount": 0}, "walltime": 0}, "label": "", "fs": null, "env": {}, "channels": []}}')
ADDCHILD_SPEC = ('{"nodename": "c", "funcname": "h", "args": [], "kwargs": {}, "priority": 0, "maxwaittime": 0, '
                 '"maxexectime": 0, "maxretries": 0, "conditions": ' + _CONDITIONS_DEFAULT + ', "label": "", '
                 '"fs": {"mount": "", "snapshots": null, "dirs": null}, "env": {}, "channels": []}')
APPENDIX_C = {
    "submitfuncspecmsg": SUBMIT,
    "assignprocessmsg": '{"msgtype": "assignprocessmsg", "timeout": 10, "colonyname": "dev"}',
    "closesuccessfulmsg": '{"msgtype": "closesuccessfulmsg", "processid": "pid", "out": ["out1"]}',
    "addfunctionmsg": ('{"msgtype": "addfunctionmsg", "fun": {"executorname": "e1", "colonyname": "dev", '
                       '"funcname": "f"}}'),
    "addattributemsg": ('{"msgtype": "addattributemsg", "attribute": {"key": "k", "value": "v", "targetid": "pid", '
                        '"attributetype": 1}}'),
    "getlogsmsg": ('{"msgtype": "getlogsmsg", "colonyname": "dev", "executorid": "", "processid": "pid", "count": 100, '
                   '"since": -1}'),
    "getfilemsg": ('{"msgtype": "getfilemsg", "colonyname": "dev", "fileid": null, "label": "/x", "name": "f", '
                   '"latest": true}'),
    "getprocessgraphsmsg": '{"msgtype": "getprocessgraphsmsg", "colonyname": "dev", "count": 10}',
    "removeallprocessgraphsmsg": '{"msgtype": "removeallprocessgraphsmsg", "colonyname": "dev"}',
    "getprocessesmsg": ('{"msgtype": "getprocessesmsg", "processgraphid": "g", "colonyname": "dev", "count": 100, '
                        '"state": -1}'),
    "addexecutormsg": ('{"msgtype": "addexecutormsg", "executor": {"executorname": "e1", "executorid": "' + HEX +
                       '", "colonyname": "dev", "executortype": "cli"}}'),
    "addcolonymsg": '{"msgtype": "addcolonymsg", "colony": {"colonyid": "' + HEX + '", "name": "dev"}}',
    "createsnapshotmsg": '{"msgtype": "createsnapshotmsg", "colonyname": "dev", "label": "/x", "name": "s1"}',
    "getsnapshotmsg": '{"msgtype": "getsnapshotmsg", "colonyname": "dev", "snapshotid": "", "name": "s1"}',
    "addchildmsg": ('{"msgtype": "addchildmsg", "processgraphid": "g", "parentprocessid": "p", "childprocessid": "", '
                    '"insert": false, "spec": ' + ADDCHILD_SPEC + '}'),
    "subscribeprocessmsg": ('{"processid": "pid", "executortype": "cli", "state": 2, "timeout": 10, '
                            '"colonyname": "dev", "msgtype": "subscribeprocessmsg"}'),
}
PRESENT = sorted(name for name in APPENDIX_C if name in messages.MESSAGES)


# --- FunctionSpec ---------------------------------------------------------------------------
def test_normalize_fills_empty_values() -> None:
    spec = FunctionSpec().normalize()
    assert spec.args == [] and spec.env == {} and spec.channels == []
    assert spec.conditions == Conditions(dependencies=[], gpu=GPU())
    assert spec.fs == FS()
    assert spec.kwargs is None  # null kwargs is allowed by both clients
    encoded = json.loads(msgspec.json.encode(spec))
    for key in ("args", "env", "channels"):
        assert encoded[key] is not None
    assert encoded["conditions"]["dependencies"] == []
    assert encoded["conditions"]["gpu"] == {"name": "", "mem": "", "count": 0, "nodecount": 0}
    assert encoded["fs"] == {"mount": "", "snapshots": None, "dirs": None}


def test_normalize_keeps_given_values_and_returns_self() -> None:
    spec = FunctionSpec(args=["a", 1], env={"k": "v"}, channels=["c"], kwargs={"x": "y"},
                        conditions=Conditions(executortype="cli", dependencies=["a"], gpu=GPU(name="t4", count=1)),
                        fs=FS(mount="/m"))
    assert spec.normalize() is spec
    assert spec.args == ["a", 1] and spec.env == {"k": "v"} and spec.channels == ["c"] and spec.kwargs == {"x": "y"}
    assert spec.conditions.dependencies == ["a"] and spec.conditions.gpu == GPU(name="t4", count=1)
    assert spec.fs == FS(mount="/m")


def test_normalize_is_idempotent() -> None:
    once = msgspec.json.encode(FunctionSpec().normalize())
    assert msgspec.json.encode(FunctionSpec().normalize().normalize()) == once


def test_decode_submit_spec_with_nulls() -> None:
    msg = messages.decode("submitfuncspecmsg", SUBMIT.encode())
    assert isinstance(msg, messages.SubmitFuncSpecMsg)
    spec = msg.spec
    assert spec is not None and spec.kwargs is None and spec.fs is None
    assert spec.conditions is not None and spec.conditions.executornames is None
    spec.normalize()
    assert spec.fs == FS() and spec.args == ["hello"] and spec.priority == 1 and spec.maxretries == 2


def test_decode_addchild_spec_with_fs_object() -> None:
    spec = msgspec.json.decode(ADDCHILD_SPEC.encode(), type=FunctionSpec)
    assert spec.kwargs == {} and spec.fs == FS(mount="", snapshots=None, dirs=None)
    assert spec.maxexectime == 0 and spec.conditions is not None and spec.conditions.executortype == "cli"


def test_spec_round_trips_through_pycolonies_model() -> None:
    """What pycolonies' FuncSpec.model_dump() sends decodes, and our normalized encoding parses back."""
    theirs = pymodel.FuncSpec(funcname="f", conditions=pymodel.Conditions(colonyname="dev", executortype="cli"))
    ours = msgspec.json.decode(json.dumps(theirs.model_dump(by_alias=True)).encode(), type=FunctionSpec).normalize()
    again = pymodel.FuncSpec(**json.loads(msgspec.json.encode(ours)))
    assert again.funcname == "f" and again.conditions.executortype == "cli"


@pytest.mark.parametrize("name", PRESENT)
def test_appendix_c_payloads_decode(name: str) -> None:
    msg = messages.decode(name, APPENDIX_C[name].encode())
    assert type(msg) is messages.MESSAGES[name]
    # Every scalar the client sent for a key we model comes back unchanged on re-encoding.
    sent = json.loads(APPENDIX_C[name])
    ours = json.loads(msgspec.json.encode(msg))
    assert ours["msgtype"] == sent["msgtype"] == name
    for key, value in sent.items():
        if key in ours and isinstance(value, (str, int, bool)):
            assert ours[key] == value, key


def test_appendix_c_field_values() -> None:
    assert messages.decode("assignprocessmsg", APPENDIX_C["assignprocessmsg"].encode()) == \
        messages.AssignProcessMsg(colonyname="dev", timeout=10)
    assert messages.decode("closesuccessfulmsg", APPENDIX_C["closesuccessfulmsg"].encode()) == \
        messages.CloseSuccessfulMsg(processid="pid", out=["out1"])
    logs = messages.decode("getlogsmsg", APPENDIX_C["getlogsmsg"].encode())
    assert (logs.processid, logs.count, logs.since, logs.latest) == ("pid", 100, -1, False)
    procs = messages.decode("getprocessesmsg", APPENDIX_C["getprocessesmsg"].encode())
    assert (procs.state, procs.processgraphid, procs.count) == (-1, "g", 100)
    ex = messages.decode("addexecutormsg", APPENDIX_C["addexecutormsg"].encode()).executor
    assert (ex.executorid, ex.executorname, ex.executortype, ex.colonyname) == (HEX, "e1", "cli", "dev")
    assert messages.decode("addcolonymsg", APPENDIX_C["addcolonymsg"].encode()).colony == Colony(HEX, "dev")
    attr = messages.decode("addattributemsg", APPENDIX_C["addattributemsg"].encode()).attribute
    assert (attr.key, attr.value, attr.targetid, attr.attributetype) == ("k", "v", "pid", 1)
    fun = messages.decode("addfunctionmsg", APPENDIX_C["addfunctionmsg"].encode()).fun
    assert (fun.executorname, fun.colonyname, fun.funcname) == ("e1", "dev", "f")


# --- every request the real SDK builds ------------------------------------------------------
SDK_PRV = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"
SDK_ID = "3fc05cf3df4b494e95d6a3d297a34f19938f7daa7422ab0d4f794454133341ac"


def _fs(**kw):
    return pymodel.FuncSpec(funcname="f", conditions=pymodel.Conditions(colonyname="dev", executortype="cli"), **kw)


def _wf():
    a = _fs(nodename="a")
    b = _fs(nodename="b")
    b.conditions.dependencies = ["a"]
    return pymodel.Workflow(colonyname="dev", functionspecs=[a, b])


SDK_CALLS = {  # pycolonies 1.0.25 method calls (sync, one request each)
    "add_colony": lambda c, k: c.add_colony({"colonyid": HEX, "name": "dev"}, k),
    "del_colony": lambda c, k: c.del_colony("dev", k),
    "list_colonies": lambda c, k: c.list_colonies(k),
    "get_colony": lambda c, k: c.get_colony("dev", k),
    "stats": lambda c, k: c.stats("dev", k),
    "add_executor": lambda c, k: c.add_executor(
        {"executorname": "e1", "executorid": HEX, "colonyname": "dev", "executortype": "cli"}, k),
    "list_executors": lambda c, k: c.list_executors("dev", k),
    "get_executor": lambda c, k: c.get_executor("dev", "e1", k),
    "approve_executor": lambda c, k: c.approve_executor("dev", "e1", k),
    "reject_executor": lambda c, k: c.reject_executor("dev", "e1", k),
    "remove_executor": lambda c, k: c.remove_executor("dev", "e1", k),
    "submit_func_spec(func_spec)": lambda c, k: c.submit_func_spec(
        pycolonies.func_spec("echo", ["hello"], "dev", "cli", maxexectime=10, maxretries=2), k),
    "submit_func_spec(FuncSpec())": lambda c, k: c.submit_func_spec(_fs(), k),
    "submit_func_spec(env, kwargs)": lambda c, k: c.submit_func_spec(
        _fs(args=["a", 1], kwargs={"x": "y", "l": ["1"]}, env={"E": "V"}, channels=["ch"]), k),
    "submit_workflow": lambda c, k: c.submit_workflow(_wf(), k),
    "assign": lambda c, k: c.assign("dev", 10, k),
    "list_processes": lambda c, k: c.list_processes("dev", 10, 0, k),
    "get_process": lambda c, k: c.get_process("pid", k),
    "remove_process": lambda c, k: c.remove_process("pid", k),
    "remove_all_processes": lambda c, k: c.remove_all_processes("dev", k),
    "close": lambda c, k: c.close("pid", ["out1", 2], k),
    "fail": lambda c, k: c.fail("pid", ["boom"], k),
    "set_output": lambda c, k: c.set_output("pid", ["a"], k),
    "add_attribute": lambda c, k: c.add_attribute("pid", "k", "v", k),
    "get_attribute": lambda c, k: c.get_attribute("aid", k),
    "get_processgraph": lambda c, k: c.get_processgraph("g", k),
    "get_processgraphs": lambda c, k: c.get_processgraphs("dev", 10, k),
    "get_processgraphs(state)": lambda c, k: c.get_processgraphs("dev", 10, k, state=2),
    "remove_processgraph": lambda c, k: c.remove_processgraph("g", k),
    "remove_all_processgraphs": lambda c, k: c.remove_all_processgraphs("dev", k),
    "get_processes_for_workflow": lambda c, k: c.get_processes_for_workflow("g", "dev", k),
    "add_function": lambda c, k: c.add_function("dev", "e1", "f", k),
    "get_functions_by_executor": lambda c, k: c.get_functions_by_executor("dev", "e1", k),
    "get_functions_by_colony": lambda c, k: c.get_functions_by_colony("dev", k),
    "add_child": lambda c, k: c.add_child("g", "p", "", _fs(), "c", False, k),
    "add_log": lambda c, k: c.add_log("pid", "hello", k),
    "get_process_log": lambda c, k: c.get_process_log("dev", "pid", 100, -1, k),
    "get_executor_log": lambda c, k: c.get_executor_log("dev", "e1", 100, -1, k),
    "add_cron": lambda c, k: c.add_cron("c1", "0/5 * * * * *", True, _wf(), "dev", k),
    "get_cron": lambda c, k: c.get_cron("cid", k),
    "get_crons": lambda c, k: c.get_crons("dev", 10, k),
    "del_cron": lambda c, k: c.del_cron("cid", k),
    "run_cron": lambda c, k: c.run_cron("cid", k),
    "add_generator": lambda c, k: c.add_generator(
        {"colonyname": "dev", "name": "g1", "workflowspec": json.dumps(_wf().model_dump(by_alias=True)),
         "trigger": 5, "timeout": -1}, k),
    "get_generator": lambda c, k: c.get_generator("gid", k),
    "get_generators": lambda c, k: c.get_generators("dev", k),
    "remove_generator": lambda c, k: c.remove_generator("gid", k),
    "add_user": lambda c, k: c.add_user(
        {"colonyname": "dev", "userid": HEX, "name": "u", "email": "u@x", "phone": ""}, k),
    "get_users": lambda c, k: c.get_users("dev", k),
    "remove_user": lambda c, k: c.remove_user("dev", "u", k),
    "create_snapshot": lambda c, k: c.create_snapshot("dev", "/x", "s1", k),
    "get_snapshots": lambda c, k: c.get_snapshots("dev", k),
    "get_snapshot_by_name": lambda c, k: c.get_snapshot_by_name("dev", "s1", k),
    "get_snapshot_by_id": lambda c, k: c.get_snapshot_by_id("dev", "sid", k),
    "get_files": lambda c, k: c.get_files("/x", "dev", k),
    "get_file": lambda c, k: c.get_file("dev", k, label="/x", filename="f"),
    "get_file_labels": lambda c, k: c.get_file_labels("dev", k),
}
# Requests whose message types the server must understand (PROTOCOL §4.1-4.9 core).
CORE_TYPES = {
    "addcolonymsg", "removecolonymsg", "getcoloniesmsg", "getcolonymsg", "getcolonystatsmsg", "addexecutormsg",
    "getexecutorsmsg", "getexecutormsg", "approveexecutormsg", "rejectexecutormsg", "removeexecutormsg",
    "submitfuncspecmsg", "assignprocessmsg", "getprocessesmsg", "getprocessmsg", "removeprocessmsg",
    "removeallprocessesmsg", "closesuccessfulmsg", "closefailedmsg", "setoutputmsg", "addattributemsg",
    "getattributemsg", "addfunctionmsg", "getfunctionsmsg", "addlogmsg", "getlogsmsg", "addusermsg", "getusersmsg",
    "removeusermsg",
}


def _capture(monkeypatch: pytest.MonkeyPatch, call) -> bytes:
    sent: list[bytes] = []

    class Reply:
        status_code = 200
        content = b'{"payloadtype":"x","payload":"e30=","error":false}'

    def post(url: str, data: str, verify: bool = True) -> Reply:
        sent.append(data.encode())
        return Reply()

    monkeypatch.setattr(pycolonies.requests, "post", post)
    with contextlib.suppress(Exception):  # the fake {} reply does not satisfy every SDK return model
        call(pycolonies.Colonies("localhost", 50080), SDK_PRV)
    assert len(sent) == 1
    return sent[0]


@pytest.mark.parametrize("method", list(SDK_CALLS))
def test_pycolonies_requests_parse_and_verify(method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    body = _capture(monkeypatch, SDK_CALLS[method])
    payloadtype = json.loads(body)["payloadtype"]
    if payloadtype not in messages.MESSAGES:
        assert payloadtype not in CORE_TYPES
        pytest.skip(f"{payloadtype} is not implemented by the server (yet)")
    msg, caller = envelope.parse_request(body)  # the SDK's own pure-Python signature, verified by us
    assert caller == SDK_ID
    assert type(msg) is messages.MESSAGES[payloadtype]
    spec = getattr(msg, "spec", None)
    if isinstance(spec, FunctionSpec):  # what the server stores must satisfy pycolonies again
        pymodel.FuncSpec(**json.loads(msgspec.json.encode(spec.normalize())))


def test_sdk_coverage_of_core_types(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {json.loads(_capture(monkeypatch, call))["payloadtype"] for call in SDK_CALLS.values()}
    assert seen >= CORE_TYPES
    assert set(messages.MESSAGES) >= CORE_TYPES


# --- Process on the wire --------------------------------------------------------------------
def _world(db, keys) -> None:
    db.write(colonies.ensure_server_id, NOW, keys.server.id)
    db.write(colonies.add_colony, NOW, keys.server.id, Colony(colonyid=keys.colony.id, name="dev"))
    db.write(executors.add_executor, NOW, keys.colony.id,
             Executor(executorid=keys.executor.id, executortype="cli", executorname="e1", colonyname="dev"))
    db.write(executors.approve_executor, NOW, keys.colony.id, "dev", "e1")


def _submit_appendix_spec(db, keys, env: dict[str, str] | None = None) -> Process:
    spec = messages.decode("submitfuncspecmsg", SUBMIT.encode()).spec
    if env is not None:
        spec.env = env
    return db.write(processes.submit, NOW, keys.executor.id, spec)


NON_NULL_LISTS = ("errors", "parents", "children", "in", "out")


def _check_wire(data: dict) -> None:
    assert "in" in data and "out" in data and "in_" not in data
    for key in NON_NULL_LISTS:
        assert isinstance(data[key], list), key
    spec = data["spec"]
    assert isinstance(spec["args"], list) and isinstance(spec["env"], dict)
    assert isinstance(spec["conditions"]["dependencies"], list)
    assert spec.get("channels", []) is not None
    for key in ("submissiontime", "starttime", "endtime", "waitdeadline", "execdeadline"):
        datetime.fromisoformat(data[key])  # RFC 3339 with an offset
        assert data[key].endswith("Z") or data[key][-6] in "+-"
    assert type(data["prioritytime"]) is int and type(data["state"]) is int


def test_submitted_process_wire_shape(db, keys) -> None:
    _world(db, keys)
    process = _submit_appendix_spec(db, keys, env={"K": "V"})
    data = json.loads(msgspec.json.encode(process))
    _check_wire(data)
    assert data["in"] == [] and data["out"] == [] and data["errors"] == []
    assert data["state"] == 0 and data["isassigned"] is False and data["assignedexecutorid"] == ""
    assert data["prioritytime"] == NOW - 86_400 * 10**9
    assert data["starttime"] == ZERO_TIME and data["submissiontime"] == format_time(NOW)
    assert data["spec"]["fs"] == {"mount": "", "snapshots": None, "dirs": None}
    assert [(a["key"], a["value"], a["attributetype"]) for a in data["attributes"]] == [("K", "V", 3)]


def test_pycolonies_accepts_our_processes(db, keys) -> None:
    _world(db, keys)
    submitted = _submit_appendix_spec(db, keys, env={"K": "V"})
    seen = [json.loads(msgspec.json.encode(submitted))]
    assigned = db.write(processes.try_assign, NOW + 10**9, keys.executor.id, "dev").process
    assert assigned is not None
    seen.append(json.loads(msgspec.json.encode(assigned)))
    db.write(processes.close_successful, NOW + 2 * 10**9, keys.executor.id, assigned.processid, ["out1", 2, 3.5])
    seen.append(json.loads(msgspec.json.encode(db.read(processes.get, NOW, keys.executor.id, assigned.processid))))
    failing = _submit_appendix_spec(db, keys)
    db.write(processes.try_assign, NOW + 3 * 10**9, keys.executor.id, "dev")
    db.write(processes.close_failed, NOW + 4 * 10**9, keys.executor.id, failing.processid, ["it broke"])
    seen.append(json.loads(msgspec.json.encode(db.read(processes.get, NOW, keys.executor.id, failing.processid))))
    for data in seen:
        _check_wire(data)
        parsed = pymodel.Process(**data)
        assert parsed.processid == data["processid"]
        assert parsed.spec.conditions.executortype == "cli"
    assert pymodel.Process(**seen[2]).output == ["out1", 2, 3.5]
    assert pymodel.Process(**seen[2]).state == 2
    assert pymodel.Process(**seen[3]).errors == ["it broke"]
    assert pymodel.Process(**seen[1]).submissiontime == datetime.fromtimestamp(NOW // 10**9, UTC).replace(
        microsecond=(NOW % 10**9) // 1000)


def test_process_list_reply_parses_with_pycolonies(db, keys) -> None:
    _world(db, keys)
    for _ in range(3):
        _submit_appendix_spec(db, keys)
    listed = db.read(processes.list_processes, NOW, keys.executor.id, "dev", 10, 0)
    data = json.loads(msgspec.json.encode(listed))
    assert len(data) == 3
    assert all(isinstance(pymodel.Process(**p), pymodel.Process) for p in data)


# --- times ----------------------------------------------------------------------------------
def test_format_time_zero_is_go_zero_time() -> None:
    assert format_time(0) == "0001-01-01T00:00:00Z"


def test_format_time_examples() -> None:
    assert format_time(1) == "1970-01-01T00:00:00.000000001Z"
    assert format_time(NOW) == "2025-01-01T10:00:00.123456789Z"


@given(st.integers(min_value=1, max_value=253_402_300_799 * 10**9))  # up to 9999-12-31
def test_format_time_is_rfc3339_and_exact(ns: int) -> None:
    text = format_time(ns)
    parsed = datetime.fromisoformat(text)
    assert parsed.tzinfo is not None and parsed.utcoffset().total_seconds() == 0
    assert int(parsed.replace(microsecond=0).timestamp()) == ns // 10**9
    assert text[20:29] == f"{ns % 10**9:09d}"
