"""`colonies dev --containers`: the containers tutorial against the dev server's `dev-container`
executor; one line when no runtime is found; the sample executor's `--shell` `execute` streams its
output and is killed on cancel; Ctrl-C fails what runs and leaves no container behind.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from colonies_pkg.client import Client
from colonies_pkg.executor.container import LABEL_EXECUTOR, LABEL_PROCESS

from .conftest import REPO, Proc, Runtime, base_env, free_port, uniq, wait_for

USER_PRV = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"
RUNNING, SUCCESSFUL, FAILED, CANCELLED = 1, 2, 3, 4


class Dev(Proc):
    def __init__(self, tmp: Path, *args: str, env: dict[str, str] | None = None,
                 ready: tuple[str, ...] = ("dev-executor", "dev-container")) -> None:
        self.port = free_port()
        self.ready = [f"Executor {name} (" for name in ready]  # its "serving: ..." line
        super().__init__(["dev", "--port", str(self.port), "--data-dir", str(tmp / "data"), *args],
                         base_env() | (env or {}), tmp / "dev.log")

    def start(self) -> None:
        started = len(self.output())
        super().start()

        def up() -> bool:
            assert self.alive(), self.output()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1) as r:
                    return r.status == 200 and all(line in self.output()[started:] for line in self.ready)
            except OSError:
                return False

        wait_for(up, f"dev on port {self.port}")

    def exports(self) -> dict[str, str]:
        exports = dict(line[len("export "):].split("=", 1) for line in self.output().splitlines()
                       if line.startswith("export "))
        return base_env() | exports

    def cli(self, *argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(REPO / "colonies.py"), *argv], cwd=cwd or REPO, env=self.exports(),
                              capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)

    def rpc(self, msg: dict[str, object]) -> object:
        client = Client("127.0.0.1", self.port)
        try:
            return client.rpc(msg, USER_PRV)
        finally:
            client.close()

    def process(self, pid: str) -> dict[str, object]:
        return dict(self.rpc({"msgtype": "getprocessmsg", "processid": pid}))  # type: ignore[arg-type]

    def logs(self, pid: str) -> str:
        logs = self.rpc({"msgtype": "getlogsmsg", "colonyname": "dev", "processid": pid, "count": 100}) or []
        return "".join(entry["message"] for entry in logs)  # type: ignore[union-attr,index]


@pytest.fixture(scope="module")
def dev(runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    server = Dev(tmp_path_factory.mktemp("dev"), "--containers", "--shell", env=runtime.env)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_tutorial_against_dev_containers(dev: Dev, runtime: Runtime, tmp_path: Path) -> None:
    assert "Executor dev-container (container-executor, podman" in dev.output()
    listed = dev.cli("executor", "ls", "--json")
    assert {"dev-container": "container-executor"}.items() <= {
        e["executorname"]: e["executortype"] for e in json.loads(listed.stdout)}.items()
    conditions = {"executortype": "container-executor", "nodes": 1, "processespernode": 1, "mem": "1Gi",
                  "cpu": "500m", "walltime": 200, "gpu": {"count": 0}}
    echo = {"conditions": conditions, "funcname": "execute",
            "kwargs": {"cmd": "echo", "docker-image": runtime.image, "args": ["hello", "world"]},
            "maxwaittime": -1, "maxexectime": 100, "maxretries": 3}
    (tmp_path / "echo.json").write_text(json.dumps(echo))
    result = dev.cli("function", "submit", "--spec", "echo.json", "--follow", cwd=tmp_path)
    assert result.returncode == 0 and "hello world" in result.stdout.splitlines(), result
    (tmp_path / "myfiles").mkdir()
    (tmp_path / "myfiles" / "hello.txt").write_text("Hello world\n")
    assert dev.cli("fs", "sync", "-l", "/myfiles", "-d", "./myfiles", "--yes", cwd=tmp_path).returncode == 0
    myfiles = dict(echo, kwargs={"cmd": "cat", "docker-image": runtime.image, "args": ["/cfs/myfiles/hello.txt"]},
                   fs={"mount": "/cfs", "dirs": [{"label": "/myfiles", "dir": "/myfiles", "keepfiles": False,
                                                  "onconflicts": {"onstart": {"keeplocal": False},
                                                                  "onclose": {"keeplocal": True}}}]})
    (tmp_path / "myfiles.json").write_text(json.dumps(myfiles))
    result = dev.cli("function", "submit", "--spec", "./myfiles.json", "--follow", cwd=tmp_path)
    assert result.returncode == 0 and "Hello world" in result.stdout.splitlines(), result


def test_shell_execute_streams_and_is_killed_on_cancel(dev: Dev) -> None:
    marker = uniq("marker")
    pid = str(dev.rpc({"msgtype": "submitfuncspecmsg", "spec": {  # type: ignore[index]
        "funcname": "execute", "args": ["sh", "-c", f"echo first; sleep 600; : {marker}"], "maxexectime": -1,
        "maxwaittime": -1, "maxretries": 0, "conditions": {"colonyname": "dev", "executortype": "cli"}}})["processid"])
    wait_for(lambda: "first" in dev.logs(pid), "the first line of the command")
    assert dev.process(pid)["state"] == RUNNING

    def command_runs() -> bool:
        return marker in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout

    assert command_runs()
    assert dev.cli("process", "cancel", "-p", pid).returncode == 0
    wait_for(lambda: not command_runs(), "the cancelled command to be killed")
    assert dev.process(pid)["state"] == CANCELLED


def test_ctrl_c_fails_the_running_container_process(runtime: Runtime, tmp_path: Path) -> None:
    dev = Dev(tmp_path, "--containers", env=runtime.env)
    dev.start()
    try:
        submitted = dev.cli("function", "exec", "--func", "execute", "--targettype", "container-executor",
                            "--kwargs", "cmd=sleep 600", "--kwargs", f"docker-image={runtime.image}")
        pid = submitted.stderr.split("ProcessId=")[1].split()[0]
        wait_for(lambda: runtime.containers(LABEL_PROCESS, pid, all_states=False), "the container to run")
    finally:
        assert dev.stop() == 0
    assert not runtime.containers(LABEL_EXECUTOR, "dev-container")
    dev.start()  # the same data directory: the process was failed before the server stopped
    try:
        process = dev.process(pid)
        assert process["state"] == FAILED
        assert process["errors"] == ["executor dev-container was stopped while the process was running"]
    finally:
        dev.stop()


def test_no_runtime_is_one_line_and_dev_still_serves(tmp_path: Path) -> None:
    dev = Dev(tmp_path, "--containers", env={"COLONIES_CONTAINER_RUNTIME": "/nonexistent/podman",
                                             "PATH": os.environ.get("PATH", "")}, ready=("dev-executor",))
    dev.start()
    try:
        lines = [line for line in dev.output().splitlines() if "container" in line.lower()]
        assert lines == ["No container runtime, so no container executor dev-container: "
                         "container runtime '/nonexistent/podman' not found on PATH"]
        result = dev.cli("function", "exec", "--func", "fibonacci", "--args", "10", "--targettype", "cli", "--wait",
                         "--out")
        assert result.returncode == 0 and result.stdout.split() == ["55"], result
    finally:
        dev.stop()
