"""The container executor against a separate `server start`: `colonies executor start --type
container-executor --concurrency 4` running real podman containers.

Covers the containers tutorial's two specs through the CLI (`function submit --follow`, `fs sync`),
CFS write-back, logs streamed while the container runs, exit codes, maxexectime and cancel
stopping a long sleep, four processes at once, env and resource limits, image pulls.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from colonies_pkg.executor.container import LABEL_EXECUTOR, LABEL_PROCESS

from .conftest import ExecutorProc, Runtime, Server, spec_execute, uniq, wait_for

RUNNING, SUCCESSFUL, FAILED, CANCELLED = 1, 2, 3, 4


@pytest.fixture(scope="module")
def executor(server: Server, runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExecutorProc]:
    ex = ExecutorProc(server, tmp_path_factory.mktemp("executor"), runtime, "--type", "container-executor",
                      "--concurrency", "4").start_and_wait()
    try:
        yield ex
    finally:
        rc = ex.stop()
        leftovers = runtime.containers(LABEL_EXECUTOR, ex.name)
        runtime.run("rm", "-f", *leftovers) if leftovers else None
        assert rc == 0, ex.output()
        assert "Traceback" not in ex.output(), ex.output()
        assert not leftovers, f"containers left behind: {leftovers}"


def tutorial_spec(image: str, executor: str, **kwargs: object) -> dict[str, object]:
    """The tutorial's spec (echo.json), with our image and executor name."""
    spec = {
        "conditions": {"executortype": "container-executor", "executornames": [executor], "nodes": 1,
                       "processespernode": 1, "mem": "1Gi", "cpu": "500m", "walltime": 200, "gpu": {"count": 0}},
        "funcname": "execute",
        "kwargs": {"cmd": "echo", "docker-image": image, "args": ["hello", "world"]},
        "maxwaittime": -1, "maxexectime": 100, "maxretries": 3,
    }
    spec.update(kwargs)
    return spec


def test_tutorial_echo_spec_with_follow(server: Server, executor: ExecutorProc, runtime: Runtime,
                                        tmp_path: Path) -> None:
    spec = tmp_path / "echo.json"
    spec.write_text(json.dumps(tutorial_spec(runtime.image, executor.name)))
    result = server.cli("function", "submit", "--spec", str(spec), "--follow")
    assert result.returncode == 0, result
    assert "hello world" in result.stdout.splitlines()
    assert "Process finished successfully" in result.stderr


def test_tutorial_cfs_spec_cats_a_synced_file(server: Server, executor: ExecutorProc, runtime: Runtime,
                                              tmp_path: Path) -> None:
    label = "/" + uniq("myfiles")
    (tmp_path / "myfiles").mkdir()
    (tmp_path / "myfiles" / "hello.txt").write_text("Hello world\n")
    synced = server.cli("fs", "sync", "-l", label, "-d", "./myfiles", "--yes", cwd=tmp_path)
    assert synced.returncode == 0, synced
    spec = tutorial_spec(runtime.image, executor.name, fs={
        "mount": "/cfs",
        "dirs": [{"label": label, "dir": "/myfiles", "keepfiles": False,
                  "onconflicts": {"onstart": {"keeplocal": False}, "onclose": {"keeplocal": True}}}]})
    spec["kwargs"] = {"cmd": "cat", "docker-image": runtime.image, "args": ["/cfs/myfiles/hello.txt"]}
    (tmp_path / "myfiles.json").write_text(json.dumps(spec))
    result = server.cli("function", "submit", "--spec", "./myfiles.json", "--follow", cwd=tmp_path)
    assert result.returncode == 0, result
    assert "Hello world" in result.stdout.splitlines()


def test_files_written_in_the_container_are_synced_back_to_the_label(server: Server, executor: ExecutorProc,
                                                                      runtime: Runtime, tmp_path: Path) -> None:
    label = "/" + uniq("results")
    pid = server.submit(spec_execute(runtime.image, "sh", ["-c", "mkdir -p /cfs/out/sub && echo computed > "
                                                           "/cfs/out/result.txt && echo deep > /cfs/out/sub/x.txt"],
                                     fs={"mount": "/cfs", "dirs": [{"label": label, "dir": "/out"}]}))
    assert server.wait_state(pid, SUCCESSFUL, FAILED)["state"] == SUCCESSFUL, server.logs(pid)
    got = server.cli("fs", "sync", "-l", label, "-d", str(tmp_path / "back"), "--yes")
    assert got.returncode == 0, got
    assert (tmp_path / "back" / "result.txt").read_text() == "computed\n"
    assert (tmp_path / "back" / "sub" / "x.txt").read_text() == "deep\n"
    assert not list(executor.mounts.glob("*")), "the process's mount directory was not removed"


def test_logs_stream_while_the_container_runs_and_cancel_stops_it(server: Server, executor: ExecutorProc,
                                                                   runtime: Runtime) -> None:
    pid = server.submit(spec_execute(runtime.image, "sh", ["-c", "echo first line; echo to stderr >&2; sleep 600"]))
    wait_for(lambda: "first line" in server.logs(pid), "the first line in the process log")
    assert server.process(pid)["state"] == RUNNING  # seen while the container still sleeps
    assert "to stderr" in server.logs(pid)
    assert runtime.containers(LABEL_PROCESS, pid, all_states=False)
    followed = server.cli("log", "get", "-p", pid)
    assert "first line" in followed.stdout
    cancelled = server.cli("process", "cancel", "-p", pid)
    assert cancelled.returncode == 0, cancelled
    wait_for(lambda: not runtime.containers(LABEL_PROCESS, pid), "the cancelled container to be removed")
    assert server.process(pid)["state"] == CANCELLED


def test_non_zero_exit_fails_with_the_last_stderr_lines(server: Server, executor: ExecutorProc,
                                                        runtime: Runtime) -> None:
    pid = server.submit(spec_execute(runtime.image, "sh -c", ["echo partial; echo 'disk on fire' >&2; exit 3"]))
    process = server.wait_state(pid, SUCCESSFUL, FAILED)
    assert process["state"] == FAILED
    [error] = process["errors"]
    assert "exited with 3" in error and "disk on fire" in error
    assert "partial" in server.logs(pid)
    assert not runtime.containers(LABEL_PROCESS, pid)


def test_maxexectime_stops_a_long_sleep(server: Server, executor: ExecutorProc, runtime: Runtime) -> None:
    pid = server.submit(spec_execute(runtime.image, "sleep", ["600"], maxexectime=2, maxretries=0))
    process = server.wait_state(pid, FAILED, SUCCESSFUL)
    assert process["state"] == FAILED
    assert process["errors"] == ["Maximum execution time limit exceeded"]
    wait_for(lambda: not runtime.containers(LABEL_PROCESS, pid), "the timed-out container to be removed")


def test_four_processes_run_at_once(server: Server, executor: ExecutorProc, runtime: Runtime) -> None:
    marker = uniq("parallel")
    pids = [server.submit(spec_execute(runtime.image, "sleep", ["600"], env={"MARKER": marker})) for _ in range(4)]
    wait_for(lambda: all(server.process(p)["state"] == RUNNING for p in pids), "four running processes")
    wait_for(lambda: len(runtime.containers(LABEL_EXECUTOR, executor.name, all_states=False)) == 4,
             "four containers running at the same time")
    fifth = server.submit(spec_execute(runtime.image, "echo", ["fifth"]))
    assert server.process(fifth)["state"] == 0  # no free slot: not assigned to this executor
    for pid in pids:
        server.cancel(pid)
    assert server.wait_state(fifth, SUCCESSFUL, FAILED)["state"] == SUCCESSFUL
    wait_for(lambda: not runtime.containers(LABEL_EXECUTOR, executor.name), "all containers removed")


def test_env_and_resource_limits_reach_the_container(server: Server, executor: ExecutorProc,
                                                     runtime: Runtime) -> None:
    pid = server.submit(spec_execute(runtime.image, "sh", ["-c", 'echo "greeting=$GREETING"; sleep 600'],
                                     env={"GREETING": "hello there", "TOKEN": "s3cret"},
                                     conditions={"cpu": "500m", "mem": "64Mi"}))
    wait_for(lambda: "greeting=hello there" in server.logs(pid), "the env value in the log")
    [name] = runtime.containers(LABEL_PROCESS, pid, all_states=False)
    info = runtime.inspect(name)
    assert info["HostConfig"]["NanoCpus"] == 500_000_000
    assert info["HostConfig"]["Memory"] == 64 * 1024 * 1024
    assert "TOKEN=s3cret" in info["Config"]["Env"]
    assert "s3cret" not in " ".join(info["Config"].get("Cmd") or [])
    server.cancel(pid)
    wait_for(lambda: not runtime.containers(LABEL_PROCESS, pid), "the container to be removed")


def test_missing_image_is_pulled_and_a_failed_pull_fails_the_process(server: Server, executor: ExecutorProc,
                                                                     runtime: Runtime) -> None:
    image = f"localhost/{uniq('no-such-image')}:1"
    pid = server.submit(spec_execute(image, "echo", ["never"]))
    process = server.wait_state(pid, SUCCESSFUL, FAILED)
    assert process["state"] == FAILED
    [error] = process["errors"]
    assert error.startswith(f"could not pull image {image}: ") and len(error) > len(image) + 30
    assert f"Pulling image {image}" in server.logs(pid)


def test_rebuild_image_pulls_even_a_present_image(server: Server, executor: ExecutorProc, runtime: Runtime) -> None:
    # the test image exists only locally: a forced pull must try the registry (and fail here)
    pid = server.submit(spec_execute(runtime.image, "echo", ["hi"], kwargs={"rebuild-image": True}))
    process = server.wait_state(pid, SUCCESSFUL, FAILED)
    assert process["state"] == FAILED
    assert process["errors"][0].startswith(f"could not pull image {runtime.image}")
    kept = server.submit(spec_execute(runtime.image, "echo", ["hi"], kwargs={"rebuild-image": False}))
    assert server.wait_state(kept, SUCCESSFUL, FAILED)["state"] == SUCCESSFUL


def test_bad_kwargs_fail_with_a_clear_error(server: Server, executor: ExecutorProc, runtime: Runtime) -> None:
    no_image = server.submit({"funcname": "execute", "kwargs": {"cmd": "echo"},
                              "conditions": {"executortype": "container-executor"}})
    assert server.wait_state(no_image, FAILED, SUCCESSFUL)["errors"] == [
        "execute needs kwargs['docker-image'], the image to run"]
    no_cmd = server.submit(spec_execute(runtime.image, ""))
    assert server.wait_state(no_cmd, FAILED, SUCCESSFUL)["errors"] == [
        "execute needs kwargs.cmd, the command to run in the container"]
    smuggled = server.submit(spec_execute("-v=/:/host", runtime.image, ["cat", "/host/etc/shadow"]))
    [error] = server.wait_state(smuggled, FAILED, SUCCESSFUL)["errors"]
    assert error == "invalid kwargs['docker-image'] '-v=/:/host': not an image reference"
    other = server.submit({"funcname": "fibonacci", "conditions": {"executortype": "container-executor"}})
    [error] = server.wait_state(other, FAILED, SUCCESSFUL)["errors"]
    assert "Unknown function 'fibonacci'" in error and "execute" in error
