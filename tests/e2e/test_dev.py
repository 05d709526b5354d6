"""`python colonies.py dev` WITH the in-process sample executor ("dev-executor", type "cli"),
used with the docker-compose keys exactly like a user of the docs would; plus persistence of the
data dir across a restart."""

from __future__ import annotations

import time
from typing import Any

import pytest
from model import Conditions, FuncSpec, Workflow
from pycolonies import Colonies, ColoniesConnectionError

from .conftest import (
    DEV_COLONY_ID,
    DEV_COLONY_NAME,
    DEV_USER_ID,
    DEV_USER_PRV,
    SERVER_PRV,
    ServerProcess,
    poll_until,
    run_with_timeout,
)

BUILTINS = {"helloworld", "echo", "sleep", "fibonacci", "gen", "sum"}


@pytest.fixture
def dev(dev_server: ServerProcess) -> Colonies:
    return Colonies("127.0.0.1", dev_server.port)


def _spec(funcname: str, args: list[Any] | None = None, **kw: Any) -> FuncSpec:
    return FuncSpec(
        funcname=funcname,
        args=args or [],
        conditions=Conditions(colonyname=DEV_COLONY_NAME, executortype="cli"),
        **{"maxexectime": 30, "maxretries": 0, "maxwaittime": -1, **kw},
    )


def _run(c: Colonies, funcname: str, args: list[Any] | None = None) -> Any:
    p = c.submit_func_spec(_spec(funcname, args), DEV_USER_PRV)
    done = run_with_timeout(lambda: c.wait(p, 15, DEV_USER_PRV), 25, f"wait() for {funcname}")
    assert done.processid == p.processid
    assert done.state == 2, f"{funcname}: state {done.state}, errors {done.errors}"
    return done


def _executor_id(c: Colonies, name: str) -> str:
    for e in c.list_executors(DEV_COLONY_NAME, DEV_USER_PRV):
        if e["executorname"] == name:
            return str(e["executorid"])
    raise AssertionError(f"no executor {name!r}")


def test_dev_identities(dev: Colonies) -> None:
    colonies = dev.list_colonies(SERVER_PRV)
    devs = [c for c in colonies if c["name"] == DEV_COLONY_NAME]
    assert devs == [{"colonyid": DEV_COLONY_ID, "name": DEV_COLONY_NAME}]

    users = dev.get_users(DEV_COLONY_NAME, DEV_USER_PRV)
    assert any(u["name"] == "myuser" and u["userid"] == DEV_USER_ID for u in users), users

    execs = {e["executorname"]: e for e in dev.list_executors(DEV_COLONY_NAME, DEV_USER_PRV)}
    assert execs["dev-docker"]["executorid"] == DEV_USER_ID
    assert execs["dev-docker"]["executortype"] == "cli"
    assert execs["dev-docker"]["state"] == 1
    assert execs["dev-executor"]["executortype"] == "cli"
    assert execs["dev-executor"]["state"] == 1
    assert execs["dev-executor"]["executorid"] != DEV_USER_ID


def test_sample_executor_registers_functions(dev: Colonies) -> None:
    # the sample executor registers its functions right after the server is up (asynchronously)
    def registered() -> set[str] | None:
        funcs = dev.get_functions_by_executor(DEV_COLONY_NAME, "dev-executor", DEV_USER_PRV)
        names = {f["funcname"] for f in funcs}
        return names if names >= BUILTINS else None

    names = poll_until(registered, 10, what="sample executor functions to be registered")
    assert names >= BUILTINS


def test_helloworld(dev: Colonies) -> None:
    done = _run(dev, "helloworld")
    assert done.output == ["helloworld"]
    assert done.assignedexecutorid == _executor_id(dev, "dev-executor")
    assert done.initiatorid == DEV_USER_ID


def test_echo(dev: Colonies) -> None:
    assert _run(dev, "echo", ["hello", "world"]).output == ["hello", "world"]


def test_fibonacci(dev: Colonies) -> None:
    done = _run(dev, "fibonacci", [10])
    assert len(done.output) == 1
    assert int(done.output[0]) == 55


def test_sum_args(dev: Colonies) -> None:
    done = _run(dev, "sum", [1, 2, 3, 4])
    assert len(done.output) == 1
    assert float(done.output[0]) == 10


def test_sleep(dev: Colonies) -> None:
    t0 = time.monotonic()
    done = _run(dev, "sleep", [1])
    assert time.monotonic() - t0 >= 0.9
    assert done.output in (None, [])


def test_gen_sum_workflow(dev: Colonies) -> None:
    gen = FuncSpec(
        nodename="gen_node",
        funcname="gen",
        conditions=Conditions(colonyname=DEV_COLONY_NAME, executortype="cli"),
        maxexectime=30,
    )
    summ = FuncSpec(
        nodename="sum_node",
        funcname="sum",
        conditions=Conditions(colonyname=DEV_COLONY_NAME, executortype="cli", dependencies=["gen_node"]),
        maxexectime=30,
    )
    wf = Workflow(colonyname=DEV_COLONY_NAME, functionspecs=[gen, summ])
    try:
        graph = dev.submit_workflow(wf, DEV_USER_PRV)
    except ColoniesConnectionError as e:
        pytest.xfail(f"workflows issue: submit_workflow raised {e}")

    def finished() -> list[Any] | None:
        ps = [dev.get_process(pid, DEV_USER_PRV) for pid in graph.processids]
        return ps if all(p.state in (2, 3) for p in ps) else None

    ps = poll_until(finished, 20, what="gen/sum workflow to finish")
    by_node = {p.spec.nodename: p for p in ps}
    assert by_node["gen_node"].state == 2, by_node["gen_node"].errors
    assert by_node["sum_node"].state == 2, by_node["sum_node"].errors
    generated = by_node["gen_node"].output
    assert generated and all(isinstance(x, (int, float)) for x in generated)
    assert by_node["sum_node"].input == generated
    assert by_node["sum_node"].output == [sum(generated)]


def test_restart_keeps_data(dev_server: ServerProcess) -> None:
    c = Colonies("127.0.0.1", dev_server.port)
    done = _run(c, "echo", ["persist", "me"])
    pid = done.processid
    n_colonies = len(c.list_colonies(SERVER_PRV))

    dev_server.stop()
    assert dev_server.last_stop_graceful, "server did not exit within 10 s of SIGINT"
    dev_server.start(dev_server.port)  # same data dir, same port

    c = Colonies("127.0.0.1", dev_server.port)
    again = c.get_process(pid, DEV_USER_PRV)
    assert again.state == 2
    assert again.output == ["persist", "me"]
    assert again.submissiontime == done.submissiontime
    # the second start did not duplicate the dev colony or its identities
    colonies = c.list_colonies(SERVER_PRV)
    assert len(colonies) == n_colonies
    assert [x["name"] for x in colonies].count(DEV_COLONY_NAME) == 1
    names = [e["executorname"] for e in c.list_executors(DEV_COLONY_NAME, DEV_USER_PRV)]
    assert names.count("dev-executor") == 1
    assert names.count("dev-docker") == 1
    # and it serves work again
    assert _run(c, "helloworld").output == ["helloworld"]
