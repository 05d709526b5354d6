"""`colonies executor start`: run an executor against any Colonies server.

With the colony owner's key (COLONIES_COLONY_PRVKEY) it registers and approves itself under a new
key (`--name`, default `<type>-<host>-<hex>`) and unregisters when it stops; without it, it runs as
the approved executor whose key is COLONIES_PRVKEY. `--type cli` serves the sample functions of
`dev`; `--type container-executor` serves `execute` in containers (docker or podman). Ctrl-C (or
SIGTERM) stops it: running processes are failed with a clear error, or with `--drain` finished
first (a second Ctrl-C fails them).
"""
from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

from ..client import Client, ConnectionFailed
from ..errors import ColoniesError
from .common import CliError, Session, add_colony_key, add_command, env_arg
from .output import info, warn

if TYPE_CHECKING:
    from ..executor.container import ContainerRuntime
    from ..executor.job import Job
    from ..executor.sample import Builtin

TYPES = ("cli", "container-executor")
T = TypeVar("T")


def _report(level: str, message: str, fields: dict[str, Any]) -> None:
    (warn if level == "warn" else info)(message, **fields)


def _until_reachable(fn: Callable[[], T], stop: threading.Event, address: str) -> T | None:
    """`fn()`, retried with backoff while the server cannot be reached; None if stopped meanwhile."""
    from ..executor.runner import backoff

    attempt = 0
    while True:
        try:
            return fn()
        except ConnectionFailed:
            attempt += 1
            if attempt == 1:
                warn("Waiting for the Colonies server", Server=address)
            if stop.wait(backoff(attempt)):
                return None


def add_runtime_flags(p: argparse.ArgumentParser) -> None:
    """--runtime, --runtime-flags and --stop-grace (shared with `dev --containers`)."""
    env_arg(p, "--runtime", env="COLONIES_CONTAINER_RUNTIME",
            help="container CLI to run containers with (docker, podman or a path); else docker or podman on PATH")
    env_arg(p, "--runtime-flags", env="COLONIES_CONTAINER_RUNTIME_FLAGS",
            help="global flags for the container CLI, e.g. '--runtime runc --cgroup-manager=cgroupfs'")
    env_arg(p, "--stop-grace", env="COLONIES_CONTAINER_STOP_GRACE", type=float, default=10.0,
            help="seconds a stopped container gets between SIGTERM and SIGKILL")


def container_functions(args: argparse.Namespace) -> tuple[dict[str, Builtin], ContainerRuntime]:
    """The `execute` function of a container executor, and its ContainerRuntime."""
    from ..executor.container import ContainerRuntime, execute

    try:
        runtime = ContainerRuntime.find(args.runtime, args.runtime_flags, args.stop_grace)
    except ColoniesError as exc:
        raise CliError(str(exc)) from exc

    def run(fargs: list[Any], kwargs: dict[str, Any], inputs: list[Any], job: Job) -> list[Any]:
        return execute(runtime, fargs, kwargs, inputs, job)

    return {"execute": run}, runtime


def _start(args: argparse.Namespace) -> int:
    from ..executor import identity
    from ..executor.runner import Runner
    from ..executor.sample import sample_functions

    s = Session(args)
    colonyname = s.colonyname
    if not args.type:
        raise CliError("no executor type: use --type cli or --type container-executor")
    if args.type not in TYPES:
        raise CliError(f"unknown executor type {args.type!r}: use cli or container-executor")
    if not 1 <= args.concurrency <= 256:
        raise CliError("--concurrency must be 1 to 256")
    if not 0.1 <= args.heartbeat <= 86400:
        raise CliError("--heartbeat must be 0.1 to 86400 seconds")
    runtime: ContainerRuntime | None = None
    functions: dict[str, Builtin]
    if args.type == "container-executor":
        functions, runtime = container_functions(args)
    else:
        functions = sample_functions(args.shell)

    def connect() -> Client:
        return Client(s.host, s.port, tls=s.tls, verify=s.verify)

    stop, force = threading.Event(), threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            force.set()
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    client = connect()
    try:
        colony_prvkey = getattr(args, "colonyprvkey", None)
        if colony_prvkey:
            name = args.name or identity.default_name(args.type)
            registered = _until_reachable(
                lambda: identity.register_self(client, colonyname, colony_prvkey, name, args.type), stop, s.address)
            if registered is None:
                return 0
            prvkey = registered
            info("Executor registered and approved", ExecutorName=name, ExecutorType=args.type)

            def register_again() -> None:  # the server forgot us (a new database, or unregistered as stale)
                identity.register_self(client, colonyname, colony_prvkey, name, args.type, prvkey)
                runner.register_functions(stop)
                info("Executor registered again", ExecutorName=name)

            again: Callable[[], None] | None = register_again
        else:
            if not args.prvkey:
                raise CliError("no key: set COLONIES_COLONY_PRVKEY (or --colonyprvkey) to register a new executor, "
                               "or COLONIES_PRVKEY (or --prvkey) to run as an approved one")
            prvkey = args.prvkey.strip()
            executor = _until_reachable(lambda: identity.identify(client, colonyname, prvkey), stop, s.address)
            if executor is None:
                return 0
            name = executor.executorname
            if args.name and args.name != name:
                raise CliError(f"this key belongs to executor {name}, not {args.name}")
            if executor.executortype != args.type:
                raise CliError(f"executor {name} has type {executor.executortype}, not {args.type}")
            again = None
        runner = Runner(connect, colonyname, prvkey, name, functions, concurrency=args.concurrency,
                        cfs_root=args.mount_dir, report=_report, on_forbidden=again)
        runner.heartbeat_interval = args.heartbeat
        if runtime is not None and (left := runtime.remove_leftovers(name)):
            warn("Removed containers left by a previous run of this executor", Containers=left, ExecutorName=name)
        runner.register_functions(stop)
        info("Executor started", ExecutorName=name, ExecutorType=args.type, Concurrency=args.concurrency,
             Functions=",".join(sorted(functions)), Server=s.address,
             **({"Runtime": runtime.describe()} if runtime is not None else {}))
        runner.run(stop)
        running = runner.running()
        if running and args.drain:
            info("Draining: waiting for running processes to finish (Ctrl-C again to fail them)",
                 Running=len(running))
        elif running:
            info("Stopping: failing running processes", Running=len(running))
        unclosed = runner.finish(drain=args.drain, close_timeout=30, force=force)
        for pid, _ in unclosed:
            warn("Process left running: the server could not be reached to fail it", ProcessId=pid)
        if colony_prvkey:
            try:
                identity.unregister(client, colonyname, colony_prvkey, name)
            except ColoniesError as exc:
                warn("Could not unregister the executor", ExecutorName=name, Error=str(exc))
        info("Executor stopped", ExecutorName=name)
        return 0
    except ConnectionFailed as exc:  # only when stopped while waiting for the server
        if stop.is_set():
            return 0
        raise CliError(str(exc)) from exc
    finally:
        client.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def register(g: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(g, "start", "Run an executor: the sample functions (cli) or containers (container-executor)",
                    _start, description=__doc__)
    env_arg(p, "--type", env="COLONIES_EXECUTOR_TYPE",
            help="executor type: cli (sample functions) or container-executor (execute in containers)")
    p.add_argument("--name", help="executor name (default: <type>-<host>-<random>; with an approved key: its name)")
    p.add_argument("--concurrency", type=int, default=1, help="run up to N processes at once")
    p.add_argument("--drain", action="store_true", help="on Ctrl-C, let running processes finish first")
    p.add_argument("--shell", action="store_true", help="type cli: also offer 'execute' (args = a command line)")
    p.add_argument("--heartbeat", type=float, default=60.0,
                   help="seconds between heartbeats while every slot is busy (keep it below the server's "
                        "COLONIES_STALE_EXECUTOR_DURATION)")
    p.add_argument("--mount-dir", help="where the processes' CFS mounts are made (default: a temp directory)")
    add_runtime_flags(p)
    add_colony_key(p)
