"""The `assignprocessmsg` long-poll (PROTOCOL §6.2): try, park in the hub's FIFO, try when woken.

A request whose client disconnects is cancelled by `server/api.py`. Cancelled while parked, it
leaves the queue at once (hub). Cancelled while an attempt is queued in the writer, the attempt
sees `still_wanted()` false and assigns nothing; if the attempt had already assigned a process
(the disconnect came while it was being committed), the process is given back to the queue.
Either way no process stays with a client that is gone, and no wake-up is lost.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..clock import now_ns
from ..domain import processes
from ..domain.events import ProcessChanged
from ..errors import BadRequest, NotFound, Timeout, Unavailable
from ..hub import Waiter
from ..rpc import messages as m
from .context import Context

log = logging.getLogger("colonies")
NO_PROCESS = "No process available for assignment"
RECHECK_SECONDS = 5.0  # a parked waiter also looks again this often (a safety net, not the mechanism)
_background: set[asyncio.Task[Any]] = set()


class _Ticket:
    """Read by the writer thread: is the requester still there?"""

    __slots__ = ("wanted",)

    def __init__(self) -> None:
        self.wanted = True

    def still_wanted(self) -> bool:
        return self.wanted


async def assign(ctx: Context, msg: m.AssignProcessMsg) -> Any:
    if msg.timeout == 0:
        raise BadRequest("Invalid timeout value, timeout cannot be zero")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + msg.timeout if msg.timeout > 0 else None
    hub = ctx.services.hub
    waiter: Waiter | None = None
    woken_for: ProcessChanged | None = None  # the event that woke us, while not yet used
    while True:
        seen = hub.seq  # noted before the attempt: a later event means "try again", not "park"
        try:
            result = await _attempt(ctx, msg, woken_for)
        except processes.Paused as exc:
            if deadline is None:
                raise Unavailable(str(exc.message)) from exc
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise Timeout("Failed to assign process, assignments are paused and the timeout expired") from exc
            woken_for = None  # after the resume every assigner of the colony looks again
            await hub.wait_resumed(msg.colonyname, min(remaining, RECHECK_SECONDS))
            continue
        if result.process is not None:
            if woken_for is not None and woken_for.processid != result.process.processid:
                hub.hand_on(woken_for)  # we took another process: that one is still someone's to take
            return result.process
        woken_for = None  # lost the race for it: whoever took it used the wake-up
        if deadline is None:
            raise NotFound(NO_PROCESS)
        key = (msg.colonyname, result.executortype)
        if waiter is None or waiter.key != key:
            waiter = hub.waiter(key, result.executorname, result.locationname, result.cpu, result.mem)
        if hub.changed_since(key, seen):
            continue
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise NotFound(NO_PROCESS)
        if await hub.wait(waiter, min(remaining, RECHECK_SECONDS)):
            woken_for = waiter.wake


async def _attempt(ctx: Context, msg: m.AssignProcessMsg, woken_for: ProcessChanged | None) -> processes.AssignResult:
    ticket = _Ticket()
    write = asyncio.ensure_future(ctx.write(processes.try_assign, msg.colonyname, msg.availablecpu, msg.availablemem,
                                            ticket.still_wanted))
    try:
        return await asyncio.shield(write)
    except asyncio.CancelledError:
        ticket.wanted = False
        write.add_done_callback(lambda fut: _after_abandoned(ctx, fut, woken_for))
        raise


def _after_abandoned(ctx: Context, fut: asyncio.Future[processes.AssignResult], woken_for: ProcessChanged | None) -> None:
    """The client left while its attempt was in the writer: undo an assignment, pass a wake-up on."""
    if fut.cancelled() or fut.exception() is not None:
        result = None
    else:
        result = fut.result()
    if result is not None and result.process is not None:
        task = asyncio.ensure_future(ctx.services.db.write(processes.give_back, now_ns(), ctx.caller,
                                                           result.process.processid))
        _background.add(task)
        task.add_done_callback(_forget)
        if woken_for is not None and woken_for.processid != result.process.processid:
            ctx.services.hub.hand_on(woken_for)
    elif woken_for is not None:
        ctx.services.hub.hand_on(woken_for)


def _forget(task: asyncio.Task[Any]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("could not give back a process assigned to a client that left: %s", task.exception())
