"""Run a command for a job with its output streamed to the process log (layer L5).

`run_streaming(argv, job, ...)` starts the command in its own session (so a Ctrl-C on the
executor's terminal does not reach it), sends every line of stdout and stderr to `job.log` as it
comes, keeps the last lines of stderr for the error message, and stops the command when the job
is stopped: `stop()` if given (e.g. `docker stop`), else SIGTERM to its process group and SIGKILL
after the grace period.
"""
from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO

from .job import Job

STDERR_TAIL_LINES = 10
STDERR_TAIL_CHARS = 2000
POLL_SECONDS = 0.1
MAX_COLLECT = 1024 * 1024


@dataclass
class Finished:
    returncode: int
    stderr_tail: str
    stopped: bool  # the job was stopped while the command ran
    stdout: str = ""  # with collect_stdout: the first MAX_COLLECT characters of stdout

    def failure(self, what: str) -> str:
        """`<what> exited with N: <last stderr lines>`."""
        text = f"{what} exited with {self.returncode}"
        return f"{text}: {self.stderr_tail}" if self.stderr_tail else text


def _pump(stream: IO[bytes], job: Job, tail: collections.deque[str] | None, collected: list[str] | None) -> None:
    size = 0
    try:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace")
            job.log(line if line.endswith("\n") else line + "\n")
            if tail is not None:
                tail.append(line.rstrip("\n"))
            if collected is not None and size < MAX_COLLECT:
                collected.append(line[:MAX_COLLECT - size])
                size += len(line)
    except (OSError, ValueError):
        pass
    finally:
        stream.close()


def _kill_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def run_streaming(argv: list[str], job: Job, *, env: Mapping[str, str] | None = None, cwd: str | None = None,
                  stop: Callable[[], None] | None = None, grace: float = 10.0,
                  collect_stdout: bool = False) -> Finished:
    """Run `argv` to its end (or until the job is stopped), streaming its output to the job's log."""
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True)
    assert proc.stdout is not None and proc.stderr is not None
    collected: list[str] | None = [] if collect_stdout else None
    pumps = [threading.Thread(target=_pump, args=(proc.stdout, job, None, collected), daemon=True),
             threading.Thread(target=_pump, args=(proc.stderr, job, tail, None), daemon=True)]
    for t in pumps:
        t.start()
    stopped = False
    while proc.poll() is None:
        if job.stopping.wait(POLL_SECONDS):
            stopped = True
            _stop(proc, stop, grace)
            break
    proc.wait()
    for t in pumps:
        t.join(5)  # a grandchild may hold the pipes open; its output is not worth hanging for
    text = "\n".join(tail)
    if len(text) > STDERR_TAIL_CHARS:
        text = "…" + text[-STDERR_TAIL_CHARS:]
    return Finished(proc.returncode, text, stopped, "".join(collected or []))


def _stop(proc: subprocess.Popen[bytes], stop: Callable[[], None] | None, grace: float) -> None:
    if stop is not None:
        # e.g. `docker stop -t GRACE name`: SIGTERM, SIGKILL after the grace period. Repeated, because
        # a stop that comes while the container is still being created finds nothing to stop yet.
        deadline = time.monotonic() + grace + 15
        while time.monotonic() < deadline:
            stop()
            try:
                proc.wait(grace + 2)
                return
            except subprocess.TimeoutExpired:
                continue
    else:
        _kill_group(proc, signal.SIGTERM)
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            pass
    _kill_group(proc, signal.SIGKILL)
