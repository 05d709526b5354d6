"""`Client.rpc` against a real server on a real socket (uvicorn in a thread): request Structs go
out, replies come back as model/reply Structs (or plain JSON), error replies raise the
`errors.py` class of their status, and a reply that does not fit the asked type is an error."""
from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest
from server_process import DEV_COLONY_PRV, DEV_USER_PRV, SERVER_PRV, ThreadServer

from colonies_pkg.client import Client, InvalidReply
from colonies_pkg.crypto import generate_prvkey, id_of_prvkey
from colonies_pkg.errors import BadRequest, ColoniesError, Forbidden, NotFound
from colonies_pkg.models.colony import Colony, Statistics, User
from colonies_pkg.models.executor import Executor, Function
from colonies_pkg.models.process import Attribute, Conditions, FunctionSpec
from colonies_pkg.rpc import messages as m
from colonies_pkg.rpc.replies import PauseStatusReply, ProcessReply

COLONY = "crpc"
EXECUTOR_PRV = generate_prvkey()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    with ThreadServer(tmp_path_factory.mktemp("client-rpc")) as srv:
        c = Client("127.0.0.1", srv.port)
        c.rpc(m.AddColonyMsg(colony=Colony(colonyid=id_of_prvkey(DEV_COLONY_PRV), name=COLONY)), SERVER_PRV)
        c.rpc(m.AddUserMsg(user=User(colonyname=COLONY, userid=id_of_prvkey(DEV_USER_PRV), name="u")),
              DEV_COLONY_PRV)
        c.rpc(m.AddExecutorMsg(executor=Executor(executorname="e", executortype="t", colonyname=COLONY,
                                                 executorid=id_of_prvkey(EXECUTOR_PRV))), DEV_COLONY_PRV)
        c.rpc(m.ApproveExecutorMsg(colonyname=COLONY, executorname="e"), DEV_COLONY_PRV)
        yield c
        c.close()


def test_replies_decode_into_the_asked_structs(client: Client) -> None:
    assert client.rpc(m.GetColonyMsg(colonyname=COLONY), DEV_USER_PRV, reply=Colony) == Colony(
        colonyid=id_of_prvkey(DEV_COLONY_PRV), name=COLONY)
    users = client.rpc(m.GetUsersMsg(colonyname=COLONY), DEV_USER_PRV, reply=list[User])
    assert [(u.name, u.userid) for u in users] == [("u", id_of_prvkey(DEV_USER_PRV))]
    stats = client.rpc(m.GetColonyStatsMsg(colonyname=COLONY), DEV_USER_PRV, reply=Statistics)
    assert stats.executors == 1 and stats.waitingprocesses == 0
    assert client.rpc(m.GetPauseStatusMsg(colonyname=COLONY), DEV_USER_PRV,
                      reply=PauseStatusReply) == PauseStatusReply(colonyname=COLONY, ispaused=False)
    assert client.rpc(m.GetColonyMsg(colonyname=COLONY), DEV_USER_PRV) == {
        "colonyid": id_of_prvkey(DEV_COLONY_PRV), "name": COLONY}


def test_a_process_goes_round_with_structs(client: Client) -> None:
    spec = FunctionSpec(funcname="echo", args=["a", None], maxexectime=-1, maxwaittime=-1,
                        conditions=Conditions(colonyname=COLONY, executortype="t"))
    submitted = client.rpc(m.SubmitFuncSpecMsg(spec=spec), DEV_USER_PRV)
    assert submitted["spec"]["args"] == ["a", None]
    assigned = client.rpc(m.AssignProcessMsg(colonyname=COLONY, timeout=5), EXECUTOR_PRV, timeout=30)
    assert assigned["processid"] == submitted["processid"]
    client.rpc(m.CloseSuccessfulMsg(processid=assigned["processid"], out=[1, "two"]), EXECUTOR_PRV)
    done = client.rpc(m.GetProcessMsg(processid=assigned["processid"]), DEV_USER_PRV)
    assert done["state"] == 2 and done["out"] == [1, "two"]
    added = client.rpc(m.AddFunctionMsg(fun=Function(executorname="e", colonyname=COLONY, funcname="echo")),
                       EXECUTOR_PRV, reply=Function)
    assert added.functionid and added.funcname == "echo"


def test_error_replies_raise_the_class_of_their_status(client: Client) -> None:
    with pytest.raises(NotFound) as missing:
        client.rpc(m.GetProcessMsg(processid="0" * 64), DEV_USER_PRV)
    assert missing.value.status == 404
    with pytest.raises(Forbidden) as refused:
        client.rpc(m.GetColoniesMsg(), DEV_USER_PRV)  # only the server owner lists colonies
    assert refused.value.status == 403
    with pytest.raises(ColoniesError, match=r"invalid reply from server \(HTTP 200\): Expected `array`"):
        client.rpc(m.GetColonyMsg(colonyname=COLONY), DEV_USER_PRV, reply=list[Colony])  # not what it sends
    with pytest.raises(BadRequest):
        client.rpc(m.GetProcessesMsg(colonyname=COLONY, count=-5, state=99), DEV_USER_PRV)


def test_an_unsigned_message_needs_no_key(client: Client) -> None:
    info = client.rpc(m.GetServerInfoMsg(), None)
    assert info["buildversion"]
    version = client.rpc(m.VersionMsg(), None, reply=m.VersionMsg)
    assert version.buildversion == info["buildversion"]
    with pytest.raises(ColoniesError):
        client.rpc(m.GetColonyMsg(colonyname=COLONY), None)  # signed messages need a signature


def test_process_replies_decode_into_process_reply_key_for_key(client: Client) -> None:
    """ProcessReply is the wire shape of a process: every key the server sends is a field of it and
    every field is a key the server sends (the spec is the request's FunctionSpec)."""
    spec = FunctionSpec(funcname="echo", args=[1], kwargs={"k": "v"}, maxexectime=-1, maxwaittime=-1,
                        conditions=Conditions(colonyname=COLONY, executortype="t"))
    pid = client.rpc(m.SubmitFuncSpecMsg(spec=spec), DEV_USER_PRV, reply=ProcessReply).processid
    assert client.rpc(m.AssignProcessMsg(colonyname=COLONY, timeout=5), EXECUTOR_PRV, timeout=30,
                      reply=ProcessReply).processid == pid
    client.rpc(m.AddAttributeMsg(attribute=Attribute(targetid=pid, key="k", value="v", attributetype=1)),
               EXECUTOR_PRV)
    typed, plain = client.rpc_json(m.GetProcessMsg(processid=pid), DEV_USER_PRV, ProcessReply)
    client.rpc(m.CloseSuccessfulMsg(processid=pid, out=[]), EXECUTOR_PRV)
    fields = {f.encode_name for f in msgspec.structs.fields(ProcessReply)}
    assert fields == set(plain)
    assert {f.encode_name for f in msgspec.structs.fields(FunctionSpec)} >= set(plain["spec"])
    assert (typed.processid, typed.spec.funcname, typed.spec.args, typed.spec.kwargs) == (pid, "echo", [1], {"k": "v"})
    assert typed.conditions.executortype == "t" and typed.in_ == [] and typed.errors == []
    assert typed.attributes is not None and [(a.key, a.value) for a in typed.attributes] == [("k", "v")]
    assert typed.submissiontime == plain["submissiontime"] and typed.endtime == "0001-01-01T00:00:00Z"
    assert typed.isassigned and typed.state == 1 and typed.starttime == plain["starttime"]


def test_a_reply_of_another_shape_raises_invalid_reply_with_a_hint(client: Client) -> None:
    with pytest.raises(InvalidReply) as caught:
        client.rpc_json(m.GetColonyMsg(colonyname=COLONY), DEV_USER_PRV, ProcessReply)
    assert str(caught.value) == "invalid reply from server (HTTP 200): Object missing required field `processid`"
    assert caught.value.hint is not None and "sent a getcolonymsg reply of another shape" in caught.value.hint
    assert isinstance(caught.value, ColoniesError)  # callers catching ColoniesError still see it
