"""CLI acceptance fixtures: one `python colonies.py dev` server (with the sample executor, type
`cli`) per test module, and a `cli` runner that runs `python colonies.py …` as a subprocess with
the docker-compose dev keys in its environment.

* ``dev_server`` (module) -- the server; ``.port``, ``.log_tail()``.
* ``cli``        (module) -- ``cli("process", "ps", "--json")`` → ``Result(rc, out, err)``;
  ``cli.ok(...)`` asserts exit code 0; ``cli.json(...)`` parses stdout; ``cli.env`` is the
  environment used (copy it to run other programs against the same server).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVER_PRV = "fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d"
COLONY_PRV = "ba949fa134981372d6da62b6a56f336ab4d843b22c02a4257dcf7d0d73097514"
USER_PRV = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"
USER_ID = "3fc05cf3df4b494e95d6a3d297a34f19938f7daa7422ab0d4f794454133341ac"
COLONY_ID = "4787a5071856a4acf702b2ffcea422e3237a679c681314113d86139461290cf4"
CLI_TIMEOUT = 60


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLONIES_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class DevServer:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.log = tmp / "dev.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "colonies.py", "dev", "--port", str(self.port), "--data-dir", str(tmp / "data")],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=base_env())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"dev server exited with {self.proc.returncode}:\n{self.log_tail()}", pytrace=False)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"dev server did not become healthy:\n{self.log_tail()}", pytrace=False)

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class Result(NamedTuple):
    rc: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"rc={self.rc}\n--- stdout ---\n{self.out}\n--- stderr ---\n{self.err}"


class Cli:
    def __init__(self, server: DevServer) -> None:
        self.server = server
        self.env = base_env() | {
            "COLONIES_SERVER_HOST": "127.0.0.1", "COLONIES_SERVER_PORT": str(server.port), "COLONIES_TLS": "false",
            "COLONIES_SERVER_TLS": "false", "COLONIES_COLONY_NAME": "dev", "COLONIES_PRVKEY": USER_PRV,
            "COLONIES_COLONY_PRVKEY": COLONY_PRV, "COLONIES_SERVER_PRVKEY": SERVER_PRV,
        }

    def __call__(self, *argv: str, env: dict[str, str] | None = None, input: str | None = None,
                 timeout: float = CLI_TIMEOUT) -> Result:
        run_env = dict(self.env)
        for key, value in (env or {}).items():
            if value is None:
                run_env.pop(key, None)
            else:
                run_env[key] = value
        proc = subprocess.run([sys.executable, "colonies.py", *argv], cwd=REPO, env=run_env, input=input,
                              capture_output=True, text=True, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *argv: str, **kw: Any) -> Result:
        result = self(*argv, **kw)
        assert result.rc == 0, f"colonies {' '.join(argv)} failed:\n{result}\n--- server ---\n{self.server.log_tail()}"
        return result

    def json(self, *argv: str, **kw: Any) -> Any:
        return json.loads(self.ok(*argv, "--json", **kw).out)

    def keypair(self) -> tuple[str, str]:
        """A fresh (prvkey, id) from `key generate --json`."""
        data = json.loads(self.ok("key", "generate", "--json").out)
        return data["prvkey"], data["id"]


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    server = DevServer(tmp_path_factory.mktemp("cli-dev"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def cli(dev_server: DevServer) -> Cli:
    return Cli(dev_server)
