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
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
from server_process import DEV_COLONY_ID as COLONY_ID  # noqa: F401  (used by the test modules)
from server_process import DEV_COLONY_PRV as COLONY_PRV
from server_process import DEV_USER_ID as USER_ID  # noqa: F401
from server_process import DEV_USER_PRV as USER_PRV
from server_process import REPO, SERVER_PRV, ServerProcess, free_port  # noqa: F401

CLI_TIMEOUT = 60


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLONIES_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Result(NamedTuple):
    rc: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"rc={self.rc}\n--- stdout ---\n{self.out}\n--- stderr ---\n{self.err}"


class Cli:
    def __init__(self, server: ServerProcess) -> None:
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
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("cli-dev"), environ=base_env()) as server:
        yield server


@pytest.fixture(scope="module")
def cli(dev_server: ServerProcess) -> Cli:
    return Cli(dev_server)
