"""`colonies dev`: a ready-to-use local colony in one command.

Starts the server on 127.0.0.1, creates colony `dev` owned by the docker-compose colony key,
registers the docker-compose COLONIES_PRVKEY id as user `myuser` and as approved executor
`dev-docker`, starts the sample executor `dev-executor` (type `cli`) in the same process, and
prints the `export COLONIES_…` lines. Data persists in --data-dir between runs.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading

import msgspec

from ..clock import now_ns
from ..config import from_env
from ..crypto import generate_prvkey, id_of_prvkey
from ..domain import colonies, executors
from ..errors import BadRequest
from ..models.colony import Colony, User
from ..models.executor import Executor
from .common import CliError, env_arg

# The well-known docker-compose.env development keys (PROTOCOL §7.2): never use them in production.
DEV_SERVER_PRVKEY = "fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d"
DEV_COLONY_PRVKEY = "ba949fa134981372d6da62b6a56f336ab4d843b22c02a4257dcf7d0d73097514"
DEV_PRVKEY = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"
SAMPLE_EXECUTOR = "dev-executor"


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
        self.sample_prvkey = self._sample_key()

    def _sample_key(self) -> str:
        path = os.path.join(self.data_dir, "dev-executor.prvkey")
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


def bootstrap(tx, now: int, setup: DevSetup, sample: bool) -> None:
    """One unit of work: make the dev colony, user and executors exist (idempotent)."""
    s = setup
    from ..storage import colonies as colony_store
    from ..storage import executors as executor_store

    if colony_store.get_colony(tx, s.colonyname) is None:
        colonies.add_colony(tx, now, s.server_id, Colony(colonyid=s.colony_id, name=s.colonyname))
    elif colony_store.get_colony(tx, s.colonyname).colonyid != s.colony_id:
        raise BadRequest(f"colony {s.colonyname} in this data dir belongs to another colony key")
    if colony_store.get_user_by_id(tx, s.colonyname, s.user_id) is None:
        colonies.add_user(tx, now, s.colony_id, User(colonyname=s.colonyname, userid=s.user_id, name="myuser"))
    wanted = [(s.executorname, s.user_id, s.executortype)]
    if sample:
        wanted.append((SAMPLE_EXECUTOR, id_of_prvkey(s.sample_prvkey), "cli"))
    for name, executorid, executortype in wanted:
        existing = executor_store.get(tx, s.colonyname, name)
        if existing is None or existing.executorid != executorid or existing.state == 3:
            executors.add_executor(tx, now, s.colony_id, Executor(
                executorid=executorid, executortype=executortype, executorname=name, colonyname=s.colonyname),
                allow_reregister=True)
        executors.approve_executor(tx, now, s.colony_id, s.colonyname, name)


def _run(args: argparse.Namespace) -> int:
    from .server import bind, check_database, serve

    data_dir = os.path.abspath(args.data_dir)
    config = from_env(os.environ, host=args.host, port=args.port, data_dir=data_dir,
                      database_url=args.database_url or None, metrics=False if args.no_metrics else None)
    check_database(config)
    sock, config = bind(config)
    setup = DevSetup(dict(os.environ), config.port, data_dir)
    config = msgspec.structs.replace(config, server_id=setup.server_id)
    stop = threading.Event()
    threads: list[threading.Thread] = []

    async def on_started(services) -> None:
        await services.db.write(bootstrap, now_ns(), setup, not args.no_executor)
        where = config.database if config.database_url else data_dir
        print(f"Colonies dev server on http://{config.host}:{config.port} (data in {where})", flush=True)
        print("Paste these lines into your shell to use pycolonies or the CLI against it:", flush=True)
        print(setup.exports(), flush=True)
        _announce_dashboard(services, config, setup)
        if not args.no_executor:
            from ..client import Client
            from ..executor import SampleExecutor

            executor = SampleExecutor(Client(config.host, config.port), setup.colonyname, setup.sample_prvkey,
                                      SAMPLE_EXECUTOR, allow_shell=args.shell,
                                      cfs_root=os.path.join(data_dir, "cfs-mounts"))
            thread = threading.Thread(target=_executor_main, args=(executor, stop), name="sample-executor",
                                      daemon=True)
            threads.append(thread)
            thread.start()

    def on_stopping() -> None:
        stop.set()

    rc = serve(config, sock, on_started=on_started, on_stopping=on_stopping)
    for thread in threads:
        thread.join(timeout=1)
    return rc


def _announce_dashboard(services, config, setup: DevSetup) -> None:
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


def _executor_main(executor, stop: threading.Event) -> None:
    from ..client import ConnectionFailed

    while not stop.is_set():  # the server may still be binding its socket
        try:
            executor.register_functions()
            break
        except ConnectionFailed:
            stop.wait(0.1)
    print(f"Sample executor {executor.name} (type cli) serving: {', '.join(sorted(executor.functions))}",
          file=sys.stderr, flush=True)
    executor.run(stop)


def register(sub: argparse._SubParsersAction) -> None:
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
    p.set_defaults(func=_run)
