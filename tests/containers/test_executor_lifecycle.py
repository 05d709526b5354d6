"""`colonies executor start` over its life: a server restart while a container runs, Ctrl-C with
and without --drain, running as an already approved executor, and the refusals.

A container that must outlive an event waits for a gate file in its CFS mount
(`/cfs/go`, i.e. `<--mount-dir>/<process>-*/go` on the host) instead of sleeping a guessed time.
"""
from __future__ import annotations

import signal
from pathlib import Path

import pytest

from colonies_pkg.crypto import generate_prvkey, id_of_prvkey
from colonies_pkg.executor.container import LABEL_PROCESS

from .conftest import ExecutorProc, Runtime, Server, spec_execute, uniq, wait_for

RUNNING, SUCCESSFUL, FAILED = 1, 2, 3
GATED = "echo before; while [ ! -f /cfs/go ]; do sleep 0.1; done; echo after"


def gated_spec(image: str) -> dict[str, object]:
    return spec_execute(image, "sh", ["-c", GATED], fs={"mount": "/cfs", "dirs": [{"label": "/" + uniq("gate"),
                                                                                  "dir": "/work"}]})


def open_gate(executor: ExecutorProc, pid: str) -> None:
    [mount] = wait_for(lambda: list(executor.mounts.glob(f"{pid[:16]}-*")), "the process's mount directory")
    (mount / "go").write_text("")


def test_executor_survives_a_server_restart(runtime: Runtime, tmp_path: Path) -> None:
    server = Server(tmp_path)
    server.start()
    server.create_colony()
    executor = ExecutorProc(server, tmp_path, runtime, "--type", "container-executor").start_and_wait()
    try:
        pid = server.submit(gated_spec(runtime.image))
        wait_for(lambda: "before" in server.logs(pid), "the first line before the restart")
        assert server.stop() == 0
        open_gate(executor, pid)  # the container finishes while the server is down
        wait_for(lambda: not runtime.containers(LABEL_PROCESS, pid), "the container to end and be removed")
        wait_for(lambda: "Server unreachable" in executor.output(), "the executor to notice the server is gone")
        assert executor.alive()
        server.start()  # same port, same data directory
        process = server.wait_state(pid, SUCCESSFUL, FAILED)
        assert process["state"] == SUCCESSFUL, process["errors"]
        logs = server.logs(pid)
        assert "before" in logs and "after" in logs  # the line logged while the server was down arrived
        again = server.submit(spec_execute(runtime.image, "echo", ["after the restart"]))
        assert server.wait_state(again, SUCCESSFUL, FAILED)["state"] == SUCCESSFUL
        assert "after the restart" in server.logs(again)
        assert "Server reachable again" in executor.output()
    finally:
        rc = executor.stop()
        server.stop()
    assert rc == 0 and "Traceback" not in executor.output(), executor.output()


@pytest.fixture
def server(tmp_path: Path) -> Server:
    srv = Server(tmp_path)
    srv.start()
    srv.create_colony()
    yield srv
    srv.stop()


def test_ctrl_c_fails_running_processes_and_removes_their_containers(server: Server, runtime: Runtime,
                                                                      tmp_path: Path) -> None:
    executor = ExecutorProc(server, tmp_path, runtime, "--type", "container-executor").start_and_wait()
    pid = server.submit(spec_execute(runtime.image, "sleep", ["600"]))
    server.wait_state(pid, RUNNING)
    wait_for(lambda: runtime.containers(LABEL_PROCESS, pid, all_states=False), "the container to run")
    assert executor.stop(signal.SIGINT) == 0
    process = server.process(pid)
    assert process["state"] == FAILED
    assert process["errors"] == [f"executor {executor.name} was stopped while the process was running"]
    assert not runtime.containers(LABEL_PROCESS, pid)
    out = executor.output()
    assert "Stopping: failing running processes" in out and "Traceback" not in out
    names = server.cli("executor", "ls", "--json")
    assert executor.name not in names.stdout  # a self-registered executor unregisters when it stops


def test_drain_lets_running_processes_finish(server: Server, runtime: Runtime, tmp_path: Path) -> None:
    executor = ExecutorProc(server, tmp_path, runtime, "--type", "container-executor", "--drain").start_and_wait()
    pid = server.submit(gated_spec(runtime.image))
    wait_for(lambda: "before" in server.logs(pid), "the process to start")
    assert executor.proc is not None
    executor.proc.send_signal(signal.SIGINT)
    wait_for(lambda: "Draining" in executor.output(), "the executor to start draining")
    assert executor.alive() and server.process(pid)["state"] == RUNNING
    waiting = server.submit(spec_execute(runtime.image, "echo", ["not taken while draining"]))
    open_gate(executor, pid)
    assert server.wait_state(pid, SUCCESSFUL, FAILED)["state"] == SUCCESSFUL
    assert executor.proc.wait(60) == 0  # exits on its own once drained
    assert server.process(waiting)["state"] == 0
    assert "Traceback" not in executor.output()


def test_cli_type_runs_as_an_approved_executor_without_the_colony_key(server: Server, tmp_path: Path) -> None:
    prvkey = generate_prvkey()
    name = uniq("approved")
    added = server.cli("executor", "add", "--name", name, "--type", "cli", "--executorid", id_of_prvkey(prvkey),
                       "--approve")
    assert added.returncode == 0, added
    executor = ExecutorProc(server, tmp_path, None, "--type", "cli", "--concurrency", "2", "--shell", name=name,
                            env={"COLONIES_COLONY_PRVKEY": "", "COLONIES_PRVKEY": prvkey}).start_and_wait()
    try:
        pid = server.submit({"funcname": "fibonacci", "args": [10], "conditions": {"executortype": "cli"}})
        process = server.wait_state(pid, SUCCESSFUL, FAILED)
        assert process["state"] == SUCCESSFUL and process["out"] == [55]
        shell = server.submit({"funcname": "execute", "args": ["echo", "from", "the host"],
                               "conditions": {"executortype": "cli"}})
        assert server.wait_state(shell, SUCCESSFUL, FAILED)["out"] == ["from the host\n"]
        assert server.logs(shell) == "from the host\n"
        assert "Executor started" in executor.output() and "Executor registered" not in executor.output()
    finally:
        assert executor.stop() == 0
    still = server.cli("executor", "get", "--name", name, "--json")
    assert still.returncode == 0, still  # an executor it did not register stays registered


def test_a_busy_executor_heartbeats_so_it_is_not_unregistered_as_stale(tmp_path: Path) -> None:
    server = Server(tmp_path)
    server.env |= {"COLONIES_STALE_EXECUTOR_DURATION": "2", "COLONIES_CLEANUP_INTERVAL": "1"}
    server.start()
    server.create_colony()
    executor = ExecutorProc(server, tmp_path, None, "--type", "cli", "--heartbeat", "0.5").start_and_wait()
    try:  # longer than the stale duration, with the only slot busy: no assign calls meanwhile
        pid = server.submit({"funcname": "sleep", "args": [5], "conditions": {"executortype": "cli"}})
        process = server.wait_state(pid, SUCCESSFUL, FAILED)
        assert process["state"] == SUCCESSFUL and process["retries"] == 0
        listed = server.cli("executor", "get", "--name", executor.name, "--json")
        assert listed.returncode == 0 and '"state": 1' in listed.stdout  # still approved
    finally:
        assert executor.stop() == 0
        server.stop()


def test_an_executor_started_before_its_server_waits_for_it(tmp_path: Path) -> None:
    server = Server(tmp_path)
    server.start()
    server.create_colony()
    assert server.stop() == 0
    executor = ExecutorProc(server, tmp_path, None, "--type", "cli")
    executor.start()
    try:
        wait_for(lambda: "Waiting for the Colonies server" in executor.output(), "the executor to wait")
        assert executor.alive()
        server.start()
        wait_for(lambda: "Executor started" in executor.output(), "the executor to start once the server is up")
        pid = server.submit({"funcname": "echo", "args": ["late"], "conditions": {"executortype": "cli"}})
        assert server.wait_state(pid, SUCCESSFUL, FAILED)["out"] == ["late"]
    finally:
        assert executor.stop() == 0
        server.stop()
    assert "Traceback" not in executor.output()


def test_containers_left_by_a_killed_run_are_removed_at_start(server: Server, runtime: Runtime,
                                                                tmp_path: Path) -> None:
    prvkey = generate_prvkey()
    name = uniq("fixed")
    assert server.cli("executor", "add", "--name", name, "--type", "container-executor", "--executorid",
                      id_of_prvkey(prvkey), "--approve").returncode == 0
    left = runtime.run("create", "--label", f"colonies.executor={name}", runtime.image, "sleep", "600")
    assert left.returncode == 0, left.stderr
    assert runtime.containers("colonies.executor", name)
    executor = ExecutorProc(server, tmp_path, runtime, "--type", "container-executor", name=name,
                            env={"COLONIES_COLONY_PRVKEY": "", "COLONIES_PRVKEY": prvkey}).start_and_wait()
    try:
        assert not runtime.containers("colonies.executor", name)
        assert "Removed containers left by a previous run of this executor" in executor.output()
    finally:
        assert executor.stop() == 0


def test_refusals(server: Server, tmp_path: Path) -> None:
    def start(*args: str, **env: str) -> tuple[int, str]:
        result = server.cli("executor", "start", *args, env=server.cli_env(**env), timeout=60)
        return result.returncode, result.stderr

    pending = generate_prvkey()
    name = uniq("pending")
    assert server.cli("executor", "add", "--name", name, "--type", "cli", "--executorid",
                      id_of_prvkey(pending)).returncode == 0
    rc, err = start("--type", "cli", COLONIES_COLONY_PRVKEY="", COLONIES_PRVKEY=pending)
    assert rc == 1 and f"no approved executor with id {id_of_prvkey(pending)}" in err  # pending: not a member
    rc, err = start("--type", "cli", COLONIES_COLONY_PRVKEY="", COLONIES_PRVKEY=generate_prvkey())
    assert rc == 1 and "no approved executor with id" in err
    rc, err = start("--type", "container-executor", COLONIES_COLONY_PRVKEY="", COLONIES_PRVKEY=server.user_prv)
    assert rc == 1 and "no approved executor with id" in err  # a user's key is not an executor's
    rc, err = start("--type", "cli", COLONIES_COLONY_PRVKEY=generate_prvkey())
    assert rc == 1 and "Error:" in err  # not the colony owner: the server refuses to add it
    rc, err = start("--type", "cli", "--name", name)
    assert rc == 1 and f"an executor named {name} is already registered in colony test" in err
    rc, err = start("--type", "kube")
    assert rc == 1 and "unknown executor type 'kube'" in err
    rc, err = start("--type", "container-executor", COLONIES_CONTAINER_RUNTIME="/nonexistent/docker")
    assert rc == 1 and "container runtime '/nonexistent/docker' not found" in err
    rc, err = start("--type", "cli", "--concurrency", "0")
    assert rc == 1 and "--concurrency must be 1 to 256" in err
    assert "Traceback" not in err
