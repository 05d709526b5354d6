"""End-to-end fixtures: a real `python colonies.py dev` subprocess on a free port, driven by
the unmodified pycolonies 1.0.25 SDK over a real socket.

Fixtures
--------
* ``server``      (module) -- ``dev --no-executor`` on a free port with a tmp data dir.
* ``client``      (function) -- ``pycolonies.Colonies("127.0.0.1", port)`` for ``server``.
* ``colony``      (function) -- a fresh colony (fresh keys) on ``server`` with helpers to add
  executors and users; isolates tests from each other and from the built-in "dev" colony.
* ``dev_server``  (module) -- ``dev`` WITH the in-process sample executor (used by test_dev.py).

When a test fails, the tail of every running server's stderr/stdout log is attached to the
report as an extra section ("server log ...").
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests
from crypto import Crypto  # installed alongside pycolonies (top-level module of the wheel)
from model import Conditions, FuncSpec
from pycolonies import Colonies

REPO_ROOT = Path(__file__).resolve().parents[2]

# docker-compose keys (PROTOCOL.md §2.6 / §7.2)
SERVER_PRV = "fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d"
SERVER_ID = "039231c7644e04b6895471dd5335cf332681c54e27f81fac54f9067b3f2c0103"
DEV_COLONY_NAME = "dev"
DEV_COLONY_PRV = "ba949fa134981372d6da62b6a56f336ab4d843b22c02a4257dcf7d0d73097514"
DEV_COLONY_ID = "4787a5071856a4acf702b2ffcea422e3237a679c681314113d86139461290cf4"
DEV_USER_PRV = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"
DEV_USER_ID = "3fc05cf3df4b494e95d6a3d297a34f19938f7daa7422ab0d4f794454133341ac"

HEALTH_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0

CRYPTO = Crypto()

# Servers currently running (for attaching logs to failure reports).
_RUNNING: list[ServerProcess] = []


# --------------------------------------------------------------------------------------------
# server subprocess management
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    """A `python colonies.py dev ...` subprocess."""

    data_dir: Path
    log_dir: Path
    executor: bool = False
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    last_returncode: int | None = None
    last_stop_graceful: bool | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/api"

    def _log_paths(self) -> tuple[Path, Path]:
        return (
            self.log_dir / f"server{self.starts}.stdout.log",
            self.log_dir / f"server{self.starts}.stderr.log",
        )

    def log_tail(self, nbytes: int = 6000) -> str:
        out: list[str] = []
        for p in self._log_paths():
            try:
                data = p.read_bytes()
            except OSError:
                continue
            out.append(f"--- {p.name} (last {nbytes} bytes) ---\n")
            out.append(data[-nbytes:].decode("utf-8", "replace"))
        return "".join(out)

    def start(self, port: int | None = None) -> None:
        assert self.proc is None, "already running"
        self.port = port or self.port or free_port()
        self.starts += 1
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "colonies.py", "dev"]
        if not self.executor:
            cmd.append("--no-executor")
        cmd += ["--port", str(self.port), "--data-dir", str(self.data_dir)]
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.env)
        out_path, err_path = self._log_paths()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            self.proc = subprocess.Popen(
                cmd, cwd=str(REPO_ROOT), stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env
            )
        _RUNNING.append(self)
        deadline = time.monotonic() + HEALTH_TIMEOUT
        last_err: object = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.proc = None
                _RUNNING.remove(self)
                pytest.fail(
                    f"server exited with code {rc} during startup: {' '.join(cmd)}\n"
                    + self.log_tail(),
                    pytrace=False,
                )
            try:
                r = requests.get(self.base_url + "/health", timeout=1)
                if r.status_code == 200:
                    return
                last_err = f"HTTP {r.status_code}"
            except requests.RequestException as e:  # not up yet
                last_err = e
            time.sleep(0.1)
        self.stop()
        pytest.fail(
            f"server did not answer GET /health with 200 within {HEALTH_TIMEOUT}s "
            f"(last: {last_err}): {' '.join(cmd)}\n" + self.log_tail(),
            pytrace=False,
        )

    def stop(self) -> None:
        """SIGINT, wait, then kill. Records whether the shutdown was graceful."""
        proc = self.proc
        if proc is None:
            return
        graceful = True
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                graceful = False
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)
        self.last_returncode = proc.returncode
        self.last_stop_graceful = graceful
        self.proc = None
        if self in _RUNNING:
            _RUNNING.remove(self)

    def restart(self) -> None:
        self.stop()
        self.start(self.port)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def _start_server(tmp_path_factory: pytest.TempPathFactory, executor: bool, name: str,
                  request: pytest.FixtureRequest | None = None) -> ServerProcess:
    base = tmp_path_factory.mktemp(name)
    srv = ServerProcess(data_dir=base / "data", log_dir=base / "logs", executor=executor)
    if request is not None and getattr(request, "param", "sqlite") == "postgres":
        srv.env["COLONIES_DATABASE_URL"] = request.getfixturevalue("pg_cluster").new_database()
    srv.start()
    return srv


# Every end-to-end module runs against both backends: SQLite in the data dir, and PostgreSQL.
BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="module", params=BACKENDS)
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """`dev --no-executor` on a free port, one per test module and backend."""
    srv = _start_server(tmp_path_factory, executor=False, name="srv", request=request)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def dev_server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """`dev` WITH the in-process sample executor ("dev-executor", type "cli"), per backend."""
    srv = _start_server(tmp_path_factory, executor=True, name="devsrv", request=request)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    rep = yield
    if rep.failed and _RUNNING:
        for srv in list(_RUNNING):
            rc = srv.proc.poll() if srv.proc is not None else None
            state = "running" if rc is None else f"EXITED rc={rc}"
            rep.sections.append((f"server log (port {srv.port}, {state})", srv.log_tail()))
    return rep


# --------------------------------------------------------------------------------------------
# client / colony helpers
# --------------------------------------------------------------------------------------------


@pytest.fixture
def client(server: ServerProcess) -> Colonies:
    return Colonies("127.0.0.1", server.port)


def new_key() -> tuple[str, str]:
    prv = CRYPTO.prvkey()
    return prv, CRYPTO.id(prv)


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Member:
    name: str
    prv: str
    id: str
    type: str = ""


@dataclass
class ColonyEnv:
    """A colony with fresh keys on a running server, plus helpers."""

    client: Colonies
    name: str
    colony_prv: str
    colony_id: str
    default_type: str
    _users: list[Member] = field(default_factory=list)

    def new_executor(
        self,
        executortype: str | None = None,
        *,
        approve: bool = True,
        name: str | None = None,
    ) -> Member:
        prv, eid = new_key()
        ename = name or uniq("exec")
        etype = executortype or self.default_type
        self.client.add_executor(
            {
                "executorname": ename,
                "executorid": eid,
                "colonyname": self.name,
                "executortype": etype,
            },
            self.colony_prv,
        )
        if approve:
            self.client.approve_executor(self.name, ename, self.colony_prv)
        return Member(ename, prv, eid, etype)

    def new_user(self, name: str | None = None) -> Member:
        prv, uid = new_key()
        uname = name or uniq("user")
        self.client.add_user(
            {"colonyname": self.name, "userid": uid, "name": uname, "email": "", "phone": ""},
            self.colony_prv,
        )
        m = Member(uname, prv, uid)
        self._users.append(m)
        return m

    @property
    def user(self) -> Member:
        """A default user member of the colony (created lazily)."""
        if not self._users:
            self.new_user()
        return self._users[0]

    def spec(
        self,
        funcname: str = "helloworld",
        executortype: str | None = None,
        *,
        args: list[Any] | None = None,
        maxexectime: int = 60,
        maxretries: int = 0,
        maxwaittime: int = -1,
        priority: int = 0,
        executornames: list[str] | None = None,
        env: dict[str, str] | None = None,
        nodename: str = "",
        dependencies: list[str] | None = None,
    ) -> FuncSpec:
        cond = Conditions(
            colonyname=self.name,
            executortype=executortype or self.default_type,
            executornames=executornames,
            dependencies=dependencies or [],
        )
        return FuncSpec(
            nodename=nodename,
            funcname=funcname,
            args=args or [],
            priority=priority,
            maxexectime=maxexectime,
            maxretries=maxretries,
            maxwaittime=maxwaittime,
            conditions=cond,
            env=env or {},
        )

    def submit(self, prv: str | None = None, **kw: Any):  # -> model.Process
        return self.client.submit_func_spec(self.spec(**kw), prv or self.user.prv)


def make_colony(client: Colonies) -> ColonyEnv:
    prv, cid = new_key()
    name = uniq("colony")
    client.add_colony({"colonyid": cid, "name": name}, SERVER_PRV)
    return ColonyEnv(client=client, name=name, colony_prv=prv, colony_id=cid, default_type=uniq("type"))


@pytest.fixture
def colony(client: Colonies) -> ColonyEnv:
    """A fresh colony owned by a fresh key (created by the server owner)."""
    return make_colony(client)


# --------------------------------------------------------------------------------------------
# misc helpers used by several modules
# --------------------------------------------------------------------------------------------


def run_with_timeout(fn: Callable[[], Any], timeout: float, what: str = "call") -> Any:
    """Run fn in a daemon thread; fail the test (instead of hanging) if it does not return."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 -- re-raised in the caller
            box["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        pytest.fail(f"{what} did not return within {timeout}s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def poll_until(fn: Callable[[], Any], timeout: float, interval: float = 0.2, what: str = "condition") -> Any:
    """Call fn until it returns a truthy value; return it, or fail after `timeout` seconds.

    The last value is included in the failure message."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
        time.sleep(interval)


def sign_envelope(msg: dict[str, Any], prv: str, payloadtype: str | None = None) -> dict[str, str]:
    """Build a request envelope exactly like pycolonies does."""
    payload = base64.b64encode(json.dumps(msg).encode("utf-8")).decode("utf-8")
    return {
        "payloadtype": payloadtype if payloadtype is not None else msg["msgtype"],
        "payload": payload,
        "signature": CRYPTO.sign(payload, prv),
    }


class ExecutorLoop:
    """A background executor: assign in a loop and call `handler(process)` on each assignment.

    Stops after `max_assignments` assignments (if given) or when `stop_event` is set.
    Records every assigned process in `assigned`. Errors of assign (e.g. the 404 "No process
    available for assignment" at the end of each long-poll) are collected in `assign_errors`."""

    def __init__(
        self,
        client: Colonies,
        colonyname: str,
        prv: str,
        handler: Callable[[Any], None] | None,
        timeout: int = 1,
        max_assignments: int | None = None,
    ) -> None:
        self.client = client
        self.colonyname = colonyname
        self.prv = prv
        self.handler = handler
        self.timeout = timeout
        self.max_assignments = max_assignments
        self.assigned: list[Any] = []
        self.assign_errors: list[str] = []
        self.handler_errors: list[BaseException] = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                p = self.client.assign(self.colonyname, self.timeout, self.prv)
            except Exception as e:  # noqa: BLE001
                self.assign_errors.append(str(e))
                continue
            self.assigned.append(p)
            if self.handler is not None:
                try:
                    self.handler(p)
                except BaseException as e:  # noqa: BLE001
                    self.handler_errors.append(e)
            if self.max_assignments is not None and len(self.assigned) >= self.max_assignments:
                return

    def __enter__(self) -> ExecutorLoop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.thread.join(self.timeout + 10)
