"""The `assignprocessmsg` long-poll (PROTOCOL §6.2): try, park in the hub's FIFO, try when woken;
and `submitfuncspecmsg`, which hands its process straight to a parked executor in its own commit.

A submit whose process a parked executor may take claims the oldest such executor from the hub
and runs one unit of work: insert the process, then assign that executor the first process it may
take in priority order (usually the new one). After the commit the submitter gets its reply and
the executor its process, with no second commit and no wake-up round trip.

Before an attempt (a unit of work in the writer) a long-poll reads, on the event loop, whether
anything may be there for it; an idle executor's poll then costs no write (`assign_probe`). An
executor whose previous attempt got a process (it is working through a queue) skips that look.

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

from ..domain import processes
from ..domain.events import ProcessChanged, Target
from ..domain.resources import parse_cpu, parse_mem
from ..errors import BadRequest, ColoniesError, NotFound, Timeout, Unavailable
from ..hub import Waiter
from ..models.process import FunctionSpec
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
            if remaining <= 0 or hub.closed:
                raise Timeout("Failed to assign process, assignments are paused and the timeout expired") from exc
            woken_for = None  # after the resume every assigner of the colony looks again
            await hub.wait_resumed(msg.colonyname, min(remaining, ctx.services.db.recheck_seconds))
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
            waiter = hub.waiter(key, result.executorname, result.locationname, result.cpu, result.mem, ctx.caller)
        if hub.changed_since(key, seen):
            continue
        remaining = deadline - loop.time()
        if remaining <= 0 or hub.closed:  # (closed: the server is stopping, answer as on timeout)
            raise NotFound(NO_PROCESS)
        try:
            woke = await hub.wait(waiter, min(remaining, ctx.services.db.recheck_seconds))
        except asyncio.CancelledError:
            if waiter.delivered is not None:  # assigned in a submit's commit, but the client is gone
                _give_back(ctx, ctx.caller, waiter.delivered.processid)
            raise
        if waiter.delivered is not None:
            return waiter.delivered
        if hub.closed:
            raise NotFound(NO_PROCESS)
        if woke:
            woken_for = waiter.wake


async def submit(ctx: Context, msg: m.SubmitFuncSpecMsg) -> Any:
    hub = ctx.services.hub
    found = _queue_of(msg.spec)
    w = hub.claim(*found) if found is not None else None
    if w is None:
        return await ctx.write(processes.submit, msg.spec)
    try:
        process, handed = await ctx.write(processes.submit_and_hand, msg.spec, w.executorid, w.cpu, w.mem,
                                          w.still_wanted)
    except BaseException:
        hub.release(w)
        raise
    if handed is None:
        hub.release(w)
    elif not hub.deliver(w, handed):  # its client left while we were committing
        _give_back(ctx, w.executorid, handed.processid)
    return process


def _queue_of(spec: FunctionSpec | None) -> tuple[tuple[str, str], Target | None] | None:
    """The hub queue a submitted spec's process goes to, and who may take it (None: not known)."""
    cond = spec.conditions if spec is not None else None
    if cond is None or not cond.executortype:
        return None
    try:
        cpu, mem = parse_cpu(cond.cpu), parse_mem(cond.mem)
    except ColoniesError:
        return None
    names = tuple(cond.executornames or ())
    target = Target(names, cond.locationname, cpu, mem) if names or cond.locationname or cpu or mem else None
    return (cond.colonyname, cond.executortype), target


async def _attempt(ctx: Context, msg: m.AssignProcessMsg, woken_for: ProcessChanged | None) -> processes.AssignResult:
    busy = ctx.services.hub.busy
    if woken_for is None and ctx.caller not in busy:  # nothing to take and nothing to record: no write
        empty: processes.AssignResult | None
        empty = await ctx.services.db.read_point(processes.assign_probe, ctx.services.db.now(), ctx.caller, msg.colonyname,
                                                 msg.availablecpu, msg.availablemem)
        if empty is not None:
            return empty
    ticket = _Ticket()
    write = ctx.start_write(processes.try_assign, msg.colonyname, msg.availablecpu, msg.availablemem, ticket.still_wanted)
    try:
        result = await asyncio.shield(write)
    except asyncio.CancelledError:
        ticket.wanted = False
        write.add_done_callback(lambda fut: _after_abandoned(ctx, fut, woken_for))
        raise
    except ColoniesError:
        busy.discard(ctx.caller)
        raise
    if result.process is not None:
        busy.add(ctx.caller)
    else:
        busy.discard(ctx.caller)
    return result


def _after_abandoned(ctx: Context, fut: asyncio.Future[processes.AssignResult], woken_for: ProcessChanged | None) -> None:
    """The client left while its attempt was in the writer: undo an assignment, pass a wake-up on."""
    result = None if fut.cancelled() or fut.exception() is not None else fut.result()
    if result is not None and result.process is not None:
        _give_back(ctx, ctx.caller, result.process.processid)
        if woken_for is not None and woken_for.processid != result.process.processid:
            ctx.services.hub.hand_on(woken_for)
    elif woken_for is not None:
        ctx.services.hub.hand_on(woken_for)


def _give_back(ctx: Context, executorid: str, processid: str) -> None:
    task = asyncio.ensure_future(ctx.services.db.write(processes.give_back, ctx.services.db.now(), executorid, processid))
    _background.add(task)
    task.add_done_callback(_forget)


def _forget(task: asyncio.Task[Any]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("could not give back a process assigned to a client that left: %s", task.exception())
