"""The sample executor: safe built-in functions served over the normal RPC API (layer L5).

`SampleExecutor(client, colonyname, prvkey, name).run(stop_event)` registers its functions and
loops: assign (long-poll) → run the function → close with output, or fail with the error.
Running shell commands is opt-in (`allow_shell=True`, the `dev --shell` flag). A process whose spec
has an `fs` block runs inside a CFS mount (labels synced in before, back after; see cfs/).
"""
from __future__ import annotations

import logging
import os
import random
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from .cfs.mount import Mount, run_with_fs
from .client import Client, ConnectionFailed
from .errors import ColoniesError, NotFound
from .objectstore.router import store_from_env

log = logging.getLogger("colonies.executor")
Builtin = Callable[[list[Any], dict[str, Any], list[Any], "Job"], list[Any]]


class Job:
    """What a function may do while it runs: log lines to the process, use its CFS mount."""

    def __init__(self, executor: SampleExecutor, processid: str, fs: Mount | None = None) -> None:
        self._executor, self.processid, self.fs = executor, processid, fs

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True (at once) when the executor is told to stop."""
        return self._executor.stop.wait(seconds)

    def log(self, message: str) -> None:
        self._executor.client.rpc({"msgtype": "addlogmsg", "processid": self.processid, "message": message},
                                  self._executor.prvkey)


def _numbers(values: list[Any]) -> list[float | int]:
    out: list[float | int] = []
    for v in values:
        if isinstance(v, bool):
            continue
        if isinstance(v, (int, float)):
            out.append(v)
        elif isinstance(v, str):
            try:
                out.append(int(v))
            except ValueError:
                try:
                    out.append(float(v))
                except ValueError:
                    raise ValueError(f"not a number: {v!r}") from None
        else:
            raise ValueError(f"not a number: {v!r}")
    return out


def helloworld(args, kwargs, inputs, job):
    job.log("Hello from the colonies-py sample executor\n")
    return ["helloworld"]


def echo(args, kwargs, inputs, job):
    return list(args) if args else list(inputs)


def sleep(args, kwargs, inputs, job):
    seconds = float(_numbers(args[:1])[0]) if args else 1.0
    if not 0 <= seconds <= 3600:
        raise ValueError("sleep takes 0 to 3600 seconds")
    job.log(f"sleeping {seconds} s\n")
    if job.wait(seconds):
        raise RuntimeError("sleep interrupted: the executor is stopping")
    return []


def fibonacci(args, kwargs, inputs, job):
    n = int(_numbers(args[:1] or inputs[:1])[0]) if (args or inputs) else 10
    if not 0 <= n <= 10_000:
        raise ValueError("fibonacci takes n in [0, 10000]")
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return [a]


def gen(args, kwargs, inputs, job):
    count = int(_numbers(args[:1])[0]) if args else 5
    if not 0 <= count <= 10_000:
        raise ValueError("gen takes a count in [0, 10000]")
    return [random.randint(1, 100) for _ in range(count)]


def total(args, kwargs, inputs, job):
    return [sum(_numbers(list(inputs) + list(args)))]


BUILTINS: dict[str, Builtin] = {
    "helloworld": helloworld, "echo": echo, "sleep": sleep, "fibonacci": fibonacci, "gen": gen, "sum": total,
}


def shell(args, kwargs, inputs, job):
    """Run args as a command line (no shell interpretation); only when explicitly enabled."""
    if not args:
        raise ValueError("execute needs a command in args")
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=3600,
                            env={**os.environ, **job.fs.env()} if job.fs else None,
                            cwd=job.fs.path if job.fs else None)
    if result.stdout:
        job.log(result.stdout)
    if result.returncode != 0:
        raise RuntimeError(f"command exited with {result.returncode}: {result.stderr.strip()[:500]}")
    return [result.stdout]


class SampleExecutor:
    def __init__(self, client: Client, colonyname: str, prvkey: str, name: str, allow_shell: bool = False,
                 assign_timeout: int = 3, cfs_root: str | None = None) -> None:
        self.client, self.colonyname, self.prvkey, self.name = client, colonyname, prvkey, name
        self.cfs_root = cfs_root  # each process's fs mount gets a fresh directory under it
        self.functions = dict(BUILTINS)
        if allow_shell:
            self.functions["execute"] = shell
        self.assign_timeout = assign_timeout
        self.stop = threading.Event()

    def register_functions(self) -> None:
        existing = {f["funcname"] for f in self.client.rpc(
            {"msgtype": "getfunctionsmsg", "colonyname": self.colonyname, "executorname": self.name}, self.prvkey)}
        for funcname in self.functions:
            if funcname not in existing:
                self.client.rpc({"msgtype": "addfunctionmsg", "fun": {
                    "executorname": self.name, "colonyname": self.colonyname, "funcname": funcname}}, self.prvkey)

    def run_one(self) -> bool:
        """Assign and run one process; False when nothing arrived within the timeout."""
        try:
            process = self.client.rpc({"msgtype": "assignprocessmsg", "colonyname": self.colonyname,
                                       "timeout": self.assign_timeout}, self.prvkey,
                                      timeout=self.assign_timeout + 30)
        except NotFound:
            return False
        pid = process["processid"]
        spec = process.get("spec") or {}
        fn = self.functions.get(spec.get("funcname", ""))
        if fn is None:
            self._fail(pid, f"Unknown function {spec.get('funcname')!r}; this executor offers "
                            f"{', '.join(sorted(self.functions))}")
            return True
        def call(mount: Mount | None) -> list[Any]:
            args = spec.get("args") or []
            if mount is not None:
                args = mount.translate(args)  # "/cfs/myfiles/x" -> the real path in this process's mount
            return fn(args, spec.get("kwargs") or {}, process.get("in") or [], Job(self, pid, mount))

        try:
            out = run_with_fs(self.client, lambda: store_from_env(self.client, self.colonyname, self.prvkey),
                              self.colonyname, self.prvkey, spec, call, processid=pid, root=self.cfs_root,
                              log=Job(self, pid).log)
        except Exception as exc:  # the function or its CFS sync failed: the process fails, we go on
            self._fail(pid, f"{type(exc).__name__}: {exc}")
            return True
        try:
            self.client.rpc({"msgtype": "closesuccessfulmsg", "processid": pid, "out": out}, self.prvkey)
        except ColoniesError as exc:
            log.warning("could not close process %s: %s", pid, exc)
        return True

    def _fail(self, pid: str, error: str) -> None:
        try:
            self.client.rpc({"msgtype": "closefailedmsg", "processid": pid, "errors": [error]}, self.prvkey)
        except ColoniesError as exc:
            log.warning("could not fail process %s: %s", pid, exc)

    def run(self, stop: threading.Event) -> None:
        self.stop = stop
        while not stop.is_set():
            try:
                self.run_one()
            except ConnectionFailed:
                if stop.wait(0.5):
                    break
            except ColoniesError as exc:
                log.warning("executor %s: %s", self.name, exc)
                if stop.wait(1.0):
                    break
