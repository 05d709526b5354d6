"""The in-process tier: the real Starlette app (`create_app`) driven through Starlette's
`TestClient` with the lifespan entered, so the database, the writer task and the hub run exactly
as in `colonies server start`; only the socket is missing. Requests are signed like pycolonies
does (base64 JSON payload, secp256k1 signature over the payload text).

Fixtures
--------
* ``api``    (function) -- an `Api` on a fresh server (own data dir) whose owner is ``keys.server``.
* ``colony`` (function) -- a fresh colony on ``api`` with a user (executors: ``colony.new_executor()``).
"""
from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from replies import Reply, assert_error, assert_ok  # noqa: F401  (re-exported for the test modules)
from starlette.testclient import TestClient

from colonies_pkg.config import ServerConfig
from colonies_pkg.crypto import generate_prvkey, id_of_prvkey, sign
from colonies_pkg.server.app import create_app


def b64(obj: Any) -> str:
    return base64.b64encode(json.dumps(obj).encode()).decode()


def sign_envelope(msg: dict[str, Any], prv: str, payloadtype: str | None = None) -> dict[str, str]:
    """A request envelope exactly as pycolonies builds it."""
    payload = b64(msg)
    return {"payloadtype": payloadtype if payloadtype is not None else msg["msgtype"], "payload": payload,
            "signature": sign(payload, prv)}


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass(frozen=True)
class Key:
    prv: str
    id: str

    @classmethod
    def new(cls) -> Key:
        prv = generate_prvkey()
        return cls(prv, id_of_prvkey(prv))


class Api:
    """One in-process server: `post` raw bodies, `rpc` signed messages, `ok` for the payload of a success."""

    def __init__(self, client: TestClient, config: ServerConfig, owner: Key) -> None:
        self.client, self.config, self.owner = client, config, owner

    def post(self, body: str | bytes) -> Reply:
        r = self.client.post("/api", content=body)
        try:
            return Reply(r.status_code, r.text)
        except Exception as exc:
            pytest.fail(f"reply is not a valid envelope ({exc}): HTTP {r.status_code} {r.text[:300]!r}")

    def rpc(self, msg: dict[str, Any], prv: str, payloadtype: str | None = None) -> Reply:
        return self.post(json.dumps(sign_envelope(msg, prv, payloadtype)))

    def ok(self, msg: dict[str, Any], prv: str) -> Any:
        return assert_ok(self.rpc(msg, prv), msg["msgtype"])

    @contextlib.contextmanager
    def unchanged(self) -> Iterator[None]:
        """Asserts that nothing was committed inside the block (SQLite's `PRAGMA data_version` moves
        on every commit by another connection that changed the database)."""
        conn = sqlite3.connect(self.config.db_path)
        try:
            before = conn.execute("PRAGMA data_version").fetchone()[0]
            yield
            assert conn.execute("PRAGMA data_version").fetchone()[0] == before, "the database was changed"
        finally:
            conn.close()

    def dump(self) -> list[str]:
        """Every row of the database, as SQL text (to show that a refused request changed nothing)."""
        conn = sqlite3.connect(self.config.db_path)
        try:
            return list(conn.iterdump())
        finally:
            conn.close()


class Member(NamedTuple):
    name: str
    prv: str
    id: str


@dataclass
class Colony:
    api: Api
    name: str
    owner: Key
    user: Key
    username: str
    executor: Key
    executorname: str
    executortype: str

    def new_executor(self, approve: bool = True) -> Member:
        key, name = Key.new(), uniq("exec")
        self.api.ok({"msgtype": "addexecutormsg", "executor": {"executorname": name, "executorid": key.id,
                                                               "colonyname": self.name,
                                                               "executortype": self.executortype}}, self.owner.prv)
        if approve:
            self.api.ok({"msgtype": "approveexecutormsg", "colonyname": self.name, "executorname": name},
                        self.owner.prv)
        return Member(name, key.prv, key.id)

    def submit(self, funcname: str = "echo", **spec: Any) -> dict[str, Any]:
        fs = {"funcname": funcname, "maxexectime": 60, "maxwaittime": -1, "maxretries": 0,
              "conditions": {"colonyname": self.name, "executortype": self.executortype}, **spec}
        return self.api.ok({"msgtype": "submitfuncspecmsg", "spec": fs}, self.user.prv)


def new_colony(api: Api, executor_registered: bool = True) -> Colony:
    """A colony owned by a fresh key, with a user and (unless told otherwise) an approved executor."""
    owner, user, executor = Key.new(), Key.new(), Key.new()
    name, username, executorname, executortype = uniq("colony"), uniq("user"), uniq("exec"), uniq("type")
    api.ok({"msgtype": "addcolonymsg", "colony": {"colonyid": owner.id, "name": name}}, api.owner.prv)
    api.ok({"msgtype": "addusermsg", "user": {"colonyname": name, "userid": user.id, "name": username,
                                              "email": "", "phone": ""}}, owner.prv)
    if executor_registered:
        api.ok({"msgtype": "addexecutormsg", "executor": {"executorname": executorname, "executorid": executor.id,
                                                          "colonyname": name, "executortype": executortype}},
               owner.prv)
        api.ok({"msgtype": "approveexecutormsg", "colonyname": name, "executorname": executorname}, owner.prv)
    return Colony(api, name, owner, user, username, executor, executorname, executortype)


@pytest.fixture
def api(tmp_path: Path, keys: Any) -> Iterator[Api]:
    config = ServerConfig(data_dir=str(tmp_path / "data"), server_id=keys.server.id, port=0)
    with TestClient(create_app(config, start_loops=False), raise_server_exceptions=True) as client:
        yield Api(client, config, Key(keys.server.prv, keys.server.id))


@pytest.fixture
def colony(api: Api) -> Colony:
    """A fresh colony with a user and no executor yet (`colony.new_executor()` adds one)."""
    return new_colony(api, executor_registered=False)
