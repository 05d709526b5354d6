"""Several server replicas on one PostgreSQL (layer L4): wake-ups across replicas, and the lease
that picks the one replica running leader-only work.

- `Bridge`: after each commit the local hub is woken at once (as on SQLite); the same events are
  coalesced for a few milliseconds and sent as NOTIFYs on a connection of their own. Other
  replicas publish them to their hubs, which wakes their parked assigners and `/pubsub`
  subscribers. A lost NOTIFY costs latency, never correctness: parked assigners re-check every
  `recheck_seconds`, and when the listening connection comes back every waiter is re-checked.
- `Leader`: a lease row (database clock) renewed every RENEW seconds with a TTL; a replica that
  dies stops renewing and another takes over once the TTL has passed. The holder stops acting
  as leader before its TTL ends unless a renewal was confirmed. Leader actions are idempotent in
  the database (locked rows, conditional updates), so a short overlap cannot repeat anything.
On SQLite the Bridge is not used and the single server is always the leader.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import typing
from collections.abc import Callable
from typing import Any

import msgspec

from .domain import events as domain_events
from .domain import processes
from .domain.events import ProcessChanged
from .hub import Hub

log = logging.getLogger("colonies")
COALESCE_SECONDS = 0.005
MAX_PAYLOAD = 7000  # NOTIFY payloads must stay under 8000 bytes
LEASE = "leader"
_EVENT_TYPES = {name: obj for name, obj in vars(domain_events).items()
                if isinstance(obj, type) and issubclass(obj, tuple) and hasattr(obj, "_fields")}


class _Payload(msgspec.Struct):
    r: str  # the sending replica
    e: list[list[Any]]  # events: [type name, *fields]


_encode = msgspec.json.encode
_decode = msgspec.json.Decoder(_Payload)


def encode(replica: str, events: list[Any]) -> list[str]:
    """Events as NOTIFY payloads (duplicates dropped), each under MAX_PAYLOAD bytes."""
    try:
        unique = list(dict.fromkeys(events))
    except TypeError:  # an event with an unhashable field: send them all
        unique = list(events)
    items = [[type(ev).__name__, *ev] for ev in unique if type(ev).__name__ in _EVENT_TYPES]
    payloads: list[str] = []
    chunk: list[list[Any]] = []
    size = 0
    for item in items:
        n = len(_encode(item)) + 1
        if chunk and size + n > MAX_PAYLOAD:
            payloads.append(_encode(_Payload(replica, chunk)).decode())
            chunk, size = [], 0
        chunk.append(item)
        size += n
    if chunk:
        payloads.append(_encode(_Payload(replica, chunk)).decode())
    return payloads


@functools.cache
def _nested(cls: type) -> tuple[type | None, ...]:
    """Per field of an event type: the NamedTuple type it holds (e.g. an optional target), if any."""
    hints = typing.get_type_hints(cls)
    out: list[type | None] = []
    for name in cls._fields:  # type: ignore[attr-defined]
        hint = hints.get(name)
        found = None
        for arg in typing.get_args(hint) or (hint,):
            if isinstance(arg, type) and issubclass(arg, tuple) and hasattr(arg, "_fields"):
                found = arg
        out.append(found)
    return tuple(out)


def _value(v: Any, nested: type | None) -> Any:
    if not isinstance(v, list):
        return v
    if nested is not None:  # JSON arrays come back as lists: the NamedTuple again
        return nested(*(tuple(x) if isinstance(x, list) else x for x in v))
    return tuple(v)


def decode(payload: str) -> tuple[str, list[Any]]:
    msg = _decode.decode(payload)
    out = []
    for item in msg.e:
        cls = _EVENT_TYPES.get(item[0]) if item else None
        if cls is not None:
            with contextlib.suppress(TypeError):
                out.append(cls(*(_value(v, n) for v, n in zip(item[1:], _nested(cls), strict=False))))
    return msg.r, out


class Bridge:
    def __init__(self, db: Any, hub: Hub, replica: str, publish: Callable[[list[Any]], None] | None = None) -> None:
        self.db = db
        self.hub = hub
        self.publish = publish or hub.publish  # local after-commit publication (hub, channels)
        self.replica = replica
        self.sent = 0
        self.received = 0
        self._buffer: list[Any] = []
        self._flushing: asyncio.Task[None] | None = None
        self._listener: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self) -> None:
        self._listener = self.db.listener(self._receive, self._reconnected)
        self._listener.start()

    async def wait_listening(self, timeout: float = 10.0) -> bool:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._listener.connected.wait, timeout)

    @property
    def reconnects(self) -> int:
        return self._listener.reconnects if self._listener is not None else 0

    def on_commit(self, events: list[Any]) -> None:
        """The database's after-commit hook: wake local waiters now, other replicas shortly."""
        self.publish(events)
        self._buffer.extend(events)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        await asyncio.sleep(COALESCE_SECONDS)
        while self._buffer:
            batch, self._buffer = self._buffer, []
            payloads = encode(self.replica, batch)
            try:
                await self.db.notify(payloads)
                self.sent += len(payloads)
            except Exception as exc:  # the safety re-check covers what this wake-up would have done
                log.warning("could not notify other replicas (%s)", exc)

    def _receive(self, payload: str) -> None:
        try:
            sender, events = decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.warning("ignored a malformed notification")
            return
        if sender == self.replica or not events:
            return
        self.received += 1
        self.publish(events)

    def _reconnected(self) -> None:
        log.info("listening for other replicas again; re-checking every waiter")
        self.hub.wake_all()
        task = asyncio.get_running_loop().create_task(self._resync())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resync(self) -> None:
        """Process subscribers may have missed a change: publish each one's current state."""
        events = []
        for processid in self.hub.subscribed_processes():
            found = await self.db.read(processes.snapshot, self.db.now(), processid)
            if found is not None:
                process, colonyname = found
                events.append(ProcessChanged(processid, process.state, colonyname, ""))
        self.publish(events)

    async def stop(self) -> None:
        if self._flushing is not None:
            with contextlib.suppress(Exception):
                await self._flushing
        if self._listener is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._listener.stop)


class Leader:
    """Holds the `leader` lease while it can; `is_leader()` is what leader-only loops check."""

    TTL = 5.0
    RENEW = 1.5
    MARGIN = 1.0  # stop acting this long before the lease could have passed to another replica

    def __init__(self, db: Any, hub: Hub, replica: str) -> None:
        self.db = db
        self.hub = hub
        self.replica = replica
        self._valid_until = 0.0

    def is_leader(self) -> bool:
        return not self.db.replicated or time.monotonic() < self._valid_until

    async def step(self) -> bool:
        """One election/renewal round; returns whether we hold the lease."""
        was = self.is_leader()
        started = time.monotonic()
        if await self.db.acquire_lease(LEASE, self.replica, self.TTL):
            self._valid_until = started + self.TTL - self.MARGIN
        else:
            self._valid_until = 0.0
        now = self.is_leader()
        if now and not was:
            log.info("replica %s is now the leader (crons, generators, retention, stale executors)", self.replica)
            self.hub.crons_changed.set()  # look at due crons at once
        elif was and not now:
            log.info("replica %s is no longer the leader", self.replica)
        return now

    async def run(self) -> None:
        last_clock = time.monotonic()
        while True:
            try:
                await self.step()
                if time.monotonic() - last_clock > 30:
                    await asyncio.get_running_loop().run_in_executor(None, self.db.sync_clock)
                    last_clock = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("leader lease round failed (%s)", exc)
            await asyncio.sleep(self.RENEW)

    async def resign(self) -> None:
        if self.db.replicated and self._valid_until:
            self._valid_until = 0.0
            with contextlib.suppress(Exception):
                await self.db.release_lease(LEASE, self.replica)
