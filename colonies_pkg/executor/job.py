"""One assigned process while an executor runs it (layer L5): its log, its CFS mount, and the
reason it must stop, if any.

`Job.log(text)` never blocks the function: lines go to a queue that a shipper thread sends to the
server as `addlogmsg`, one message per line while output trickles in, several lines per message
when it floods, and kept (up to a bound) while the server is unreachable. `Job.stop(reason)` is
called by the executor when the process is cancelled, no longer assigned to it, past its
maxexectime, or when the executor shuts down; functions watch `job.stopping` (or call
`job.check()`) and give up with `JobStopped`.
"""
from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from typing import Any

from ..client import Client, ConnectionFailed
from ..errors import ColoniesError
from ..models.process import FunctionSpec
from ..rpc.messages import AddLogMsg
from ..rpc.replies import ProcessReply

MAX_BATCH_BYTES = 64 * 1024  # one addlogmsg carries at most this much text
MAX_PENDING_BYTES = 8 * 1024 * 1024  # kept while the server is unreachable; older lines are dropped beyond


class JobStopped(Exception):
    """The process was stopped from outside (cancel, deadline, shutdown) while it ran."""


class StopReason:
    """Why a job was stopped; `close_as_failed` says whether the executor closes the process itself."""

    CANCELLED = "cancelled"  # the process is no longer running or no longer ours: the server decided
    DEADLINE = "deadline"  # maxexectime passed: the server re-queues or fails it (retries)
    SHUTDOWN = "shutdown"  # the executor stops: it fails the process with a clear error

    def __init__(self, kind: str, message: str) -> None:
        self.kind, self.message = kind, message

    @property
    def close_as_failed(self) -> bool:
        return self.kind == self.SHUTDOWN

    def __str__(self) -> str:
        return self.message


class LogShipper:
    """Sends a job's log text to the server in order, from its own thread and connection."""

    def __init__(self, client_factory: Callable[[], Client], prvkey: str, processid: str,
                 giving_up: threading.Event, retry_wait: Callable[[int], float]) -> None:
        self._client_factory, self._prvkey, self._processid = client_factory, prvkey, processid
        self._giving_up, self._retry_wait = giving_up, retry_wait
        self._pending: collections.deque[str] = collections.deque()
        self._pending_bytes = 0
        self._dropped = 0
        self._cond = threading.Condition()
        self._closed = False
        self._refused = False  # the server said no (process closed or no longer ours): stop sending
        self._thread = threading.Thread(target=self._main, name=f"log-{processid[:8]}", daemon=True)
        self._thread.start()

    def put(self, text: str) -> None:
        if not text:
            return
        with self._cond:
            if self._closed or self._refused:
                return
            self._pending.append(text)
            self._pending_bytes += len(text)
            while self._pending_bytes > MAX_PENDING_BYTES and len(self._pending) > 1:
                self._pending_bytes -= len(self._pending.popleft())
                self._dropped += 1
            self._cond.notify()

    def _take(self) -> str | None:
        with self._cond:
            while not self._pending and not self._closed:
                self._cond.wait()
            if not self._pending:
                return None
            parts: list[str] = []
            size = 0
            if self._dropped:
                parts.append(f"[{self._dropped} log lines dropped while the server was unreachable]\n")
                self._dropped = 0
            while self._pending and (not parts or size + len(self._pending[0]) <= MAX_BATCH_BYTES):
                part = self._pending.popleft()
                self._pending_bytes -= len(part)
                parts.append(part)
                size += len(part)
            return "".join(parts)

    def _main(self) -> None:
        client = self._client_factory()
        try:
            while (text := self._take()) is not None:
                self._send(client, text)
        finally:
            client.close()

    def _send(self, client: Client, text: str) -> None:
        attempt = 0
        while True:
            try:
                client.rpc(AddLogMsg(processid=self._processid, message=text), self._prvkey, timeout=30)
                return
            except ConnectionFailed:
                attempt += 1
                if self._giving_up.wait(self._retry_wait(attempt)):
                    self._refuse()
                    return
            except ColoniesError:
                self._refuse()  # 403: the process is closed or was reassigned; nothing more to say
                return

    def _refuse(self) -> None:
        with self._cond:
            self._refused = True
            self._pending.clear()
            self._pending_bytes = 0

    def close(self, timeout: float | None = None) -> None:
        """Send what is queued (waiting up to `timeout`), then end the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)


class Job:
    """What a function may do while it runs: log to the process, use its CFS mount, see a stop."""

    def __init__(self, processid: str, process: ProcessReply, executorname: str,
                 shipper: LogShipper | None = None) -> None:
        self.processid, self.process, self.executorname = processid, process, executorname
        self.spec: FunctionSpec = process.spec  # its args, kwargs and env: the user's JSON values
        self.fs: Any = None  # the process's CFS Mount while it runs inside one
        self.stopping = threading.Event()
        self.reason: StopReason | None = None
        self._shipper = shipper
        self._lock = threading.Lock()

    def log(self, message: str) -> None:
        if self._shipper is not None:
            self._shipper.put(message)

    def stop(self, reason: StopReason) -> None:
        """Ask the function to stop; the first reason wins."""
        with self._lock:
            if self.reason is None:
                self.reason = reason
        self.stopping.set()

    def check(self) -> None:
        if self.stopping.is_set():
            raise JobStopped(str(self.reason))
