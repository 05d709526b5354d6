"""Waiting for processes over the `/pubsub` WebSocket (`--wait`, `--follow`), without polling.

`ProcessWaiter(session, process)` opens one `subscribeprocessmsg` subscription per final state
(successful, failed, cancelled) in background threads, as the Go CLI does for --wait; the
server pushes the process as soon as it is in (or enters) that state. Subscriptions are renewed
when the server closes them at their timeout. `result(timeout)` blocks until the first push.
"""
from __future__ import annotations

import contextlib
import queue
import threading
import time
from typing import Any

from ..client import InvalidReply, decode_reply, envelope
from ..errors import ColoniesError
from ..models.process import ProcessState
from ..rpc.messages import SubscribeProcessMsg
from ..rpc.replies import ProcessReply
from ..tls import client_context
from .common import CliError, Session

SUCCESS, FAILED, CANCELLED = ProcessState.SUCCESS, ProcessState.FAILED, ProcessState.CANCELLED
FINAL_STATES = (SUCCESS, FAILED, CANCELLED)
STATE_NAMES: dict[int, str] = {state: state.word.capitalize() for state in ProcessState}
SUBSCRIPTION_SECONDS = 60


class ProcessWaiter:
    def __init__(self, session: Session, process: ProcessReply, states: tuple[int, ...] = FINAL_STATES,
                 subscription_seconds: int = SUBSCRIPTION_SECONDS) -> None:
        self.session = session
        self.processid = process.processid
        self.executortype = process.conditions.executortype
        self.colonyname = process.conditions.colonyname
        self.seconds = subscription_seconds
        self.prvkey = session.prvkey  # raises here, in the caller's thread, when missing
        self._results: queue.Queue[ProcessReply | CliError] = queue.Queue()
        self._stop = threading.Event()
        self._sockets: list[Any] = []  # websockets' ClientConnection (imported on use)
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._subscribe, args=(state,), daemon=True,
                                          name=f"wait-{state}") for state in states]
        for t in self._threads:
            t.start()

    def _subscribe(self, state: int) -> None:
        from websockets.exceptions import ConnectionClosed, InvalidURI, WebSocketException
        from websockets.sync.client import connect

        msg = SubscribeProcessMsg(colonyname=self.colonyname, processid=self.processid,
                                  executortype=self.executortype, state=state, timeout=self.seconds)
        failures = 0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                ssl_ctx = client_context(self.session.verify) if self.session.tls else None
                with connect(self.session.ws_url, open_timeout=10, close_timeout=1, ssl=ssl_ctx,
                             max_size=None) as ws:
                    with self._lock:
                        self._sockets.append(ws)
                    ws.send(envelope(msg, self.prvkey).decode())
                    failures = 0
                    for raw in ws:  # ends when the server closes the subscription at its timeout
                        self._results.put(self._decode(raw))
                        return
            except ConnectionClosed:
                pass
            except (OSError, InvalidURI, WebSocketException, ValueError) as exc:
                if self._stop.is_set():
                    return
                failures += 1
                if failures >= 3:
                    self._results.put(CliError(f"cannot subscribe to process {self.processid} at "
                                               f"{self.session.ws_url}: {exc}"))
                    return
                self._stop.wait(1.0)
                continue
            if time.monotonic() - started < 1.0:  # closed early: never spin
                self._stop.wait(1.0)

    def _decode(self, raw: str | bytes) -> ProcessReply | CliError:
        """A push: the process, or the error it carries (or the error of a push that is no process)."""
        try:
            process: ProcessReply = decode_reply(raw, 200, ProcessReply, where="push on /pubsub")
            return process
        except InvalidReply as exc:
            return CliError(f"cannot wait for process {self.processid}: {exc}",
                            hint=f"the server at {self.session.address} pushed a process of another shape: is it a "
                                 "Colonies server of a version this client speaks?")
        except ColoniesError as exc:  # an error push, e.g. 403 for a process of another colony
            return CliError(f"cannot wait for process {self.processid}: {exc}")

    def result(self, timeout: float | None = None) -> ProcessReply | None:
        """The process once it reached one of the states; None if `timeout` passed first."""
        try:
            item = self._results.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            self.close()
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for ws in sockets:
            with contextlib.suppress(Exception):
                ws.close()


def wait_for(session: Session, process: ProcessReply, timeout: float | None = None) -> ProcessReply:
    """Block until `process` is successful, failed or cancelled; returns it as the server has it."""
    waiter = ProcessWaiter(session, process)
    try:
        done = waiter.result(timeout)
    finally:
        waiter.close()
    if done is None:
        raise CliError(f"timed out waiting for process {process.processid}")
    return done
