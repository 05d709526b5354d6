"""`colonies dev`: a ready-to-use local colony in one command.

Starts the server on 127.0.0.1, creates colony `dev` owned by the docker-compose colony key,
registers the docker-compose COLONIES_PRVKEY id as user `myuser` and as approved executor
`dev-docker`, starts the sample executor `dev-executor` (type `cli`) in the same process (and with
--containers the container executor `dev-container`, type `container-executor`, when docker or
podman is found), and prints the `export COLONIES_…` lines. Data persists in --data-dir.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import threading
from typing import TYPE_CHECKING, Any

import msgspec

from ..clock import now_ns
from ..config import ServerConfig, from_env
from ..crypto import generate_prvkey, id_of_prvkey
from ..domain import colonies, executors
from ..errors import BadRequest, ColoniesError
from ..models.colony import Colony, User
from ..models.executor import Executor
from .common import CliError, env_arg
from .executor_start import add_runtime_flags

if TYPE_CHECKING:
    from ..executor.container import ContainerRuntime
    from ..executor.runner import Runner
    from ..executor.sample import Builtin
    from ..server.context import Services
    from ..storage.db import Tx

# The well-known docker-compose.env development keys (PROTOCOL §7.2): never use them in production.
DEV_SERVER_PRVKEY = "fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d"
DEV_COLONY_PRVKEY = "ba949fa134981372d6da62b6a56f336ab4d843b22c02a4257dcf7d0d73097514"
DEV_PRVKEY = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"
SAMPLE_EXECUTOR = "dev-executor"
CONTAINER_EXECUTOR = "dev-container"


class DevSetup:
    """Values of a dev session, from COLONIES_* variables where set, else the dev defaults."""

    def __init__(self, env: dict[str, str], port: int, data_dir: str) -> None:
        self.colonyname = env.get("COLONIES_COLONY_NAME") or "dev"
        self.server_prvkey = env.get("COLONIES_SERVER_PRVKEY") or DEV_SERVER_PRVKEY
        self.colony_prvkey = env.get("COLONIES_COLONY_PRVKEY") or DEV_COLONY_PRVKEY
        self.prvkey = env.get("COLONIES_PRVKEY") or DEV_PRVKEY
        self.executorname = env.get("COLONIES_EXECUTOR_NAME") or "dev-docker"
        self.executortype = env.get("COLONIES_EXECUTOR_TYPE") or "cli"
        self.port = port
        self.data_dir = data_dir
        try:
            self.server_id = id_of_prvkey(self.server_prvkey)
            self.colony_id = id_of_prvkey(self.colony_prvkey)
            self.user_id = id_of_prvkey(self.prvkey)
        except ValueError as exc:
            raise CliError(f"invalid COLONIES_*_PRVKEY: {exc}") from exc
        self.sample_prvkey = self._key(SAMPLE_EXECUTOR)
        self.container_prvkey = self._key(CONTAINER_EXECUTOR)

    def _key(self, executorname: str) -> str:
        path = os.path.join(self.data_dir, f"{executorname}.prvkey")
        os.makedirs(self.data_dir, exist_ok=True)
        if os.path.exists(path):
            with open(path, encoding="ascii") as f:
                return f.read().strip()
        key = generate_prvkey()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(key)
        return key

    def exports(self) -> str:
        lines = {
            "COLONIES_SERVER_HOST": "localhost", "COLONIES_SERVER_PORT": str(self.port), "COLONIES_TLS": "false",
            "COLONIES_SERVER_TLS": "false", "COLONIES_COLONY_NAME": self.colonyname,
            "COLONIES_COLONY_PRVKEY": self.colony_prvkey, "COLONIES_PRVKEY": self.prvkey,
            "COLONIES_SERVER_PRVKEY": self.server_prvkey, "COLONIES_EXECUTOR_NAME": self.executorname,
            "COLONIES_EXECUTOR_TYPE": self.executortype,
        }
        return "\n".join(f"export {k}={v}" for k, v in lines.items())


def bootstrap(tx: Tx, now: int, setup: DevSetup, sample: bool, containers: bool = False) -> None:
    """One unit of work: make the dev colony, user and executors exist (idempotent)."""
    s = setup
    from ..storage import colonies as colony_store
    from ..storage import executors as executor_store

    colony = colony_store.get_colony(tx, s.colonyname)
    if colony is None:
        colonies.add_colony(tx, now, s.server_id, Colony(colonyid=s.colony_id, name=s.colonyname))
    elif colony.colonyid != s.colony_id:
        raise BadRequest(f"colony {s.colonyname} in this data dir belongs to another colony key")
    if colony_store.get_user_by_id(tx, s.colonyname, s.user_id) is None:
        colonies.add_user(tx, now, s.colony_id, User(colonyname=s.colonyname, userid=s.user_id, name="myuser"))
    wanted = [(s.executorname, s.user_id, s.executortype)]
    if sample:
        wanted.append((SAMPLE_EXECUTOR, id_of_prvkey(s.sample_prvkey), "cli"))
    if containers:
        wanted.append((CONTAINER_EXECUTOR, id_of_prvkey(s.container_prvkey), "container-executor"))
    for name, executorid, executortype in wanted:
        existing = executor_store.get(tx, s.colonyname, name)
        if existing is None or existing.executorid != executorid or existing.state == 3:
            executors.add_executor(tx, now, s.colony_id, Executor(
                executorid=executorid, executortype=executortype, executorname=name, colonyname=s.colonyname),
                allow_reregister=True)
        executors.approve_executor(tx, now, s.colony_id, s.colonyname, name)


def _run(args: argparse.Namespace) -> int:
    from ..client import Client
    from ..executor.runner import Runner
    from ..executor.sample import sample_functions
    from .executor_start import container_functions
    from .server import bind, check_database, serve

    data_dir = os.path.abspath(args.data_dir)
    config = from_env(os.environ, host=args.host, port=args.port, data_dir=data_dir,
                      database_url=args.database_url or None, metrics=False if args.no_metrics else None)
    check_database(config)
    containers: tuple[dict[str, Builtin], ContainerRuntime] | None = None
    if args.containers:
        try:
            containers = container_functions(args)
        except CliError as exc:
            print(f"No container runtime, so no container executor {CONTAINER_EXECUTOR}: {exc}", file=sys.stderr,
                  flush=True)
    sock, config = bind(config)
    setup = DevSetup(dict(os.environ), config.port, data_dir)
    config = msgspec.structs.replace(config, server_id=setup.server_id)
    stop = threading.Event()
    threads: list[threading.Thread] = []
    runners: list[Runner] = []
    unclosed: list[tuple[str, str, str]] = []  # (executor id, process id, error)
    services: list[Services] = []

    def connect() -> Client:
        return Client(config.host, config.port)

    async def on_started(started: Services) -> None:
        services.append(started)
        await started.db.write(bootstrap, now_ns(), setup, not args.no_executor, containers is not None)
        where = config.database if config.database_url else data_dir
        print(f"Colonies dev server on http://{config.host}:{config.port} (data in {where})", flush=True)
        print("Paste these lines into your shell to use pycolonies or the CLI against it:", flush=True)
        print(setup.exports(), flush=True)
        _announce_dashboard(started, config, setup)
        mounts = os.path.join(data_dir, "cfs-mounts")
        if not args.no_executor:
            runners.append(Runner(connect, setup.colonyname, setup.sample_prvkey, SAMPLE_EXECUTOR,
                                  sample_functions(args.shell), cfs_root=mounts, report=_report))
        if containers is not None:
            runners.append(Runner(connect, setup.colonyname, setup.container_prvkey, CONTAINER_EXECUTOR,
                                  containers[0], concurrency=args.concurrency, cfs_root=mounts, report=_report))
        for runner in runners:
            runtime = containers[1] if containers is not None and runner.name == CONTAINER_EXECUTOR else None
            kind = f"container-executor, {runtime.describe()}" if runtime is not None else "cli"
            thread = threading.Thread(target=_executor_main, args=(runner, kind, stop, unclosed, runtime),
                                      name=runner.name, daemon=True)
            threads.append(thread)
            thread.start()

    async def on_stopping() -> None:  # called as the server stops accepting, and again in its lifespan
        stop.set()  # the executors stop their processes; the API is closing, so failing
        for runner in runners:  # them is done here, in the database, before it closes
            runner.abort()
        for thread in threads:
            await asyncio.to_thread(thread.join, 60)
        if unclosed and services:
            failing = list(unclosed)
            unclosed.clear()
            await services[0].db.write(_fail_unclosed, now_ns(), failing)

    rc = serve(config, sock, on_started=on_started, on_stopping=on_stopping)
    return rc


def _announce_dashboard(services: Services, config: ServerConfig, setup: DevSetup) -> None:
    """Print the one-time dashboard login URL (rights of the dev user, colony owner and server owner)."""
    if services.observer is not None:
        services.observer.mark_dirty()  # the bootstrap unit changed counts without an event
    if not config.dashboard:
        return
    from ..server.ui import auth

    token = auth.of(services).login_token([setup.user_id, setup.colony_id, setup.server_id], [setup.colonyname])
    host = "localhost" if config.host in ("0.0.0.0", "::", "") else config.host
    scheme = "https" if config.tls_cert else "http"
    print(f"Dashboard: {scheme}://{host}:{config.port}/ui/login?token={token}", flush=True)
    if config.metrics:
        print(f"Metrics: {scheme}://{host}:{config.port}/metrics", flush=True)


def _report(level: str, message: str, fields: dict[str, Any]) -> None:
    """The executors' lines, without the reachability ones: in `dev` the server is in this
    process and unreachable only while it stops (then what ran is failed in the database)."""
    from ..executor.runner import log_report

    if "reachable" not in message:
        log_report(level, message, fields)


def _fail_unclosed(tx: Tx, now: int, unclosed: list[tuple[str, str, str]]) -> None:
    from ..domain import processes

    for executorid, processid, error in unclosed:
        with contextlib.suppress(ColoniesError):  # closed meanwhile, or no longer this executor's
            processes.close_failed(tx, now, executorid, processid, [error])


def _executor_main(runner: Runner, kind: str, stop: threading.Event, unclosed: list[tuple[str, str, str]],
                   runtime: ContainerRuntime | None = None) -> None:
    probe = runner.connect()
    while not probe.health():  # the server is starting: it listens once the dev colony exists
        if stop.wait(0.1):
            return
    probe.close()
    if runtime is not None and (left := runtime.remove_leftovers(runner.name)):
        print(f"Removed {left} containers left by a previous run of {runner.name}", file=sys.stderr, flush=True)
    try:
        runner.register_functions(stop)
    except ColoniesError:
        return  # stopped before it could start
    print(f"Executor {runner.name} ({kind}) serving: {', '.join(sorted(runner.functions))}",
          file=sys.stderr, flush=True)
    runner.run(stop)
    unclosed.extend((runner.executorid, pid, error) for pid, error in runner.finish(close_timeout=0))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .server import add_database_url

    p = sub.add_parser("dev", help="Start a local dev server with colony 'dev' and a sample executor",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    env_arg(p, "--port", env="COLONIES_SERVER_PORT", type=int, default=50080, help="port to listen on")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    env_arg(p, "--data-dir", env="COLONIES_DATA_DIR", default=os.path.join(".", "colonies-dev-data"),
            help="directory for the SQLite database and the sample executor's key")
    add_database_url(p)
    p.add_argument("--no-executor", action="store_true", help="do not start the sample executor")
    p.add_argument("--no-metrics", action="store_true", help="do not serve GET /metrics (or COLONIES_METRICS=false)")
    p.add_argument("--shell", action="store_true",
                   help="let the sample executor run commands (function 'execute', args = argv); off by default")
    p.add_argument("--containers", action="store_true",
                   help=f"also start the container executor {CONTAINER_EXECUTOR} (type container-executor) "
                        "when docker or podman is found")
    p.add_argument("--concurrency", type=int, default=1, help="processes the container executor runs at once")
    add_runtime_flags(p)
    p.set_defaults(func=_run)
