"""The built-in sample functions of `dev` and `executor start --type cli` (layer L5): helloworld,
echo, sleep, fibonacci, gen and sum, and, only when enabled (`--shell`), `execute`, which runs
args as a command line on the host with its output streamed to the process log.

A function is `fn(args, kwargs, inputs, job) -> output list`; `job` (see job.py) logs to the
process, holds its CFS mount, and tells the function when to stop.
"""
from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any

from .job import Job, JobStopped
from .stream import run_streaming

Builtin = Callable[[list[Any], dict[str, Any], list[Any], Job], list[Any]]
SHELL_STOP_GRACE = 5.0


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


def helloworld(args: list[Any], kwargs: dict[str, Any], inputs: list[Any], job: Job) -> list[Any]:
    job.log("Hello from the colonies-py sample executor\n")
    return ["helloworld"]


def echo(args: list[Any], kwargs: dict[str, Any], inputs: list[Any], job: Job) -> list[Any]:
    return list(args) if args else list(inputs)


def sleep(args: list[Any], kwargs: dict[str, Any], inputs: list[Any], job: Job) -> list[Any]:
    seconds = float(_numbers(args[:1])[0]) if args else 1.0
    if not 0 <= seconds <= 3600:
        raise ValueError("sleep takes 0 to 3600 seconds")
    job.log(f"sleeping {seconds} s\n")
    if job.stopping.wait(seconds):
        raise JobStopped(str(job.reason))
    return []


def fibonacci(args: list[Any], kwargs: dict[str, Any], inputs: list[Any], job: Job) -> list[Any]:
    n = int(_numbers(args[:1] or inputs[:1])[0]) if (args or inputs) else 10
    if not 0 <= n <= 10_000:
        raise ValueError("fibonacci takes n in [0, 10000]")
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return [a]


def gen(args: list[Any], kwargs: dict[str, Any], inputs: list[Any], job: Job) -> list[Any]:
    count = int(_numbers(args[:1])[0]) if args else 5
    if not 0 <= count <= 10_000:
        raise ValueError("gen takes a count in [0, 10000]")
    return [random.randint(1, 100) for _ in range(count)]


def total(args: list[Any], kwargs: dict[str, Any], inputs: list[Any], job: Job) -> list[Any]:
    return [sum(_numbers(list(inputs) + list(args)))]


BUILTINS: dict[str, Builtin] = {
    "helloworld": helloworld, "echo": echo, "sleep": sleep, "fibonacci": fibonacci, "gen": gen, "sum": total,
}


def shell(args: list[Any], kwargs: dict[str, Any], inputs: list[Any], job: Job) -> list[Any]:
    """Run args as a command line (no shell interpretation); only when explicitly enabled."""
    if not args:
        raise ValueError("execute needs a command in args")
    finished = run_streaming([str(a) for a in args], job, env={**os.environ, **job.fs.env()} if job.fs else None,
                             cwd=job.fs.path if job.fs else None, grace=SHELL_STOP_GRACE, collect_stdout=True)
    if finished.stopped:
        raise JobStopped(str(job.reason))
    if finished.returncode != 0:
        raise RuntimeError(finished.failure("command"))
    return [finished.stdout]


def sample_functions(allow_shell: bool = False) -> dict[str, Builtin]:
    functions = dict(BUILTINS)
    if allow_shell:
        functions["execute"] = shell
    return functions
