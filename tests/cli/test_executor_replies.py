"""`colonies executor start` reads the replies it acts on through their Structs (ProcessReply,
Function, Executor): against a real `colonies dev` server (without its own executor), with the
executor talking to it through a real proxy that rewrites replies the way a server of another
version would send them.

* An assign reply of another shape is one warning line naming the field, with the hint; the process
  it names is failed with that error, and the executor goes on to serve the next one.
* Go's nulls and unknown keys in an assign reply are read as the Go executors read them; the
  function gets args, kwargs and inputs as the plain JSON values that were submitted.
* A process reply of another shape while a process runs is said once; the process runs on.
"""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from colonies_pkg.client import Client
from colonies_pkg.models.process import Conditions, FunctionSpec, ProcessState
from colonies_pkg.rpc.messages import CancelProcessMsg, GetProcessMsg, SubmitFuncSpecMsg
from colonies_pkg.rpc.replies import ProcessReply

from .conftest import COLONY_PRV, REPO, USER_PRV, Cli, ServerProcess, base_env, uniq
from .rewriting_proxy import RewritingProxy

WAIT = 60.0  # a ceiling for waits on real processes: a failure guard, not a timing assertion


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}", pytrace=False)
        time.sleep(0.1)
    return value


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("exec-dev"), "--no-executor", environ=base_env()) as srv:
        yield srv


@pytest.fixture(scope="module")
def proxy(server: ServerProcess) -> Iterator[RewritingProxy]:
    with RewritingProxy(server.port) as p:
        yield p


class Executor:
    """`colonies executor start --type cli` registered with the colony key, talking through the proxy."""

    def __init__(self, server: ServerProcess, proxy: RewritingProxy, log: Path) -> None:
        self.name, self.log = uniq("cli-exec"), log
        env = Cli(server).env | {"COLONIES_SERVER_PORT": str(proxy.port), "COLONIES_COLONY_PRVKEY": COLONY_PRV}
        with open(log, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "colonies.py", "executor", "start", "--type", "cli",
                                          "--name", self.name], cwd=REPO, env=env, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(lambda: "Executor started" in self.output() or self.proc.poll() is not None, "the executor")
        assert self.proc.poll() is None, self.output()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def lines(self, fragment: str) -> list[str]:
        return [line for line in self.output().splitlines() if fragment in line]


@pytest.fixture(scope="module")
def executor(server: ServerProcess, proxy: RewritingProxy,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Executor]:
    ex = Executor(server, proxy, tmp_path_factory.mktemp("exec-log") / "executor.log")
    try:
        yield ex
    finally:
        ex.proc.send_signal(signal.SIGINT)
        try:
            ex.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            ex.proc.kill()
            ex.proc.wait(10)
    assert ex.proc.returncode == 0 and "Traceback" not in ex.output(), ex.output()


@pytest.fixture
def user(server: ServerProcess) -> Iterator[Client]:
    client = Client("127.0.0.1", server.port)  # straight to the server: nothing rewritten
    yield client
    client.close()


@pytest.fixture(autouse=True)
def no_rewrites_left(proxy: RewritingProxy) -> Iterator[None]:
    yield
    proxy.rewrite.clear()


def submit(user: Client, funcname: str = "echo", **fields: Any) -> str:
    spec = FunctionSpec(funcname=funcname, maxwaittime=-1, maxexectime=-1, maxretries=0,
                        conditions=Conditions(colonyname="dev", executortype="cli"), **fields)
    return user.rpc(SubmitFuncSpecMsg(spec=spec), USER_PRV, reply=ProcessReply).processid


def process(user: Client, pid: str) -> ProcessReply:
    return user.rpc(GetProcessMsg(processid=pid), USER_PRV, reply=ProcessReply)


def ended(user: Client, pid: str) -> ProcessReply:
    return wait_for(lambda: (p := process(user, pid)).state >= ProcessState.SUCCESS and p, f"process {pid} to end")


def served_next(user: Client) -> None:
    """The executor goes on: the next process runs and succeeds."""
    pid = submit(user, args=["still", "serving"])
    done = ended(user, pid)
    assert done.state == ProcessState.SUCCESS and done.out == ["still", "serving"], done


# --- assign replies of another shape -----------------------------------------------------------------
def with_spec(**fields: Any) -> Callable[[Any], Any]:
    return lambda p: {**p, "spec": {**p["spec"], **fields}}


SHAPES = {  # name: (rewrite of the assign reply, what the error names)
    "args an object": (with_spec(args={"a": 1}), "Expected `array | null`, got `object` - at `$.spec.args`"),
    "env a list": (with_spec(env=["A=1"]), "Expected `object | null`, got `array` - at `$.spec.env`"),
    "state as text": (lambda p: {**p, "state": "running"}, "Expected `int`, got `str` - at `$.state`"),
    "maxexectime past int64": (with_spec(maxexectime=2**63),
                               "Expected `int` <= 9223372036854775807 - at `$.spec.maxexectime`"),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_an_assign_reply_of_another_shape_fails_its_process_and_the_executor_goes_on(
        executor: Executor, proxy: RewritingProxy, user: Client, shape: str) -> None:
    rewrite, names_the_field = SHAPES[shape]
    proxy.rewrite["assignprocessmsg"] = rewrite
    pid = submit(user, args=["never", "echoed"])
    failed = ended(user, pid)
    proxy.rewrite.clear()
    error = f"invalid reply from server (HTTP 200): {names_the_field}"
    assert failed.state == ProcessState.FAILED and failed.out == [], failed
    assert failed.errors == [f"executor {executor.name} could not read the process the server assigned to it: {error}"]
    # one line says it all (written once the process is failed): no "Process assigned" for what could not be read
    [line] = wait_for(lambda: executor.lines(pid), "the warning")
    assert line.startswith("WARN[") and "Could not read an assigned process; failed it" in line, line
    assert f"Error={json.dumps(error)}" in line and f"ProcessId={pid}" in line, line
    hint = f"the server at 127.0.0.1:{proxy.port} sent a assignprocessmsg reply of another shape"
    assert re.search(rf'Hint="{re.escape(hint)}[^"]*"', line), line
    served_next(user)


def test_an_assign_reply_without_a_process_id_is_said_and_the_executor_goes_on(
        executor: Executor, proxy: RewritingProxy, user: Client) -> None:
    proxy.rewrite["assignprocessmsg"] = lambda p: {k: v for k, v in p.items() if k != "processid"}
    before = len(executor.lines("Could not read an assigned process"))
    pid = submit(user, args=["nameless"])
    said = wait_for(lambda: executor.lines("Could not read an assigned process")[before:], "the warning")
    proxy.rewrite.clear()
    assert len(said) == 1 and "Object missing required field `processid`" in said[0], said
    assert "Hint=" in said[0] and "ProcessId=" not in said[0], said
    stuck = process(user, pid)  # it cannot be failed without its id: it is the server's to time out
    assert stuck.state == ProcessState.RUNNING and stuck.out == [], stuck
    served_next(user)
    user.rpc(CancelProcessMsg(processid=pid), USER_PRV)


# --- what reads as it did ------------------------------------------------------------------------------
def go_nulls(p: dict[str, Any]) -> dict[str, Any]:
    """The process as a Go server may write it: nil slices and maps as null; and a key from a newer one."""
    spec = {**p["spec"], "kwargs": None, "fs": None, "env": None,
            "conditions": {**p["spec"]["conditions"], "executornames": None, "gpu": None}}
    return {**p, "attributes": None, "in": None, "out": None, "spec": spec, "fromanewerserver": {"z": [1]}}


def test_go_nulls_and_unknown_keys_in_an_assign_reply_read_as_empty(executor: Executor, proxy: RewritingProxy,
                                                                    user: Client) -> None:
    proxy.rewrite["assignprocessmsg"] = go_nulls
    pid = submit(user, args=["a", "b"], kwargs={"k": "v"})
    done = ended(user, pid)
    assert json.loads(proxy.sent["assignprocessmsg"])["spec"]["kwargs"] is None  # it went through the proxy
    assert done.state == ProcessState.SUCCESS and done.out == ["a", "b"], done


def test_functions_get_args_kwargs_and_inputs_as_the_json_values_submitted(executor: Executor,
                                                                          user: Client) -> None:
    values = [1, 2.5, -0.0, "s", True, None, {"k": [1, {"n": None}], "": "empty key"}, [], 2**62]
    done = ended(user, submit(user, args=values))
    assert done.state == ProcessState.SUCCESS and done.out == values, done
    assert [type(v) for v in done.out] == [type(v) for v in values]  # 1 stays an int, 2.5 a float
    summed = ended(user, submit(user, "sum", args=[1, "2", 3.5]))
    assert summed.state == ProcessState.SUCCESS and summed.out == [6.5], summed


# --- the monitor's look at a running process --------------------------------------------------------------
class Counted:
    """A rewrite that counts the replies it rewrote."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn, self.count = fn, 0

    def __call__(self, payload: Any) -> Any:
        self.count += 1
        return self.fn(payload)


def test_a_process_reply_of_another_shape_while_it_runs_is_said_once_and_it_runs_on(
        executor: Executor, proxy: RewritingProxy, user: Client) -> None:
    pid = submit(user, "sleep", args=[3600])
    wait_for(lambda: any(pid in line for line in executor.lines("Process assigned")), "the sleep to be assigned")
    rewrite = proxy.rewrite["getprocessmsg"] = Counted(lambda p: {**p, "state": "running"})  # the monitor's look
    said = wait_for(lambda: executor.lines("Could not read the state of a running process"), "the warning")
    seen = rewrite.count
    wait_for(lambda: rewrite.count >= seen + 2, "two more looks of the monitor")
    proxy.rewrite.clear()
    assert len(said) == 1 and f"ProcessId={pid}" in said[0], said
    assert "Expected `int`, got `str` - at `$.state`" in said[0] and "Hint=" in said[0], said
    assert len(executor.lines("Could not read the state of a running process")) == 1  # said once
    assert process(user, pid).state == ProcessState.RUNNING  # not stopped on a state it could not read
    user.rpc(CancelProcessMsg(processid=pid), USER_PRV)
    stopped = wait_for(lambda: [line for line in executor.lines("Process stopped") if pid in line], "the stop")
    assert 'Reason="the process was cancelled"' in stopped[0], stopped
