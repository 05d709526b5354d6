"""In-memory event hub (layer L4): wakes long-polling assigners and feeds WebSocket subscribers.

The Database calls `publish(events)` after each commit. Assigners wait on a generation counter
per (colony, executortype): they read the counter, try to assign, and sleep only until the
counter moves, so no wake-up is ever lost between a failed attempt and the wait.
"""
from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from .domain.events import ColonyResumed, CronsChanged, ProcessChanged

Key = tuple[str, str]


class Hub:
    def __init__(self) -> None:
        self._generation: dict[Key, int] = defaultdict(int)
        self._waiters: dict[Key, set[asyncio.Future[None]]] = defaultdict(set)
        self._keys_of_colony: dict[str, set[Key]] = defaultdict(set)
        self._process_subs: dict[str, set[asyncio.Queue[ProcessChanged | None]]] = defaultdict(set)
        self._type_subs: dict[Key, set[asyncio.Queue[ProcessChanged | None]]] = defaultdict(set)
        self.crons_changed = asyncio.Event()
        self.closed = False

    # --- publishing (called on the event loop after commit) ---------------------------------------
    def publish(self, events: list[Any]) -> None:
        for ev in events:
            if isinstance(ev, ProcessChanged):
                if ev.assignable:
                    key = (ev.colonyname, ev.executortype)
                    self._bump(key)
                    for q in self._type_subs.get(key, ()):
                        q.put_nowait(ev)
                for q in self._process_subs.get(ev.processid, ()):
                    q.put_nowait(ev)
            elif isinstance(ev, CronsChanged):
                self.crons_changed.set()
            elif isinstance(ev, ColonyResumed):
                for key in list(self._keys_of_colony.get(ev.colonyname, ())):
                    self._bump(key)

    def _bump(self, key: Key) -> None:
        self._generation[key] += 1
        waiters = self._waiters.pop(key, None)
        if waiters:
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

    # --- assigners --------------------------------------------------------------------------------
    def generation(self, key: Key) -> int:
        return self._generation[key]

    async def wait_change(self, key: Key, seen: int, timeout: float) -> bool:
        """Wait until the generation of `key` differs from `seen`, or `timeout` seconds pass
        (returns at once once the hub is closed: the caller checks `closed`)."""
        if self._generation[key] != seen or self.closed:
            return True
        self._keys_of_colony[key[0]].add(key)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[key].add(fut)
        try:
            await asyncio.wait_for(fut, timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.discard(fut)
                if not waiters:
                    del self._waiters[key]

    def waiting(self, key: Key) -> int:
        return len(self._waiters.get(key, ()))

    def wake_all(self) -> None:
        """Every parked assigner looks again (after wake-ups from other replicas may have been lost)."""
        for key in list(self._waiters):
            self._bump(key)
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
        for waiters in self._waiters.values():
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
                    polls += 1
        return subscriptions, polls

    def active(self) -> int:
        """Subscriptions and parked long-polls still registered."""
        return sum(len(v) for group in (self._process_subs, self._type_subs, self._waiters) for v in group.values())

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
        return {key: len(waiters) for key, waiters in self._waiters.items() if waiters}

    def subscriber_counts(self) -> dict[str, int]:
        """Live WebSocket subscriptions by kind: one process, or every process of a type."""
        return {"process": sum(len(s) for s in self._process_subs.values()),
                "type": sum(len(s) for s in self._type_subs.values())}
