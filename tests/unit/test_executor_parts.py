"""The executor's parts that need no server: how a container command line is built from a spec,
how the runtime is found, and commands run with streamed output (real subprocesses)."""
from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from colonies_pkg.errors import BadRequest, ColoniesError
from colonies_pkg.executor.container import (
    ContainerRuntime,
    RuntimeNotFound,
    _command,
    _env,
    _image,
    _mount_point,
    _write_env_file,
)
from colonies_pkg.executor.job import Job, StopReason
from colonies_pkg.executor.runner import backoff
from colonies_pkg.executor.stream import run_streaming
from colonies_pkg.models.process import GPU, Conditions
from colonies_pkg.rpc.replies import ProcessReply


class Collect(Job):
    def __init__(self) -> None:
        super().__init__("p" * 64, ProcessReply(processid="p" * 64), "test-executor")
        self.lines: list[str] = []

    def log(self, message: str) -> None:
        self.lines.append(message)


def fake_runtime(tmp_path: Path, name: str, works: bool = True) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\nexit 0\n" if works else "#!/bin/sh\necho 'Cannot connect to the daemon' >&2\nexit 1\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


# --- finding the runtime ---------------------------------------------------------------------------
def test_runtime_from_path_prefers_docker_then_podman(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    podman = fake_runtime(tmp_path, "podman")
    assert ContainerRuntime.find(environ={}).command == podman
    docker = fake_runtime(tmp_path, "docker")
    assert ContainerRuntime.find(environ={}).command == docker
    assert ContainerRuntime.find(environ={"COLONIES_CONTAINER_RUNTIME": "podman"}).command == podman
    assert ContainerRuntime.find("podman", environ={"COLONIES_CONTAINER_RUNTIME": "docker"}).command == podman
    fake_runtime(tmp_path, "docker", works=False)  # a docker CLI without its daemon is passed over
    assert ContainerRuntime.find(environ={}).command == podman
    fake_runtime(tmp_path, "podman", works=False)
    with pytest.raises(RuntimeNotFound, match=r"no working container runtime .docker: Cannot connect to the daemon; "
                                              r"podman: Cannot connect"):
        ContainerRuntime.find(environ={})
    assert ContainerRuntime.find("docker", environ={}).command == docker  # named: taken as it is
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(RuntimeNotFound, match="install docker or podman"):
        ContainerRuntime.find(environ={})


def test_runtime_flags_and_grace(tmp_path: Path) -> None:
    path = fake_runtime(tmp_path, "podman")
    rt = ContainerRuntime.find(path, environ={"COLONIES_CONTAINER_RUNTIME_FLAGS": "--runtime runc --log-level 'warn'",
                                              "COLONIES_CONTAINER_STOP_GRACE": "2.5"})
    assert rt.flags == ["--runtime", "runc", "--log-level", "warn"] and rt.stop_grace == 2.5 and rt.is_podman
    assert rt.argv("ps") == [path, "--runtime", "runc", "--log-level", "warn", "ps"]
    assert ContainerRuntime.find(path, flags="", environ={"COLONIES_CONTAINER_RUNTIME_FLAGS": "--x"}).flags == []
    with pytest.raises(ColoniesError, match="invalid container runtime flags"):
        ContainerRuntime.find(path, flags="--runtime 'runc")
    with pytest.raises(ColoniesError, match="0 to 3600"):
        ContainerRuntime.find(path, stop_grace=-1)
    with pytest.raises(RuntimeNotFound, match="'/no/such/docker' not found"):
        ContainerRuntime.find("/no/such/docker")


# --- the run command line ------------------------------------------------------------------------
def test_limits_from_conditions() -> None:
    docker, podman = ContainerRuntime("/usr/bin/docker"), ContainerRuntime("/usr/bin/podman")
    assert docker.limit_flags(Conditions()) == [] and docker.limit_flags(Conditions(cpu="", mem="", gpu=GPU(count=0))) == []
    assert docker.limit_flags(Conditions(cpu="500m", mem="1Gi", gpu=GPU(count=2))) == [
        "--cpus", "0.5", "--memory", f"{1024 ** 3}b", "--gpus", "2"]
    assert docker.limit_flags(Conditions(cpu="2", mem="512MB")) == ["--cpus", "2", "--memory", "512000000b"]
    assert podman.limit_flags(Conditions(gpu=GPU(count=2))) == ["--device", "nvidia.com/gpu=0", "--device",
                                                                 "nvidia.com/gpu=1"]
    with pytest.raises(BadRequest, match="Invalid cpu quantity"):
        docker.limit_flags(Conditions(cpu="lots"))


def test_command_from_kwargs() -> None:
    assert _command({"cmd": "echo", "args": ["hello", "world"]}) == ["echo", "hello", "world"]
    assert _command({"cmd": "sh -c", "args": ["echo 'a b'; exit 3"]}) == ["sh", "-c", "echo 'a b'; exit 3"]
    assert _command({"cmd": "python3 -u 'my script.py'", "args": [1, 2.5]}) == ["python3", "-u", "my script.py", "1",
                                                                                 "2.5"]
    for bad, message in (({}, "needs kwargs.cmd"), ({"cmd": "  "}, "needs kwargs.cmd"),
                         ({"cmd": "echo 'x"}, "not a valid command line"), ({"cmd": "echo", "args": "x"}, "a list")):
        with pytest.raises(ValueError, match=message):
            _command(bad)


def test_image_and_mount_point_cannot_smuggle_options() -> None:
    for good in ("ubuntu:20.04", "localhost/busybox:test", "registry.example.com:5000/team/app@sha256:" + "a" * 64):
        assert _image({"docker-image": f" {good} "}) == good
    for bad in ("--privileged", "-v=/:/host", "ubuntu 20.04", "ubuntu\nx", ""):
        with pytest.raises(ValueError, match="docker-image"):
            _image({"docker-image": bad})
    assert _mount_point("/cfs") == "/cfs" and _mount_point("data/") == "/data"
    for bad in ("/cfs:ro", "/cfs,readonly", "/a/../b"):
        with pytest.raises(ValueError, match=r"invalid fs.mount"):
            _mount_point(bad)


def test_env_file_holds_the_values_and_only_the_owner_reads_it() -> None:
    env = _env({"A": "1", "B": "two words", "MULTI": "line1\nline2"})
    path = _write_env_file(env)
    assert path is not None
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert Path(path).read_text() == "A=1\nB=two words\n"  # a value with a newline cannot be in it
    finally:
        os.unlink(path)
    argv = ContainerRuntime("docker").run_argv("n", "img", ["cmd"], env=env, env_file="/f", mount=("/host", "/cfs"),
                                               limits=["--cpus", "1"], labels={"colonies.processid": "p"})
    assert argv == ["docker", "run", "--name", "n", "--label", "colonies.processid=p", "--env-file", "/f",
                    "-e", "MULTI=line1\nline2", "-v", "/host:/cfs", "--cpus", "1", "img", "cmd"]
    assert _write_env_file({}) is None
    for bad in ({"A=B": "1"}, {"": "1"}, {"A\x00": "1"}):  # (an env that is not an object: tests/cli/test_executor_replies.py)
        with pytest.raises(ValueError):
            _env(bad)


def test_backoff_doubles_to_five_seconds() -> None:
    assert [backoff(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


# --- commands with streamed output ---------------------------------------------------------------
def test_streamed_output_lines_stderr_tail_and_exit_code() -> None:
    job = Collect()
    done = run_streaming(["sh", "-c", "echo one; echo two >&2; printf three; exit 4"], job, collect_stdout=True)
    assert done.returncode == 4 and not done.stopped
    assert sorted(job.lines) == ["one\n", "three\n", "two\n"]
    assert done.stdout == "one\nthree" and done.stderr_tail == "two"
    assert done.failure("command") == "command exited with 4: two"


def test_a_stopped_job_kills_a_command_that_ignores_sigterm() -> None:
    job = Collect()
    started = threading.Event()

    def stop_when_started() -> None:
        while not job.lines:
            started.wait(0.05)
        job.stop(StopReason(StopReason.CANCELLED, "the process was cancelled"))

    threading.Thread(target=stop_when_started, daemon=True).start()
    done = run_streaming(["sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done"], job, grace=0.5)
    assert done.stopped and done.returncode == -9
    assert str(job.reason) == "the process was cancelled" and job.lines == ["ready\n"]
