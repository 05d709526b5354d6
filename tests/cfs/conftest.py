"""CFS fixtures: a real `colonies.py dev --no-executor` server and a real moto S3 server, both
subprocesses on free ports, shared by the whole tests/cfs session.

* ``dev``      -- the Colonies dev server (colony "dev", member key DEV_PRVKEY); `.client()`,
                  `.blob_path(sha)` (where the embedded store keeps an object, for corruption tests).
* ``moto``     -- moto in server mode with IAM authentication ON: an IAM user with an s3:* policy
                  and bucket ``cfs-test`` are made first, then `/moto-api/reset-auth 0` makes every
                  later request need that user's keys (so wrong credentials are really refused).
* ``s3_env``   -- the AWS_S3_* variables for ``moto``.
* ``store``    -- parametrized over every ObjectStore: local, http (the dev server), s3 (moto);
                  `store.corrupt(ref, data)` replaces an object's bytes behind the store's back.
* ``big_file`` -- a 64 MiB random file, made once.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from server_process import REPO, ServerProcess, free_port, stop, wait_healthy

DEV_PRVKEY = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"
DEV_COLONY_PRVKEY = "ba949fa134981372d6da62b6a56f336ab4d843b22c02a4257dcf7d0d73097514"
COLONY = "dev"
BUCKET = "cfs-test"
BIG = 64 * 1024 * 1024


@dataclass
class DevServer:
    port: int
    data_dir: Path
    process: ServerProcess
    clients: list[Any] = field(default_factory=list)  # closed when the session ends

    def client(self) -> Any:
        from colonies_pkg.client import Client

        self.clients.append(Client("127.0.0.1", self.port))
        return self.clients[-1]

    def blob_path(self, sha: str) -> Path:
        return self.data_dir / "cfs" / COLONY / sha[:2] / sha

    def env(self) -> dict[str, str]:
        """COLONIES_* for a CLI subprocess (and nothing from AWS_S3_*)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_S3_")}
        env.update({"COLONIES_SERVER_HOST": "127.0.0.1", "COLONIES_SERVER_PORT": str(self.port),
                    "COLONIES_TLS": "false", "COLONIES_COLONY_NAME": COLONY, "COLONIES_PRVKEY": DEV_PRVKEY,
                    "PYTHONPATH": str(REPO), "COLONIES_CLI_ASCII": "true"})
        return env


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    with ServerProcess(tmp_path_factory.mktemp("dev"), "--no-executor") as server:
        port = server.port
        # /health answers before the dev colony is bootstrapped: wait for membership to work
        from colonies_pkg.client import Client

        c = Client("127.0.0.1", port)
        deadline = time.monotonic() + 15
        while True:
            try:
                c.rpc({"msgtype": "getfilelabelsmsg", "colonyname": COLONY, "name": "", "exact": False}, DEV_PRVKEY)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        c.close()
        dev = DevServer(port, server.data_dir, server)
        try:
            yield dev
        finally:
            for client in dev.clients:
                client.close()


@dataclass
class Moto:
    port: int
    accesskey: str
    secretkey: str
    proc: subprocess.Popen[bytes]
    bucket: str = BUCKET

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def env(self, **overrides: str) -> dict[str, str]:
        env = {"AWS_S3_ENDPOINT": self.endpoint, "AWS_S3_ACCESSKEY": self.accesskey,
               "AWS_S3_SECRETKEY": self.secretkey, "AWS_S3_REGION_KEY": "us-east-1", "AWS_S3_BUCKET": self.bucket,
               "AWS_S3_TLS": "false", "AWS_S3_SKIPVERIFY": "false"}
        env.update(overrides)
        return env

    def minio(self) -> Any:
        from minio import Minio

        return Minio(self.endpoint, access_key=self.accesskey, secret_key=self.secretkey, secure=False,
                     region="us-east-1")


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    pytest.importorskip("moto.server")
    pytest.importorskip("minio")
    boto3 = pytest.importorskip("boto3")
    base = tmp_path_factory.mktemp("moto")
    port = free_port()
    log = base / "moto.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    try:
        wait_healthy(port, proc, log, path="/moto-api/")
        url = f"http://127.0.0.1:{port}"
        kw = {"endpoint_url": url, "aws_access_key_id": "setup", "aws_secret_access_key": "setup",
              "region_name": "us-east-1"}
        iam = boto3.client("iam", **kw)
        iam.create_user(UserName="cfs")
        iam.put_user_policy(UserName="cfs", PolicyName="s3", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="cfs")["AccessKey"]
        boto3.client("s3", **kw).create_bucket(Bucket=BUCKET)
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("POST", "/moto-api/reset-auth", body=b"0")
        assert conn.getresponse().status == 200
        conn.close()
        yield Moto(port, key["AccessKeyId"], key["SecretAccessKey"], proc)
    finally:
        stop(proc, signal.SIGTERM)


@pytest.fixture
def s3_env(moto: Moto) -> dict[str, str]:
    return moto.env()


@dataclass
class StoreCase:
    kind: str
    store: Any
    corrupt_fn: Any = None
    config: dict[str, Any] = field(default_factory=dict)  # to rebuild the store in a subprocess

    def corrupt(self, ref: Any, data: bytes) -> None:
        self.corrupt_fn(ref, data)


def make_store(kind: str, tmp_path: Path, dev: DevServer | None, moto: Moto | None) -> StoreCase:
    from colonies_pkg.objectstore.http import HttpObjectStore
    from colonies_pkg.objectstore.local import LocalDirStore
    from colonies_pkg.objectstore.s3 import S3Config, S3Store

    if kind == "local":
        root = tmp_path / "objects"
        store = LocalDirStore(str(root))

        def corrupt(ref: Any, data: bytes) -> None:
            Path(store.path(ref.s3object.object)).write_bytes(data)

        return StoreCase(kind, store, corrupt, {"kind": "local", "root": str(root)})
    if kind == "http":
        assert dev is not None
        store = HttpObjectStore("127.0.0.1", dev.port, COLONY, DEV_PRVKEY)

        def corrupt(ref: Any, data: bytes) -> None:
            dev.blob_path(ref.s3object.object).write_bytes(data)

        return StoreCase(kind, store, corrupt, {"kind": "http", "port": dev.port})
    assert moto is not None
    store = S3Store(S3Config.from_env(moto.env()))

    def corrupt(ref: Any, data: bytes) -> None:
        import io

        moto.minio().put_object(BUCKET, ref.s3object.object, io.BytesIO(data), len(data))

    return StoreCase(kind, store, corrupt, {"kind": "s3", "env": moto.env()})


@pytest.fixture(params=["local", "http", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreCase:
    kind = request.param
    dev = request.getfixturevalue("dev") if kind == "http" else None
    moto = request.getfixturevalue("moto") if kind == "s3" else None
    return make_store(kind, tmp_path, dev, moto)


@pytest.fixture(scope="session")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.bin"
    with open(path, "wb") as f:
        block = os.urandom(1024 * 1024)
        for i in range(BIG // len(block)):  # distinct blocks, cheap to make
            f.write(i.to_bytes(8, "big") + block[8:])
    return path


@pytest.fixture
def label() -> str:
    """A fresh label per test: tests share the dev colony."""
    return f"/t-{uuid.uuid4().hex[:10]}"
