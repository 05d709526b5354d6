"""In-memory event hub (layer L4): hands wake-ups to parked assigners, feeds WebSocket subscribers.

The Database calls `publish(events)` on the event loop right after each commit.

Assigners. A long-poll that found nothing parks as a `Waiter` in a FIFO per (colony, executor
type). Each event that makes one process assignable wakes exactly one parked waiter: the oldest
one that may take that process (its executor name, location, cpu and memory fit the process's
conditions), so k assignable processes wake at most k waiters and a targeted process goes to its
named executor. A submit may instead `claim` that waiter before it commits and `deliver` it the
process assigned in the submit's own commit (`release` if it assigned nothing); a process assigned
in the commit that queued it wakes nobody. A woken waiter that then finds nothing (it lost the
race to an assigner that was not parked) parks again at its old place, ahead of later arrivals.
A waiter that is cancelled (its client disconnected) leaves the queue at once; a wake-up it had
received but not used is passed on to the next waiter. No wake-up is lost between a failed attempt and parking: an
assigner notes `seq` before it tries, and `changed_since(key, seen)` tells it to try again.

Paused colonies: assigners of a paused colony wait for `ColonyResumed` with `wait_resumed`.
"""
from __future__ import annotations

import asyncio
import bisect
import itertools
from collections import defaultdict
from operator import attrgetter
from typing import Any

from .domain.events import ColonyResumed, CronsChanged, ProcessChanged, Target
from .models.process import ProcessState

Key = tuple[str, str]
_order = attrgetter("order")

OUT, PARKED, CLAIMED, WOKEN, GONE = range(5)  # CLAIMED: a submit is assigning it a process


class Waiter:
    """One long-poll of executor `name` (id `executorid`, at `location`, offering `cpu`/`mem`, 0 = any)."""

    __slots__ = ("cpu", "delivered", "executorid", "fut", "key", "location", "mem", "name", "order", "state", "wake")

    def __init__(self, key: Key, executorid: str, name: str, location: str, cpu: int, mem: int, order: int) -> None:
        self.key = key
        self.executorid = executorid
        self.name = name
        self.location = location.lower()
        self.cpu = cpu
        self.mem = mem
        self.order = order  # place in the FIFO; kept when the waiter parks again after a lost race
        self.state = OUT
        self.fut: asyncio.Future[None] | None = None
        self.wake: ProcessChanged | None = None  # the event this waiter was woken for, if any
        self.delivered: Any = None  # a process a submit assigned to it in the submit's own commit

    def still_wanted(self) -> bool:
        """False once the client is gone (read by the writer thread before it assigns)."""
        return self.state != GONE

    def may_take(self, target: Target | None) -> bool:
        if target is None:
            return True
        if target.names and self.name not in target.names and "*" not in target.names:
            return False
        if target.location and target.location.lower() != self.location:
            return False
        if self.cpu and target.cpu > self.cpu:
            return False
        return not (self.mem and target.mem > self.mem)


class Hub:
    def __init__(self) -> None:
        self.seq = 0  # counts assignable events; an assigner notes it before each attempt
        self._last: dict[Key, int] = {}  # seq of the latest assignable event per key
        self._queues: dict[Key, list[Waiter]] = {}  # parked waiters per key, sorted by order
        self._orders = itertools.count()
        self._resumed: dict[str, list[asyncio.Future[None]]] = defaultdict(list)
        self._process_subs: dict[str, set[asyncio.Queue[ProcessChanged | None]]] = defaultdict(set)
        self._type_subs: dict[Key, set[asyncio.Queue[ProcessChanged | None]]] = defaultdict(set)
        self.crons_changed = asyncio.Event()
        self.wakeups = 0  # waiters woken for a process (a counter for tests and metrics)
        # executors whose last assignment attempt got a process: their next one skips the read-only
        # probe (a queue being worked through); a hint only, bounded by the executors that exist
        self.busy: set[str] = set()
        self.closed = False  # the server is stopping: long-polls answer as on timeout

    # --- publishing (called on the event loop after commit) ---------------------------------------
    def publish(self, events: list[Any]) -> None:
        # a process that became assignable and was assigned later in the same commit wakes nobody
        assigned_at = {ev.processid: i for i, ev in enumerate(events)
                       if isinstance(ev, ProcessChanged) and ev.state == ProcessState.RUNNING}
        for i, ev in enumerate(events):
            if isinstance(ev, ProcessChanged):
                if ev.assignable:
                    key = (ev.colonyname, ev.executortype)
                    self.seq += 1
                    self._last[key] = self.seq
                    if assigned_at.get(ev.processid, -1) < i:
                        self.hand_on(ev)
                    for q in self._type_subs.get(key, ()):
                        q.put_nowait(ev)
                for q in self._process_subs.get(ev.processid, ()):
                    q.put_nowait(ev)
            elif isinstance(ev, CronsChanged):
                self.crons_changed.set()
            elif isinstance(ev, ColonyResumed):
                self._colony_resumed(ev.colonyname)

    def hand_on(self, ev: ProcessChanged) -> bool:
        """Wake the oldest parked waiter that may take the process of `ev`; False when none may."""
        key = (ev.colonyname, ev.executortype)
        queue = self._queues.get(key)
        if not queue:
            return False
        target = ev.target
        for i, w in enumerate(queue):
            if w.state == PARKED and w.may_take(target):
                del queue[i]
                if not queue:
                    del self._queues[key]
                self._wake(w, ev)
                self.wakeups += 1
                return True
        return False

    def _wake(self, w: Waiter, ev: ProcessChanged | None) -> None:
        w.state = WOKEN
        w.wake = ev
        if w.fut is not None and not w.fut.done():
            w.fut.set_result(None)

    def _colony_resumed(self, colonyname: str) -> None:
        for fut in self._resumed.pop(colonyname, ()):
            if not fut.done():
                fut.set_result(None)
        for key in [k for k in self._queues if k[0] == colonyname]:  # parked waiters there look again
            for w in self._queues.pop(key):
                self._wake(w, None)

    # --- assigners --------------------------------------------------------------------------------
    def changed_since(self, key: Key, seen: int) -> bool:
        """Did a process of `key` become assignable after `seq` was `seen`?"""
        return self._last.get(key, 0) > seen

    def waiter(self, key: Key, name: str, location: str, cpu: int = 0, mem: int = 0, executorid: str = "") -> Waiter:
        """A new waiter (not parked yet), last in line."""
        return Waiter(key, executorid, name, location, cpu, mem, next(self._orders))

    def claim(self, key: Key, target: Target | None) -> Waiter | None:
        """Take the oldest parked waiter that may take a process of `key` and `target` out of the
        queue, for a submit that will try to assign it that process in its own commit; the submit
        then calls `deliver` or `release`."""
        queue = self._queues.get(key)
        if not queue:
            return None
        for i, w in enumerate(queue):
            if w.may_take(target):
                del queue[i]
                if not queue:
                    del self._queues[key]
                w.state = CLAIMED
                self.wakeups += 1
                return w
        return None

    def deliver(self, w: Waiter, process: Any) -> bool:
        """Hand a claimed waiter the process committed as assigned to it; False if it is gone."""
        if w.state != CLAIMED:
            return False
        w.state = WOKEN
        w.wake = None
        w.delivered = process
        if w.fut is not None and not w.fut.done():
            w.fut.set_result(None)
        return True

    def release(self, w: Waiter) -> None:
        """A claimed waiter got nothing from the submit: it looks again itself."""
        if w.state == CLAIMED:
            self._wake(w, None)

    def park(self, w: Waiter) -> None:
        """Put `w` in its queue at its place (the end for a new waiter, its old place after a lost race)."""
        w.state = PARKED
        w.wake = None
        w.delivered = None
        queue = self._queues.setdefault(w.key, [])
        bisect.insort(queue, w, key=_order)

    async def wait(self, w: Waiter, timeout: float) -> bool:
        """Park `w` until it is woken (True) or `timeout` passes (False, and `w` is out of the queue).
        Returns False at once when the hub is closed (the caller checks `closed`).

        On cancellation `w` leaves the queue at once, and a wake-up it got but did not use goes
        to the next waiter."""
        if self.closed:
            return False
        self.park(w)
        loop = asyncio.get_running_loop()
        w.fut = fut = loop.create_future()
        timer = loop.call_later(timeout, self._expire, w)
        try:
            await fut
        except BaseException:
            self.leave(w)
            raise
        finally:
            timer.cancel()
            w.fut = None
        return w.state == WOKEN

    def _expire(self, w: Waiter) -> None:
        if w.state == PARKED:  # a claimed waiter waits for its submit's answer
            self._unqueue(w)
            w.state = OUT
            if w.fut is not None and not w.fut.done():
                w.fut.set_result(None)

    def leave(self, w: Waiter) -> None:
        """`w` is gone (its client disconnected): out of the queue; an unused wake-up is passed on.
        (A process already delivered to it is the long-poll's to give back.)"""
        woken_for = w.wake if w.state == WOKEN else None
        if w.state == PARKED:
            self._unqueue(w)
        w.state = GONE
        w.wake = None
        if woken_for is not None:
            self.hand_on(woken_for)

    def _unqueue(self, w: Waiter) -> None:
        queue = self._queues.get(w.key)
        if queue is None:
            return
        i = bisect.bisect_left(queue, w.order, key=_order)
        if i < len(queue) and queue[i] is w:
            del queue[i]
        if not queue:
            del self._queues[w.key]

    def waiting(self, key: Key) -> int:
        return sum(1 for w in self._queues.get(key, ()) if w.state == PARKED)

    def queued_names(self, key: Key) -> list[str]:
        """Executor names of the parked waiters of `key`, in line order (for tests and stats)."""
        return [w.name for w in self._queues.get(key, ()) if w.state == PARKED]

    async def wait_resumed(self, colonyname: str, timeout: float) -> None:
        """Sleep until assignments in `colonyname` are resumed, `timeout` passes or the hub closes."""
        if self.closed:
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._resumed[colonyname].append(fut)
        timer = loop.call_later(timeout, _expire, fut)
        try:
            await fut
        finally:
            timer.cancel()
            futs = self._resumed.get(colonyname)
            if futs is not None and fut in futs:
                futs.remove(fut)
                if not futs:
                    del self._resumed[colonyname]

    def wake_all(self) -> None:
        """Every parked assigner looks again (after wake-ups from other replicas may have been lost)."""
        for key in list(self._queues):
            for w in self._queues.pop(key):
                self._wake(w, None)
        self.crons_changed.set()

    def subscribed_processes(self) -> list[str]:
        """Processes someone waits on (to re-check them when remote wake-ups may have been lost)."""
        return list(self._process_subs)

    # --- shutdown -------------------------------------------------------------------------------
    def close(self) -> tuple[int, int]:
        """The server is stopping: every subscription queue gets a final None and every parked
        long-poll wakes up (and sees `closed`). Returns (subscriptions ended, long-polls woken)."""
        self.closed = True
        subscriptions = 0
        for queues in (*self._process_subs.values(), *self._type_subs.values()):
            for q in queues:
                q.put_nowait(None)
                subscriptions += 1
        polls = 0
        for queue in self._queues.values():
            for w in queue:
                self._wake(w, None)
                polls += 1
        self._queues.clear()
        for futs in self._resumed.values():
            for fut in futs:
                if not fut.done():
                    fut.set_result(None)
                    polls += 1
        return subscriptions, polls

    def active(self) -> int:
        """Subscriptions and parked long-polls still registered."""
        return (sum(len(v) for group in (self._process_subs, self._type_subs, self._queues, self._resumed)
                    for v in group.values()))

    # --- subscriptions (a None in a queue: the hub closed) ----------------------------------------
    def _queue(self) -> asyncio.Queue[ProcessChanged | None]:
        q: asyncio.Queue[ProcessChanged | None] = asyncio.Queue()
        if self.closed:
            q.put_nowait(None)
        return q

    def subscribe_process(self, processid: str) -> asyncio.Queue[ProcessChanged | None]:
        q = self._queue()
        self._process_subs[processid].add(q)
        return q

    def unsubscribe_process(self, processid: str, q: asyncio.Queue[ProcessChanged | None]) -> None:
        subs = self._process_subs.get(processid)
        if subs is not None:
            subs.discard(q)
            if not subs:
                del self._process_subs[processid]

    def subscribe_type(self, key: Key) -> asyncio.Queue[ProcessChanged | None]:
        q = self._queue()
        self._type_subs[key].add(q)
        return q

    def unsubscribe_type(self, key: Key, q: asyncio.Queue[ProcessChanged | None]) -> None:
        subs = self._type_subs.get(key)
        if subs is not None:
            subs.discard(q)
            if not subs:
                del self._type_subs[key]

    # --- introspection for metrics and the dashboard (read-only, O(keys)) --------------------------
    def waiting_counts(self) -> dict[Key, int]:
        """Parked assign calls per (colony, executortype)."""
        return {key: len(queue) for key, queue in self._queues.items() if queue}

    def subscriber_counts(self) -> dict[str, int]:
        """Live WebSocket subscriptions by kind: one process, or every process of a type."""
        return {"process": sum(len(s) for s in self._process_subs.values()),
                "type": sum(len(s) for s in self._type_subs.values())}

def _expire(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
