"""Fixtures for tests with real containers (podman), a real `server start` and real
`executor start` subprocesses.

* ``runtime`` (session) -- builds a busybox image from the host's static busybox (no registry)
  under a unique tag and the settings these machines need (CONTAINERS.md): ``runtime.env`` holds
  COLONIES_CONTAINER_RUNTIME, COLONIES_CONTAINER_RUNTIME_FLAGS (runc + cgroupfs when runc is
  installed; COLONIES_TEST_RUNTIME_FLAGS overrides), CONTAINERS_CONF (no default ulimits) and a
  1 s stop grace period. Skips, saying why, only when podman is not installed.
* ``server`` (module) -- ``colonies.py server start`` on a free port with colony ``test`` and a user.
* ``Server``, ``ExecutorProc`` -- start more of them (restart tests use their own).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from colonies_pkg.client import Client
from colonies_pkg.crypto import generate_prvkey, id_of_prvkey

REPO = Path(__file__).resolve().parents[2]
SERVER_PRV = "fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d"
COLONY = "test"
WAIT = 90.0  # a ceiling for waits on real processes: a failure guard, not a timing assertion
APPLETS = ("sh", "echo", "cat", "ls", "sleep", "printf", "test", "[", "true", "false", "mkdir", "env", "touch")


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = WAIT, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}", pytrace=False)
        time.sleep(every)


class Runtime(NamedTuple):
    command: str
    image: str
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        flags = self.env["COLONIES_CONTAINER_RUNTIME_FLAGS"].split()
        return subprocess.run([self.command, *flags, *args], capture_output=True, text=True, timeout=120,
                              env=os.environ | self.env)

    def containers(self, label: str, value: str, all_states: bool = True) -> list[str]:
        """Names of containers with this label (also exited ones unless all_states=False)."""
        args = ["ps", "--filter", f"label={label}={value}", "--format", "{{.Names}}"]
        result = self.run(*(args[:1] + (["-a"] if all_states else []) + args[1:]))
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    def inspect(self, name: str) -> dict[str, Any]:
        result = self.run("inspect", name)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)[0]


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    podman = shutil.which("podman")
    busybox = shutil.which("busybox")
    if podman is None or busybox is None:
        pytest.skip("podman and busybox-static are needed (apt-get install podman runc busybox-static; "
                    ".ci/run installs them)")
    tmp = tmp_path_factory.mktemp("image")
    rootfs = tmp / "rootfs" / "bin"
    rootfs.mkdir(parents=True)
    shutil.copy(busybox, rootfs / "busybox")
    for applet in APPLETS:
        (rootfs / applet).symlink_to("busybox")
    subprocess.run(["tar", "-C", str(tmp / "rootfs"), "-cf", str(tmp / "busybox.tar"), "."], check=True)
    conf = tmp / "containers.conf"
    conf.write_text("[containers]\ndefault_ulimits = []\n")
    flags = os.environ.get("COLONIES_TEST_RUNTIME_FLAGS")
    if flags is None:
        flags = "--runtime runc --cgroup-manager=cgroupfs" if shutil.which("runc") else ""
    env = {"CONTAINERS_CONF": str(conf), "COLONIES_CONTAINER_RUNTIME": "podman",
           "COLONIES_CONTAINER_RUNTIME_FLAGS": flags, "COLONIES_CONTAINER_STOP_GRACE": "1"}
    rt = Runtime(podman, f"localhost/colonies-test-busybox:{uuid.uuid4().hex[:8]}", env)
    imported = rt.run("import", str(tmp / "busybox.tar"), rt.image)
    assert imported.returncode == 0, imported.stderr
    probe = rt.run("run", "--rm", rt.image, "echo", "ok")
    assert probe.returncode == 0 and probe.stdout.strip() == "ok", f"podman cannot run containers here:\n{probe.stderr}"
    try:
        yield rt
    finally:
        rt.run("rmi", "-f", rt.image)


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COLONIES_", "CONTAINERS_CONF"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Proc:
    """A `python colonies.py ...` subprocess with its output in a file."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.argv, self.env, self.log = argv, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "colonies.py", *self.argv], cwd=REPO, env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGINT, timeout: float = WAIT) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


class Server(Proc):
    """`colonies.py server start` with colony `test` (owner key `colony_prv`) and user `tester`."""

    def __init__(self, tmp: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.data = tmp / "server-data"
        env = base_env() | {"COLONIES_SERVER_PRVKEY": SERVER_PRV}
        super().__init__(["server", "start", "--host", "127.0.0.1", "--port", str(self.port),
                          "--data-dir", str(self.data)], env, tmp / "server.log")
        self.colony_prv = generate_prvkey()
        self.user_prv = generate_prvkey()

    def start(self) -> None:
        super().start()
        wait_for(self._healthy, f"the server on port {self.port}\n{self.output()}")

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"server exited with {self.proc.returncode}:\n{self.output()}", pytrace=False)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def create_colony(self) -> None:
        c = self.client()
        c.rpc({"msgtype": "addcolonymsg", "colony": {"colonyid": id_of_prvkey(self.colony_prv), "name": COLONY}},
              SERVER_PRV)
        c.rpc({"msgtype": "addusermsg", "user": {"colonyname": COLONY, "userid": id_of_prvkey(self.user_prv),
                                                 "name": "tester", "email": "", "phone": ""}}, self.colony_prv)
        c.close()

    def client(self) -> Client:
        return Client("127.0.0.1", self.port)

    def cli_env(self, **extra: str) -> dict[str, str]:
        return base_env() | {
            "COLONIES_SERVER_HOST": "127.0.0.1", "COLONIES_SERVER_PORT": str(self.port), "COLONIES_TLS": "false",
            "COLONIES_COLONY_NAME": COLONY, "COLONIES_PRVKEY": self.user_prv,
            "COLONIES_COLONY_PRVKEY": self.colony_prv} | extra

    def cli(self, *argv: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = WAIT) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(REPO / "colonies.py"), *argv], cwd=cwd or REPO,
                              env=env or self.cli_env(), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    # --- processes, as the user ------------------------------------------------------------------
    def submit(self, spec: dict[str, Any]) -> str:
        spec = {"maxwaittime": -1, "maxexectime": -1, "maxretries": 0, **spec}
        spec["conditions"] = {"colonyname": COLONY, **spec.get("conditions", {})}
        c = self.client()
        try:
            return str(c.rpc({"msgtype": "submitfuncspecmsg", "spec": spec}, self.user_prv)["processid"])
        finally:
            c.close()

    def process(self, pid: str) -> dict[str, Any]:
        c = self.client()
        try:
            return dict(c.rpc({"msgtype": "getprocessmsg", "processid": pid}, self.user_prv))
        finally:
            c.close()

    def logs(self, pid: str) -> str:
        c = self.client()
        try:
            logs = c.rpc({"msgtype": "getlogsmsg", "colonyname": COLONY, "processid": pid, "count": 500,
                          "since": 0, "executorname": ""}, self.user_prv) or []
            return "".join(entry["message"] for entry in logs)
        finally:
            c.close()

    def wait_state(self, pid: str, *states: int) -> dict[str, Any]:
        return wait_for(lambda: (p := self.process(pid))["state"] in states and p,
                        f"process {pid} to reach state {states}")

    def cancel(self, pid: str) -> None:
        c = self.client()
        try:
            c.rpc({"msgtype": "cancelprocessmsg", "processid": pid}, self.user_prv)
        finally:
            c.close()


class ExecutorProc(Proc):
    """`colonies.py executor start` against `server`, registered with the colony key."""

    def __init__(self, server: Server, tmp: Path, runtime: Runtime | None, *args: str, name: str | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.name = name or uniq("exec")
        self.mounts = tmp / f"{self.name}-mounts"
        full_env = server.cli_env(**(runtime.env if runtime else {})) | (env or {})
        argv = ["executor", "start", "--name", self.name, "--mount-dir", str(self.mounts), *args]
        super().__init__(argv, full_env, tmp / f"{self.name}.log")

    def start_and_wait(self) -> ExecutorProc:
        self.start()
        wait_for(lambda: "Executor started" in self.output() or not self.alive(), f"executor {self.name} to start")
        assert self.alive(), self.output()
        return self


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("server"))
    srv.start()
    srv.create_colony()
    try:
        yield srv
    finally:
        srv.stop()


def spec_execute(image: str, cmd: str, args: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """An `execute` function spec for a container executor."""
    kwargs: dict[str, Any] = {"cmd": cmd, "docker-image": image, "args": args or []}
    kwargs.update(extra.pop("kwargs", {}))
    return {"funcname": "execute", "kwargs": kwargs,
            "conditions": {"executortype": "container-executor", **extra.pop("conditions", {})}, **extra}
