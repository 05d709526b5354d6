"""`colonies server …`: `start` runs the server, configured like the Go server through COLONIES_*
vars; `status`, `stats`, `chid` and `alive` inspect or administer a running one."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import msgspec

from ..config import ServerConfig, from_env
from .common import CliError, HelpFormatter, Session, add_command, add_group, add_json, add_server_key, env_arg
from .output import info, print_json
from .table import kv_table

if TYPE_CHECKING:  # uvicorn and the server load only when a server starts
    import uvicorn

    from ..server.app import ApiFirst
    from ..server.context import Services


def _uvicorn_config(app: ApiFirst, config: ServerConfig) -> uvicorn.Config:
    import uvicorn

    from .uvicorn_server import http_protocol

    tls = bool(config.tls_cert and config.tls_key)
    return uvicorn.Config(app, host=config.host, port=config.port, log_level="warning", access_log=False,
                          lifespan="on", timeout_graceful_shutdown=1, http=http_protocol(), ws_ping_interval=None,
                          proxy_headers=False,
                          ssl_certfile=config.tls_cert if tls else None, ssl_keyfile=config.tls_key if tls else None)


def bind(config: ServerConfig) -> tuple[socket.socket, ServerConfig]:
    """Listen before anything else starts, so a busy port is reported at once; port 0 picks one."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets created with it, and
    # without it every reply waits ~40 ms for the client's delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as exc:
        sock.close()
        raise CliError(f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock, msgspec.structs.replace(config, port=sock.getsockname()[1])


def serve(config: ServerConfig, sock: socket.socket, on_started: Callable[[Services], Awaitable[None]] | None = None,
          on_stopping: Callable[[], Awaitable[None] | None] | None = None) -> int:
    """Run the server on a bound socket until SIGINT/SIGTERM. `on_started(services)` runs once
    the database is open, before requests are served. Prints one line when stopped."""
    from ..server.app import create_app
    from ..server.observe import end_streams_on_exit
    from .uvicorn_server import Server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(config, on_started=on_started, on_stopping=on_stopping)
    server = Server(_uvicorn_config(app, config))
    server.on_stopping = on_stopping
    end_streams_on_exit(server, app)  # dashboard event streams end on the exit signal too
    try:
        server.run(sockets=[sock])  # lets uvicorn pick uvloop when installed
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    if not server.started:
        raise CliError(f"server failed to start on {config.host}:{config.port} (see the log above)")
    for sig in (signal.SIGINT, signal.SIGTERM):  # from here on, a signal means "now"
        signal.signal(sig, lambda *_: os._exit(130))
    how = f" on {signal.Signals(server.stop_signal).name}" if server.stop_signal else ""
    subscriptions, polls = server.drained
    print(f"Colonies server on {config.host}:{config.port} stopped{how}: {subscriptions} subscription(s) closed, "
          f"{polls} long-poll(s) answered, queued writes committed", file=sys.stderr, flush=True)
    return 0


def check_database(config: ServerConfig) -> None:
    """With a PostgreSQL URL: connect once before serving, so a wrong URL, wrong password or an
    unreachable database is one clear line, not a traceback from inside the server."""
    if not config.database_url:
        return
    from ..storage.postgres import DatabaseUnavailable, check

    try:
        version = check(config.database_url)
    except DatabaseUnavailable as exc:
        raise CliError(exc.message) from None
    print(f"Using PostgreSQL {version} at {config.database}", file=sys.stderr)


def _start(args: argparse.Namespace) -> int:
    try:
        config = from_env(host=args.host, port=args.port, data_dir=args.data_dir, server_id=args.serverid or None,
                          database_url=args.database_url or None, metrics=False if args.no_metrics else None)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    if not config.server_id:
        raise CliError("no server owner: set COLONIES_SERVER_ID or COLONIES_SERVER_PRVKEY (or --serverid)")
    check_database(config)
    sock, config = bind(config)
    print(f"Colonies server listening on {config.host}:{config.port}, data in {config.database}", file=sys.stderr)
    return serve(config, sock)


def _status(args: argparse.Namespace) -> int:
    from ..rpc.messages import GetServerInfoMsg
    from ..rpc.replies import ServerInfo

    s = Session(args)
    server, plain = s.rpc_json(GetServerInfoMsg(), None, ServerInfo)
    if args.json:
        print_json(plain)  # as the server sent it
        return 0
    rows = [("Server", s.address), ("BuildVersion", server.buildversion), ("BuildTime", server.buildtime)]
    rows += [("Backend", f"{b.type} {b.host}:{b.port}" + (" (TLS)" if b.tls else "")) for b in server.backends]
    kv_table(rows, title="Server status")
    return 0


def _stats(args: argparse.Namespace) -> int:
    from ..models.colony import Statistics
    from ..rpc.messages import GetStatisticsMsg
    from .colony import stats_rows

    s = Session(args)
    stats = s.rpc(GetStatisticsMsg(), s.server_prvkey, reply=Statistics)
    if args.json:
        print_json(stats)
    else:
        kv_table([("Colonies", stats.colonies), *stats_rows(stats)])
    return 0


def _chid(args: argparse.Namespace) -> int:
    from ..rpc.messages import ChangeServerIdMsg

    s = Session(args)
    s.rpc(ChangeServerIdMsg(serverid=args.serverid), s.server_prvkey)
    info("Changed server Id", ServerId=args.serverid)
    return 0


def _alive(args: argparse.Namespace) -> int:
    s = Session(args)
    if not s.client.health():
        raise CliError(f"Colonies server at {s.address} is not responding")
    info("Server is alive", Server=s.address)
    return 0


def add_database_url(p: argparse.ArgumentParser) -> None:
    env_arg(p, "--database-url", env="COLONIES_DATABASE_URL", default="",
            help="PostgreSQL database shared by server replicas, postgresql://user:password@host:port/db "
                 "(needs the 'postgres' extra); without it, SQLite in the data dir")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gsub = add_group(sub, "server", "Manage production server")
    start = gsub.add_parser("start", help="Start a Colonies server", description="Start a Colonies server",
                            formatter_class=HelpFormatter)
    env_arg(start, "--host", env="COLONIES_SERVER_HTTP_HOST", default=None, help="address to listen on [0.0.0.0]")
    env_arg(start, "--port", env="COLONIES_SERVER_PORT", type=int, default=None, help="port to listen on [50080]")
    env_arg(start, "--data-dir", env="COLONIES_DATA_DIR", default=None,
            help="directory of the SQLite database [./colonies-data]")
    env_arg(start, "--serverid", env="COLONIES_SERVER_ID", default="",
            help="server owner id (or set COLONIES_SERVER_PRVKEY)")
    add_database_url(start)
    start.add_argument("--no-metrics", action="store_true",
                       help="do not serve GET /metrics (or COLONIES_METRICS=false)")
    start.set_defaults(func=_start)
    p = add_command(gsub, "status", "Show the version and endpoints of a server", _status)
    add_json(p)
    p = add_command(gsub, "stats", "Show statistics of all colonies (server owner)", _stats)
    add_server_key(p)
    add_json(p)
    p = add_command(gsub, "chid", "Change the server id (server owner; sign with the old key)", _chid)
    p.add_argument("--serverid", required=True, help="the new server id")
    add_server_key(p)
    add_command(gsub, "alive", "Check that a server answers GET /health", _alive)
