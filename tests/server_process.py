"""Real servers on real sockets, for the tests that need one (the e2e, CLI, CFS and zipapp tiers);
protocol-level tests run in process through TestClient instead (tests/api). The one place that
starts servers for tests:

* ``free_port()``                -- a port nobody listens on (bind port 0);
* ``wait_healthy(port, proc)``   -- poll ``GET /health`` (or another path) until 200; fail with the log on exit/timeout;
* ``stop(proc)``                 -- SIGINT (a clean shutdown), then kill; True when it was clean;
* ``ServerProcess``              -- ``colonies.py dev`` (or any command, e.g. the zipapp) on a free
  port with its output in a log file; start/stop/restart, ``log_tail()`` for failure reports;
* ``ThreadServer``               -- ``create_app`` + uvicorn in a thread of the test process, for tests
  that pick the HTTP implementation or small limits, or look at the running server's hub.

The docker-compose development keys (PROTOCOL §2.6) are here too: every `dev` server uses them.
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]

SERVER_PRV = "fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d"
SERVER_ID = "039231c7644e04b6895471dd5335cf332681c54e27f81fac54f9067b3f2c0103"
DEV_COLONY_NAME = "dev"
DEV_COLONY_PRV = "ba949fa134981372d6da62b6a56f336ab4d843b22c02a4257dcf7d0d73097514"
DEV_COLONY_ID = "4787a5071856a4acf702b2ffcea422e3237a679c681314113d86139461290cf4"
DEV_USER_PRV = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"
DEV_USER_ID = "3fc05cf3df4b494e95d6a3d297a34f19938f7daa7422ab0d4f794454133341ac"

HEALTH_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(port: int, path: str = "/health") -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def wait_healthy(port: int, proc: subprocess.Popen[Any], log: Path | Sequence[Path] | None = None,
                 timeout: float = HEALTH_TIMEOUT, path: str = "/health") -> None:
    """Return once `GET path` answers 200; fail the test if `proc` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with code {proc.returncode} during startup:\n{_tail(log)}", pytrace=False)
        if healthy(port, path):
            return
        time.sleep(0.05)
    stop(proc)
    pytest.fail(f"server on port {port} did not answer GET {path} within {timeout}s:\n{_tail(log)}", pytrace=False)


def stop(proc: subprocess.Popen[Any], sig: int = signal.SIGINT, timeout: float = STOP_TIMEOUT) -> bool:
    """Signal `proc` (SIGINT: the server drains and closes), wait, kill if it hangs; whether it was clean."""
    if proc.poll() is not None:
        return True
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)
        return False


def _tail(log: Path | Sequence[Path] | None, nbytes: int = 6000) -> str:
    out = []
    for path in [log] if isinstance(log, Path) else log or []:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        out.append(f"--- {path.name} (last {nbytes} bytes) ---\n" + data[-nbytes:].decode("utf-8", "replace"))
    return "".join(out)


class ServerProcess:
    """`python colonies.py dev --port P --data-dir D [flags]`, or `argv` instead of `python colonies.py`.

    `ServerProcess(base, "--no-executor")` keeps data in `base/data` and logs in `base/logs`; the
    older spelling `ServerProcess(data_dir=..., log_dir=..., executor=False)` works too. `env` is
    added to `environ` (default: this process's environment). Each start writes its output to
    `log_dir/server<N>.stdout.log` and `log_dir/server<N>.stderr.log`."""

    def __init__(self, base: Path | None = None, *flags: str, data_dir: Path | None = None,
                 log_dir: Path | None = None, executor: bool | None = None, argv: Sequence[str] | None = None,
                 env: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None,
                 cwd: Path = REPO) -> None:
        if base is None:
            assert data_dir is not None and log_dir is not None, "give a base directory, or data_dir and log_dir"
            executor = bool(executor)  # the older spelling starts no executor unless asked
            self.data_dir, self.log_dir = data_dir, log_dir
        else:
            self.data_dir, self.log_dir = data_dir or base / "data", log_dir or base / "logs"
        self.flags = [*flags, *(["--no-executor"] if executor is False else [])]
        self.cwd = cwd
        self.argv = list(argv) if argv is not None else [sys.executable, "colonies.py"]
        self.env = {**(os.environ if environ is None else environ), **(env or {})}
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.last_returncode: int | None = None
        self.last_stop_graceful: bool | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/api"

    @property
    def logs(self) -> tuple[Path, Path]:
        """The stdout and stderr of the latest start."""
        return (self.log_dir / f"server{self.starts}.stdout.log", self.log_dir / f"server{self.starts}.stderr.log")

    def log_tail(self, nbytes: int = 6000) -> str:
        return _tail(self.logs, nbytes)

    def start(self, port: int | None = None) -> ServerProcess:
        assert self.proc is None, "already running"
        self.port = port or self.port or free_port()
        self.starts += 1
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        cmd = [*self.argv, "dev", *self.flags, "--port", str(self.port), "--data-dir", str(self.data_dir)]
        env = {**self.env, "PYTHONUNBUFFERED": "1"}
        out_path, err_path = self.logs
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, cwd=str(self.cwd), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         env=env)
        RUNNING.append(self)
        try:
            wait_healthy(self.port, self.proc, self.logs)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGINT, wait, then kill. Records whether the shutdown was graceful."""
        proc = self.proc
        if proc is None:
            return
        self.last_stop_graceful = stop(proc)
        self.last_returncode = proc.returncode
        self.proc = None
        if self in RUNNING:
            RUNNING.remove(self)

    def restart(self) -> None:
        self.stop()
        self.start(self.port)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> ServerProcess:
        return self if self.proc is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# Servers currently running, so a failing test's report can show their logs (see tests/conftest.py).
RUNNING: list[ServerProcess] = []


class ThreadServer:
    """`create_app` + uvicorn in a thread of this process, on a real socket (bound at port 0 first),
    with the server's own uvicorn settings (`cli.server._uvicorn_config`).

    For tests that choose the HTTP parser (`http="h11"`, or the server's own "httptools"; either with
    one write per response, `cli.uvicorn_server.http_protocol`), set small limits
    (`**config`: ServerConfig fields), or look inside the running server (`services`, `hub`,
    `on_loop`). `loops=False` starts no background loops, so nothing but the test's own requests
    writes. A context manager (`with ThreadServer(d) as srv:`), or `start()` / `stop()`."""

    def __init__(self, data_dir: Path, http: str = "httptools", *, loops: bool = False, **config: Any) -> None:
        import uvicorn

        from colonies_pkg.cli.server import _uvicorn_config, bind
        from colonies_pkg.cli.uvicorn_server import http_protocol
        from colonies_pkg.config import ServerConfig
        from colonies_pkg.server.app import create_app

        self._sock, self.config = bind(ServerConfig(host="127.0.0.1", port=0, data_dir=str(data_dir),
                                                    server_id=SERVER_ID, **config))
        self.port = self.config.port
        self.services: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()

        async def on_started(services: Any) -> None:
            self.services, self.loop = services, asyncio.get_running_loop()
            self._started.set()

        app = create_app(self.config, start_loops=loops, on_started=on_started)
        uconfig = _uvicorn_config(app, self.config)
        if http == "h11":  # "httptools": the server's own (both write each response once)
            uconfig.http = http_protocol("h11")
        self.server = uvicorn.Server(uconfig)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def hub(self) -> Any:
        return self.services.hub

    def on_loop(self, fn: Any, *args: Any) -> Any:
        """Call fn(*args) on the server's event loop (the hub is not thread-safe) and return its result."""
        async def call() -> Any:
            return fn(*args)

        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(10)

    def start(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while not (self._started.is_set() and self.server.started):
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                pytest.fail("in-process server did not start", pytrace=False)
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(30)
        self._sock.close()

    def __enter__(self) -> ThreadServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
