"""End-to-end fixtures: a real `python colonies.py dev` subprocess on a free port, driven by
the unmodified pycolonies 1.0.25 SDK over a real socket.

Fixtures
--------
* ``server``      (module) -- ``dev --no-executor`` on a free port with a tmp data dir.
* ``client``      (function) -- ``pycolonies.Colonies("127.0.0.1", port)`` for ``server``.
* ``colony``      (function) -- a fresh colony (fresh keys) on ``server`` with helpers to add
  executors and users; isolates tests from each other and from the built-in "dev" colony.
* ``dev_server``  (module) -- ``dev`` WITH the in-process sample executor (used by test_dev.py).

The server processes come from tests/server_process.py; when a test fails, the tail of every
running server's log is attached to the report (tests/conftest.py).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from model import Conditions, FuncSpec
from pycolonies import Colonies
from server_process import (  # noqa: F401  (re-exported for the test modules)
    DEV_COLONY_ID,
    DEV_COLONY_NAME,
    DEV_COLONY_PRV,
    DEV_USER_ID,
    DEV_USER_PRV,
    SERVER_ID,
    SERVER_PRV,
    ServerProcess,
    free_port,
)
from server_process import REPO as REPO_ROOT  # noqa: F401

from colonies_pkg.crypto import generate_prvkey, id_of_prvkey, sign


def _start_server(tmp_path_factory: pytest.TempPathFactory, executor: bool, name: str,
                  request: pytest.FixtureRequest | None = None) -> ServerProcess:
    flags = () if executor else ("--no-executor",)
    env: dict[str, str] = {}
    if request is not None and getattr(request, "param", "sqlite") == "postgres":
        env["COLONIES_DATABASE_URL"] = request.getfixturevalue("pg_cluster").new_database()
    return ServerProcess(tmp_path_factory.mktemp(name), *flags, env=env).start()


# Every end-to-end module runs against both backends: SQLite in the data dir, and PostgreSQL.
BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="module", params=BACKENDS)
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """`dev --no-executor` on a free port, one per test module and backend."""
    with _start_server(tmp_path_factory, executor=False, name="srv", request=request) as srv:
        yield srv


@pytest.fixture(scope="module", params=BACKENDS)
def dev_server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """`dev` WITH the in-process sample executor ("dev-executor", type "cli"), per backend."""
    with _start_server(tmp_path_factory, executor=True, name="devsrv", request=request) as srv:
        yield srv


# --------------------------------------------------------------------------------------------
# client / colony helpers
# --------------------------------------------------------------------------------------------


@pytest.fixture
def client(server: ServerProcess) -> Colonies:
    return Colonies("127.0.0.1", server.port)


def new_key() -> tuple[str, str]:
    prv = generate_prvkey()
    return prv, id_of_prvkey(prv)


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
        except BaseException as e:  # re-raised in the caller
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
    """Build a request envelope exactly like pycolonies does (its signatures are deterministic, and
    ours are byte-identical to them: tests/unit/test_crypto.py; ours take 0.05 ms instead of 1.5)."""
    payload = base64.b64encode(json.dumps(msg).encode("utf-8")).decode("utf-8")
    return {
        "payloadtype": payloadtype if payloadtype is not None else msg["msgtype"],
        "payload": payload,
        "signature": sign(payload, prv),
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
            except Exception as e:
                self.assign_errors.append(str(e))
                continue
            self.assigned.append(p)
            if self.handler is not None:
                try:
                    self.handler(p)
                except BaseException as e:  # collected in handler_errors
                    self.handler_errors.append(e)
            if self.max_assignments is not None and len(self.assigned) >= self.max_assignments:
                return

    def __enter__(self) -> ExecutorLoop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.thread.join(self.timeout + 10)
