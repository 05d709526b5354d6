"""`colonies monitor start`: a standalone Prometheus exporter, as in the Go CLI.

Polls a (possibly remote, possibly Go) Colonies server's `getstatisticsmsg` with the server owner
key every --interval seconds and serves Go's gauges (`colonies_server_*`) at
http://LISTEN:PORT/metrics. Unlike Go, a failed poll never turns the gauges into -1: they keep
their last values and `colonies_monitor_up` drops to 0 (with the time of the last success).
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..models.colony import Statistics
from ..rpc.messages import GetStatisticsMsg
from .common import CliError, Session, add_command, add_group, add_server_key, env_arg

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

GAUGES = (
    ("colonies_server_colonies", "colonies"), ("colonies_server_executors", "executors"),
    ("colonies_server_executors_active", "activeexecutors"),
    ("colonies_server_executors_unregistered", "unregisteredexecutors"),
    ("colonies_server_processes_waiting", "waitingprocesses"), ("colonies_server_processes_running", "runningprocesses"),
    ("colonies_server_processes_successful", "successfulprocesses"),
    ("colonies_server_processes_failed", "failedprocesses"), ("colonies_server_processes_cancelled", "cancelledprocesses"),
    ("colonies_server_workflows_waiting", "waitingworkflows"), ("colonies_server_workflows_running", "runningworkflows"),
    ("colonies_server_workflows_successful", "successfulworkflows"),
    ("colonies_server_workflows_failed", "failedworkflows"), ("colonies_server_workflows_cancelled", "cancelledworkflows"),
)


class Poller:
    def __init__(self, session: Session, prvkey: str) -> None:
        self.session, self.prvkey = session, prvkey
        self.stats: Statistics | None = None
        self.up = False
        self.last_success = 0.0
        self.errors = 0

    def poll(self) -> None:
        try:
            self.stats = self.session.rpc(GetStatisticsMsg(), self.prvkey, reply=Statistics)
            self.up, self.last_success = True, time.time()
        except Exception as exc:  # keep serving; say why on stderr
            self.up = False
            self.errors += 1
            print(f"monitor: failed to fetch statistics from {self.session.address}: {exc}", file=sys.stderr,
                  flush=True)

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        if self.stats is not None:
            for name, field in GAUGES:
                yield GaugeMetricFamily(name, f"{field} (from getstatisticsmsg)", value=getattr(self.stats, field))
        yield GaugeMetricFamily("colonies_monitor_up", "1 when the last poll of the server succeeded",
                                value=int(self.up))
        yield GaugeMetricFamily("colonies_monitor_last_success_timestamp_seconds", "Time of the last successful poll",
                                value=self.last_success)
        yield CounterMetricFamily("colonies_monitor_poll_errors", "Failed polls", value=self.errors)


def _start(args: argparse.Namespace) -> int:
    from prometheus_client import CollectorRegistry, start_http_server

    session = Session(args)
    poller = Poller(session, session.server_prvkey)
    if args.interval <= 0:
        raise CliError("--interval must be > 0 seconds")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(poller)
    try:
        httpd, _thread = start_http_server(args.monitor_port, addr=args.listen, registry=registry)
    except OSError as exc:
        raise CliError(f"cannot listen on {args.listen}:{args.monitor_port}: {exc.strerror or exc}") from exc
    port = httpd.server_address[1]
    print(f"Monitoring {session.address}; metrics on http://{args.listen}:{port}/metrics every {args.interval} s",
          flush=True)
    stop = threading.Event()
    try:
        while not stop.is_set():
            poller.poll()
            stop.wait(args.interval)
    except KeyboardInterrupt:
        pass
    finally:
        httpd.shutdown()
        session.close()
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gsub = add_group(sub, "monitor", "Export a server's statistics to Prometheus")
    p = add_command(gsub, "start", "Poll a server's statistics and serve them at /metrics", _start, client=False,
                    description=__doc__)
    env_arg(p, "--port", dest="monitor_port", env="COLONIES_MONITOR_PORT", type=int, default=21120,
            help="port of this exporter's /metrics endpoint")
    env_arg(p, "--interval", env="COLONIES_MONITOR_INTERVAL", type=float, default=1.0,
            help="seconds between polls")
    p.add_argument("--listen", default="0.0.0.0", help="address of this exporter's /metrics endpoint")
    g = p.add_argument_group("the Colonies server to poll")
    env_arg(g, "--host", env="COLONIES_SERVER_HOST", default="localhost", help="Colonies server host")
    env_arg(g, "--server-port", dest="port", env=("COLONIES_SERVER_HTTP_PORT", "COLONIES_SERVER_PORT"), type=int,
            default=50080, help="Colonies server port")
    env_arg(g, "--tls", env=("COLONIES_TLS", "COLONIES_SERVER_TLS"), action="store_true", default=False,
            help="use HTTPS to reach the server")
    g.add_argument("--insecure", action="store_true", help="use HTTP (overrides --tls)")
    g.add_argument("--skip-tls-verify", action="store_true", help="skip TLS certificate verification")
    add_server_key(g)
