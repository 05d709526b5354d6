"""The executor loop (layer L5): assign processes, run up to N at once, close them; survive
server restarts; stop cleanly.

`Runner(connect, colonyname, prvkey, name, functions, concurrency=N).run(stop)` registers nothing
by itself (call `register_functions()`), then loops until `stop` is set: it asks for a process only
when a slot is free (so nothing is assigned that cannot start at once), runs each in its own
thread inside the process's CFS mount (cfs/mount.py `run_with_fs`), and closes it as successful or
failed. A monitor thread polls every running process: cancelled, no longer assigned to this
executor (e.g. re-queued by the server after maxexectime) or past its own maxexectime, the job is
stopped and its command or container killed. When the server cannot be reached, every call is
retried with backoff (0.5 s doubling to 5 s); one line says so, one line says when it is back.

Replies are read through their Structs (`rpc/replies.py` ProcessReply, `models`). An assign reply
of another shape (a server of another version) is one warning line naming the field, with the
hint; the process it names, if any, is failed with that error (no function could run on what the
executor cannot read, and it would otherwise stay running until its deadline), and the loop backs
off as after any server error and goes on.

`finish(drain)` after `run` returns: with `drain`, running processes finish first (until `force`
is set); the rest are stopped and failed with a clear error. Processes that could not be failed
because the server stayed unreachable for `close_timeout` seconds are returned.
"""
from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from ..cfs.mount import Mount, run_with_fs
from ..client import Client, ConnectionFailed, InvalidReply
from ..crypto import id_of_prvkey
from ..errors import BadRequest, ColoniesError, Forbidden, NotFound
from ..models.executor import Executor, Function
from ..models.process import ProcessState
from ..objectstore.router import store_from_env
from ..rpc import messages as m
from ..rpc.base import Msg
from ..rpc.replies import ProcessReply
from .job import Job, JobStopped, LogShipper, StopReason
from .sample import Builtin

log = logging.getLogger("colonies.executor")
Reporter = Callable[[str, str, dict[str, Any]], None]  # (level "info"/"warn", message, fields)
HEARTBEAT_SECONDS = 60.0  # well under the server's stale-executor duration (600 s by default)


def backoff(attempt: int) -> float:
    """Seconds to wait before retry number `attempt` (1, 2, ...): 0.5, 1, 2, 4, 5, 5, ..."""
    return min(0.5 * 2.0 ** max(attempt - 1, 0), 5.0)


def log_report(level: str, message: str, fields: dict[str, Any]) -> None:
    text = " ".join([message, *(f"{k}={v}" for k, v in sorted(fields.items()))])
    (log.warning if level == "warn" else log.info)("%s", text)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, (ValueError, RuntimeError, ColoniesError, OSError)):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


def _state_name(state: int) -> str:
    try:
        return ProcessState(state).word
    except ValueError:
        return str(state)


class _Running:
    def __init__(self, job: Job, deadline: float | None) -> None:
        self.job, self.deadline = job, deadline
        self.unreadable = False  # said once that the server's view of it could not be read


class Runner:
    """Serves `functions` as the registered executor `name` (whose key is `prvkey`)."""

    def __init__(self, connect: Callable[[], Client], colonyname: str, prvkey: str, name: str,
                 functions: dict[str, Builtin], *, concurrency: int = 1, assign_timeout: int = 2,
                 cfs_root: str | None = None, poll_interval: float = 1.0, report: Reporter | None = None,
                 on_forbidden: Callable[[], None] | None = None) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._connect, self.colonyname, self.prvkey, self.name = connect, colonyname, prvkey, name
        self.executorid = id_of_prvkey(prvkey)
        self.functions = dict(functions)
        self.concurrency, self.assign_timeout, self.poll_interval = concurrency, assign_timeout, poll_interval
        self.cfs_root = cfs_root  # each process's fs mount gets a fresh directory under it
        self.report: Reporter = report or log_report
        self.on_forbidden = on_forbidden
        self.giving_up = threading.Event()  # set: calls that fail to reach the server are not retried
        self._slots = threading.Semaphore(concurrency)
        self._lock = threading.Lock()
        self._running: dict[str, _Running] = {}
        self._threads: list[threading.Thread] = []
        self._unclosed: list[tuple[str, str]] = []
        self._monitor_stop = threading.Event()
        self._monitor: threading.Thread | None = None
        self._clients: weakref.WeakSet[Client] = weakref.WeakSet()
        self._last_assign = time.monotonic()  # the server counts assign calls as heartbeats
        self.heartbeat_interval = HEARTBEAT_SECONDS

    def connect(self) -> Client:
        """A new client (one per thread); `abort()` can break off its request in progress."""
        client = self._connect()
        with self._lock:
            self._clients.add(client)
        return client

    def abort(self) -> None:
        """The server is gone for good (e.g. `dev` is stopping): break off every request in
        progress and retry nothing. Call with `stop` set; `finish()` then fails what ran."""
        self.giving_up.set()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            client.abort()

    # --- calls that outlive a server restart ----------------------------------------------------
    def call(self, client: Client, msg: Msg, *, reply: Any = None, stop: threading.Event | None = None,
             what: str = "") -> Any:
        """`client.rpc(msg, reply=reply)`, retried with backoff while the server is unreachable, until
        it answers, `stop` is set or the runner gives up (then the last ConnectionFailed is raised)."""
        attempt = 0
        while True:
            try:
                result = client.rpc(msg, self.prvkey, timeout=60, reply=reply)
            except ConnectionFailed as exc:
                attempt += 1
                if attempt == 1 and what:
                    self.report("warn", f"Server unreachable, retrying to {what}", {"Error": str(exc)})
                waited = backoff(attempt)
                if (stop is not None and stop.wait(waited)) or self.giving_up.wait(0 if stop else waited):
                    raise
                continue
            if attempt and what:
                self.report("info", "Server reachable again", {})
            return result

    def _await_server(self, client: Client, what: str) -> bool:
        """Wait (with backoff) until the server answers, or the runner gives up; False then."""
        attempt = 0
        while not client.health():
            attempt += 1
            if attempt == 1:
                self.report("warn", f"Server unreachable, waiting to {what}", {})
            if self.giving_up.wait(backoff(attempt)):
                return False
        if attempt:
            self.report("info", "Server reachable again", {})
        return True

    def register_functions(self, stop: threading.Event | None = None) -> None:
        client = self.connect()
        try:
            functions: list[Function] | None = self.call(
                client, m.GetFunctionsMsg(colonyname=self.colonyname, executorname=self.name),
                reply=list[Function] | None, stop=stop, what="register functions")
            existing = {f.funcname for f in functions or []}
            for funcname in self.functions:
                if funcname not in existing:
                    self.call(client, m.AddFunctionMsg(fun=Function(executorname=self.name, colonyname=self.colonyname,
                                                                    funcname=funcname)), stop=stop)
        finally:
            client.close()

    # --- the assign loop ------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Assign and start processes until `stop` is set; returns with jobs possibly still running."""
        self._monitor = threading.Thread(target=self._watch, name=f"{self.name}-monitor", daemon=True)
        self._monitor.start()
        client = self.connect()
        failures = 0
        last_error = ""
        try:
            while not stop.is_set():
                if not self._slots.acquire(timeout=0.2):
                    continue
                started = False
                self._last_assign = time.monotonic()
                try:
                    process = client.rpc(m.AssignProcessMsg(colonyname=self.colonyname, timeout=self.assign_timeout),
                                         self.prvkey, timeout=self.assign_timeout + 30, reply=ProcessReply)
                    if failures and last_error == "unreachable":
                        self.report("info", "Server reachable again", {})
                    failures, last_error = 0, ""
                    self._start(process)
                    started = True
                except NotFound:
                    pass  # nothing to do within the timeout
                except InvalidReply as exc:  # before ColoniesError, of which it is one
                    if last_error == "unreachable":
                        self.report("info", "Server reachable again", {})
                    failures += 1
                    self._unreadable(client, exc, said=last_error == str(exc))
                    last_error = str(exc)
                    stop.wait(backoff(failures))
                except ConnectionFailed as exc:
                    failures += 1
                    if last_error != "unreachable":
                        self.report("warn", "Server unreachable, retrying", {"Error": str(exc)})
                        last_error = "unreachable"
                    stop.wait(backoff(failures))
                except Forbidden as exc:
                    failures += 1
                    if last_error != str(exc):  # once per distinct error, not every few seconds
                        self.report("warn", "Server refused to assign", {"Error": str(exc)})
                        last_error = str(exc)
                    if self.on_forbidden is not None and failures <= 3:
                        try:
                            self.on_forbidden()
                        except ColoniesError as again:
                            self.report("warn", "Could not register again", {"Error": str(again)})
                    stop.wait(backoff(failures + 3))
                except ColoniesError as exc:
                    failures += 1
                    if last_error != str(exc):
                        self.report("warn", "Assign failed, retrying", {"Error": str(exc)})
                        last_error = str(exc)
                    stop.wait(backoff(failures))
                finally:
                    if not started:
                        self._slots.release()
        finally:
            client.close()

    def _unreadable(self, client: Client, exc: InvalidReply, said: bool) -> None:
        """An assign reply of another shape: fail the process it names, if it names one, and say so
        in one line (per process failed; a reply that names none is said once while it repeats:
        `said`)."""
        payload = exc.payload
        pid = payload.get("processid") if isinstance(payload, dict) else None
        fields: dict[str, Any] = {"Error": str(exc), "Hint": exc.hint or ""}
        if not isinstance(pid, str) or not pid:
            if not said:
                self.report("warn", "Could not read an assigned process", fields)
            return
        fields["ProcessId"] = pid
        error = f"executor {self.name} could not read the process the server assigned to it: {exc}"
        try:
            client.rpc(m.CloseFailedMsg(processid=pid, errors=[error]), self.prvkey, timeout=30)
        except ColoniesError as close_exc:
            fields["CloseError"] = str(close_exc)
            self.report("warn", "Could not read an assigned process, nor fail it", fields)
            return
        self.report("warn", "Could not read an assigned process; failed it", fields)

    def _start(self, process: ProcessReply) -> None:
        pid = process.processid
        spec = process.spec
        shipper = LogShipper(self.connect, self.prvkey, pid, self.giving_up, backoff)
        job = Job(pid, process, self.name, shipper)
        deadline = time.monotonic() + spec.maxexectime if spec.maxexectime > 0 else None
        with self._lock:
            self._running[pid] = _Running(job, deadline)
            thread = threading.Thread(target=self._job_main, args=(job, shipper), name=f"job-{pid[:8]}", daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        self.report("info", "Process assigned", {"ProcessId": pid, "FuncName": spec.funcname})
        thread.start()

    # --- one process ------------------------------------------------------------------------------
    def _job_main(self, job: Job, shipper: LogShipper) -> None:
        client = self.connect()
        try:
            outcome, value = self._execute(job, client)
            with self._lock:
                self._running.pop(job.processid, None)
            self._await_server(client, f"close process {job.processid}")
            shipper.close()  # the logs first: once the process is closed the server refuses them
            self._close(client, job, outcome, value)
        except Exception:  # a bug here must not take the executor down
            log.exception("process %s: unexpected error", job.processid)
        finally:
            with self._lock:
                self._running.pop(job.processid, None)
            client.close()
            self._slots.release()

    def _execute(self, job: Job, client: Client) -> tuple[str, Any]:
        funcname = job.spec.funcname
        fn = self.functions.get(funcname)
        if fn is None:
            return "failed", (f"Unknown function {funcname!r}; executor {self.name} offers "
                              f"{', '.join(sorted(self.functions))}")

        def call(mount: Mount | None) -> list[Any]:
            job.fs = mount
            args = job.spec.args or []  # args, kwargs and inputs: the user's JSON values, as sent
            if mount is not None:
                args = mount.translate(args)  # "/cfs/myfiles/x" -> the real path in this process's mount
            out = fn(args, job.spec.kwargs or {}, job.process.in_ or [], job)
            if mount is not None:  # the files go back next: wait out a server restart first
                self._await_server(client, f"sync the files of process {job.processid} back")
            return out

        try:
            job.check()
            out = run_with_fs(client, lambda: store_from_env(client, self.colonyname, self.prvkey),
                              self.colonyname, self.prvkey, job.spec, call, processid=job.processid,
                              root=self.cfs_root, log=job.log)
        except JobStopped:
            return "stopped", None
        except Exception as exc:  # the function or its CFS sync failed: the process fails, we go on
            if job.stopping.is_set():
                return "stopped", None
            return "failed", _error_text(exc)
        return "successful", out if isinstance(out, list) else [out]

    def _close(self, client: Client, job: Job, outcome: str, value: Any) -> None:
        pid = job.processid
        if outcome == "stopped" and not (job.reason and job.reason.close_as_failed):
            self.report("info", "Process stopped", {"ProcessId": pid, "Reason": str(job.reason)})
            return
        if outcome == "stopped":
            outcome, value = "failed", str(job.reason)
        if outcome == "successful":
            msg: Msg = m.CloseSuccessfulMsg(processid=pid, out=value)
        else:
            msg = m.CloseFailedMsg(processid=pid, errors=[value])
        try:
            self.call(client, msg, what=f"close process {pid}")
        except ConnectionFailed:
            with self._lock:
                self._unclosed.append((pid, value if outcome == "failed" else ""))
            self.report("warn", "Could not close process: server unreachable", {"ProcessId": pid})
            return
        except (BadRequest, Forbidden, NotFound) as exc:  # cancelled, re-queued or removed meanwhile
            self.report("info", "Process not closed", {"ProcessId": pid, "Reason": str(exc)})
            return
        except ColoniesError as exc:  # e.g. a close reply of another shape: said, and the loop goes on
            fields = {"ProcessId": pid, "Error": str(exc)}
            if isinstance(exc, InvalidReply) and exc.hint:
                fields["Hint"] = exc.hint
            self.report("warn", "Could not close process", fields)
            return
        if outcome == "successful":
            self.report("info", "Process finished successfully", {"ProcessId": pid})
        else:
            self.report("warn", "Process failed", {"ProcessId": pid, "Error": value})

    # --- the monitor ------------------------------------------------------------------------------
    def _watch(self) -> None:
        client = self.connect()
        try:
            pause = self.poll_interval
            while not self._monitor_stop.wait(pause):
                with self._lock:
                    running = list(self._running.items())
                pause = self.poll_interval * max(1.0, len(running) / 20)  # ≤ ~20 look-ups per round
                for pid, r in running:
                    self._check(client, pid, r)
                if time.monotonic() - self._last_assign > self.heartbeat_interval:
                    self._heartbeat(client)
        finally:
            client.close()

    def _heartbeat(self, client: Client) -> None:
        """All slots busy for a while: no assign calls, so tell the server we are alive (it would
        otherwise unregister us as stale and re-queue what we run). Our allocations are re-sent as
        they are: only this executor may set them."""
        try:
            me = client.rpc(m.GetExecutorByIdMsg(colonyname=self.colonyname, executorid=self.executorid), self.prvkey,
                            timeout=30, reply=Executor)
            client.rpc(m.ReportAllocationMsg(colonyname=self.colonyname, executorname=self.name,
                                             allocations=me.allocations), self.prvkey, timeout=30)
            self._last_assign = time.monotonic()
        except ColoniesError as exc:
            log.debug("heartbeat failed: %s", exc)

    def _check(self, client: Client, pid: str, r: _Running) -> None:
        if r.job.stopping.is_set():
            return
        if r.deadline is not None and time.monotonic() > r.deadline:
            r.job.stop(StopReason(StopReason.DEADLINE,
                                  f"maxexectime ({r.job.spec.maxexectime} s) exceeded"))
            return
        try:
            process = client.rpc(m.GetProcessMsg(processid=pid), self.prvkey, timeout=30, reply=ProcessReply)
        except NotFound:
            r.job.stop(StopReason(StopReason.CANCELLED, "the process was removed"))
            return
        except InvalidReply as exc:  # the job runs on; its own deadline still holds
            if not r.unreadable:
                r.unreadable = True
                self.report("warn", "Could not read the state of a running process",
                            {"ProcessId": pid, "Error": str(exc), "Hint": exc.hint or ""})
            return
        except ColoniesError:
            return  # unreachable or busy: look again next round
        if process.state == ProcessState.RUNNING and process.assignedexecutorid == self.executorid:
            return
        if process.state == ProcessState.CANCELLED:
            r.job.stop(StopReason(StopReason.CANCELLED, "the process was cancelled"))
        else:
            r.job.stop(StopReason(StopReason.CANCELLED, "the process is no longer assigned to this executor "
                                                        f"(now {_state_name(process.state)})"))

    # --- stopping ---------------------------------------------------------------------------------
    def running(self) -> list[str]:
        with self._lock:
            return list(self._running)

    def finish(self, drain: bool = False, close_timeout: float = 30.0,
               force: threading.Event | None = None) -> list[tuple[str, str]]:
        """After `run` returned: let running processes finish (`drain`, until `force` is set) or stop
        them and fail them. Returns (processid, error) of those that could not be failed."""
        if drain:
            never = threading.Event()
            while self.running() and not (force or never).wait(0.2):
                pass
        reason = StopReason(StopReason.SHUTDOWN, f"executor {self.name} was stopped while the process was running")
        with self._lock:
            for r in self._running.values():
                r.job.stop(reason)
            threads = list(self._threads)
        timer = threading.Timer(close_timeout, self.giving_up.set)
        timer.daemon = True
        timer.start()
        try:
            for thread in threads:
                thread.join()
        finally:
            timer.cancel()
            self._monitor_stop.set()
            if self._monitor is not None:
                self._monitor.join(5)
        with self._lock:
            return list(self._unclosed)
