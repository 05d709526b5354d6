"""In-memory process channels (layer L4): the logs, their subscribers and the caps, per process.

Nothing is persisted and no write transaction is involved. A channel request first reads its
process (`domain.channels.access`, one read transaction), then calls a synchronous method here;
on the one event loop that makes each append atomic. Channels exist by declaration: a process
that is neither ended nor removed has every channel named in its spec, and memory is taken on
first use. Process ends (close, fail, cancel, deadline loop, workflow cascade) and removals
arrive as committed events through `publish`; they free the memory and end the subscriptions.

Appends never wait: each subscriber has its own bounded queue; a subscriber that falls
`subscriber_queue` entries behind gets one error entry and is dropped.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from .domain.channels import (
    Access,
    ChannelLog,
    Limits,
    TokenBucket,
    channel_not_found,
    make_entry,
    require_party,
)
from .domain.events import ProcessChanged, ProcessesRemoved
from .errors import TooLarge, TooManyRequests
from .models.process import ProcessState

log = logging.getLogger("colonies")
_END_STATES = (ProcessState.SUCCESS, ProcessState.FAILED, ProcessState.CANCELLED)


class Subscriber:
    """One `subscribechannelmsg`: a queue of encoded entries the WebSocket task drains."""

    __slots__ = ("channel", "ended", "event", "limit", "overflowed", "queue")

    def __init__(self, channel: Channel, limit: int) -> None:
        self.channel = channel
        self.queue: deque[bytes] = deque()
        self.event = asyncio.Event()
        self.limit = limit
        self.ended = False  # the process ended or was removed: drain, then finish
        self.overflowed = False

    def push(self, item: bytes) -> None:
        if self.overflowed or self.ended:
            return
        if len(self.queue) >= self.limit:
            self.overflowed = True
        else:
            self.queue.append(item)
        self.event.set()

    def end(self) -> None:
        self.ended = True
        self.event.set()


class Channel:
    __slots__ = ("log", "subscribers")

    def __init__(self) -> None:
        self.log = ChannelLog()
        self.subscribers: set[Subscriber] = set()


class _Process:
    __slots__ = ("bucket", "channels", "colonyname", "entries", "nbytes")

    def __init__(self, colonyname: str, bucket: TokenBucket) -> None:
        self.colonyname = colonyname
        self.channels: dict[str, Channel] = {}
        self.entries = 0
        self.nbytes = 0
        self.bucket = bucket


Alive = Callable[[list[str]], Awaitable[set[str]]]


class ChannelHub:
    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._procs: dict[str, _Process] = {}
        self.total_bytes = 0
        self._reading: dict[str, int] = {}
        self._ended_while_reading: set[str] = set()
        self._epoch = 0  # counts bulk removals; _bulk_removed: colony → epoch of its last one
        self._bulk_removed: dict[str, int] = {}
        self._alive: Alive | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    def attach(self, alive: Alive) -> None:
        """How to ask the database which processes still run (used after bulk removals)."""
        self._alive = alive

    # --- resolving a request's process ------------------------------------------------------------
    async def resolve(self, processid: str, read: Callable[[], Awaitable[Access]]) -> Access:
        """Run the access read. If the process ends or is removed meanwhile, report it as ended (so a
        request racing with the end cannot bring its channels back); after a bulk removal in its
        colony, read again."""
        while True:
            epoch = self._epoch
            self._reading[processid] = self._reading.get(processid, 0) + 1
            try:
                acc = await read()
            finally:
                left = self._reading[processid] - 1
                ended = processid in self._ended_while_reading
                if left:
                    self._reading[processid] = left
                else:
                    del self._reading[processid]
                    self._ended_while_reading.discard(processid)
            if ended:
                return acc._replace(state=ProcessState.CANCELLED)
            if self._bulk_removed.get(acc.colonyname, 0) <= epoch:
                return acc

    def _lookup(self, acc: Access, name: str) -> Channel | None:
        """The channel in memory (None if declared but unused yet); 404 when it does not exist."""
        if acc.ended or name not in acc.declared:
            raise channel_not_found()
        proc = self._procs.get(acc.processid)
        return proc.channels.get(name) if proc is not None else None

    def _process(self, acc: Access, now: int) -> _Process:
        proc = self._procs.get(acc.processid)
        if proc is None:
            proc = _Process(acc.colonyname, TokenBucket(self.limits.rate, self.limits.burst, now))
            self._procs[acc.processid] = proc
        return proc

    def _channel(self, acc: Access, name: str, now: int) -> tuple[_Process, Channel]:
        proc = self._process(acc, now)
        chan = proc.channels.get(name)
        if chan is None:
            chan = proc.channels[name] = Channel()
        return proc, chan

    # --- the three operations ---------------------------------------------------------------------
    def append(self, acc: Access, caller: str, name: str, sequence: int, inreplyto: int, payload: bytes | None,
               payloadtype: str, now: int) -> None:
        existing = self._lookup(acc, name)
        require_party(acc, caller, "write to")
        size = len(payload or b"")
        lim = self.limits
        if size > lim.payload_bytes:
            raise TooLarge(f"message payload exceeds maximum size ({size} > {lim.payload_bytes} bytes)")
        proc = self._process(acc, now)
        if not proc.bucket.take(now):  # every attempt counts, as in Go (checked before the caps)
            raise TooManyRequests(f"rate limit exceeded ({lim.rate:g} appends/s per process, bursts of {lim.burst})")
        count, used = (len(existing.log), existing.log.nbytes) if existing is not None else (0, 0)
        if count >= lim.channel_entries:
            raise TooLarge(f"channel log is full ({lim.channel_entries} entries)")
        if used + size > lim.channel_bytes:
            raise TooLarge(f"channel log is full ({lim.channel_bytes} bytes of payload)")
        if proc.entries >= lim.process_entries:
            raise TooLarge(f"the channels of this process are full ({lim.process_entries} entries)")
        if proc.nbytes + size > lim.process_bytes:
            raise TooLarge(f"the channels of this process are full ({lim.process_bytes} bytes of payload)")
        if self.total_bytes + size > lim.total_bytes:
            raise TooLarge(f"channel memory of the server is full ({lim.total_bytes} bytes of payload)")
        proc, chan = self._channel(acc, name, now)
        entry = make_entry(now, caller, sequence, inreplyto, payload, payloadtype)
        chan.log.add(entry)
        proc.entries += 1
        proc.nbytes += entry.size
        self.total_bytes += entry.size
        for sub in chan.subscribers:
            sub.push(entry.json)  # arrival order; never blocks

    def read(self, acc: Access, caller: str, name: str, afterseq: int, limit: int) -> bytes:
        chan = self._lookup(acc, name)
        require_party(acc, caller, "read from")
        return chan.log.json(afterseq, limit) if chan is not None else b"[]"

    def subscribe(self, acc: Access, caller: str, name: str, afterseq: int, now: int) -> tuple[Subscriber, bytes | None]:
        """Register a subscriber and snapshot the backlog in one step (no duplicate, no gap)."""
        self._lookup(acc, name)
        require_party(acc, caller, "subscribe to")
        _, chan = self._channel(acc, name, now)
        sub = Subscriber(chan, self.limits.subscriber_queue)
        chan.subscribers.add(sub)
        if self.closed:  # the server is stopping: the subscription ends at once
            sub.end()
        backlog = chan.log.json(afterseq, 0) if len(chan.log) > max(afterseq, 0) else None
        return sub, backlog

    def unsubscribe(self, sub: Subscriber) -> None:
        sub.channel.subscribers.discard(sub)

    def close(self) -> int:
        """The server is stopping: every subscription ends (its `[]` frame, then a normal close)."""
        self.closed = True
        subs = [sub for proc in self._procs.values() for chan in proc.channels.values() for sub in chan.subscribers]
        for sub in subs:
            sub.end()
        return len(subs)

    # --- lifetime ---------------------------------------------------------------------------------
    def publish(self, events: list[Any]) -> None:
        """Committed events: a process that ended or was removed loses its channels."""
        for ev in events:
            if isinstance(ev, ProcessChanged):
                if ev.state in _END_STATES:
                    self.drop(ev.processid)
            elif isinstance(ev, ProcessesRemoved):
                for pid in ev.processids:
                    self.drop(pid)
                if not ev.processids:
                    self._verify_colony(ev.colonyname)

    def drop(self, processid: str) -> None:
        if processid in self._reading:
            self._ended_while_reading.add(processid)
        proc = self._procs.pop(processid, None)
        if proc is None:
            return
        self.total_bytes -= proc.nbytes
        for chan in proc.channels.values():
            for sub in chan.subscribers:
                sub.end()

    def _verify_colony(self, colonyname: str) -> None:
        """After a bulk removal in a colony: drop the channels of its processes that are gone."""
        self._epoch += 1
        self._bulk_removed[colonyname] = self._epoch  # requests in flight there read again
        pids = [pid for pid, p in self._procs.items() if p.colonyname == colonyname]
        if not pids or self._alive is None:
            return
        task = asyncio.get_running_loop().create_task(self._drop_gone(pids))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drop_gone(self, pids: list[str]) -> None:
        assert self._alive is not None
        try:
            alive = await self._alive(pids)
        except Exception:  # the database is closing; memory goes with the server anyway
            log.debug("channel cleanup read failed", exc_info=True)
            return
        for pid in pids:
            if pid not in alive:
                self.drop(pid)

    # --- figures ----------------------------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        return {"processes": len(self._procs), "channels": sum(len(p.channels) for p in self._procs.values()),
                "entries": sum(p.entries for p in self._procs.values()), "bytes": self.total_bytes}
