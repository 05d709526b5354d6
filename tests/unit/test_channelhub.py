"""The in-memory ChannelHub on its own: subscriber queues and overflow, the end of a process racing
with a request's access read, bulk removals, and the memory accounting."""
from __future__ import annotations

import asyncio
import json

import pytest

from colonies_pkg.channelhub import ChannelHub
from colonies_pkg.clock import NS
from colonies_pkg.domain.channels import Access, Limits
from colonies_pkg.domain.events import ProcessChanged, ProcessesRemoved
from colonies_pkg.errors import NotFound
from colonies_pkg.models.process import ProcessState

T0 = 1_700_000_000 * NS


def acc(pid: str = "p1", state: int = ProcessState.RUNNING, colony: str = "c") -> Access:
    return Access(pid, colony, state, "submitter", "executor", frozenset({"ch"}))


def test_a_slow_subscriber_overflows_without_slowing_appends() -> None:
    hub = ChannelHub(Limits(subscriber_queue=3))
    sub, backlog = hub.subscribe(acc(), "executor", "ch", 0, T0)
    assert backlog is None
    for i in range(10):  # nobody drains the queue: appends still succeed
        hub.append(acc(), "submitter", "ch", i, 0, b"x", "", T0)
    assert sub.overflowed and len(sub.queue) == 3
    assert [json.loads(e)["sequence"] for e in sub.queue] == [0, 1, 2]
    assert len(json.loads(hub.read(acc(), "executor", "ch", 0, 0))) == 10
    hub.unsubscribe(sub)
    hub.append(acc(), "submitter", "ch", 10, 0, b"x", "", T0)
    assert len(sub.queue) == 3


def test_backlog_and_registration_are_one_step() -> None:
    hub = ChannelHub()
    hub.append(acc(), "submitter", "ch", 1, 0, b"a", "", T0)
    sub, backlog = hub.subscribe(acc(), "submitter", "ch", 0, T0)
    assert [e["sequence"] for e in json.loads(backlog)] == [1]
    hub.append(acc(), "executor", "ch", 2, 0, b"b", "", T0)
    assert [json.loads(e)["sequence"] for e in sub.queue] == [2]


def test_end_event_frees_memory_and_ends_subscribers() -> None:
    hub = ChannelHub()
    sub, _ = hub.subscribe(acc(), "submitter", "ch", 0, T0)
    hub.append(acc(), "submitter", "ch", 1, 0, b"12345", "", T0)
    assert hub.total_bytes == 5 and hub.stats()["processes"] == 1
    hub.publish([ProcessChanged("p1", ProcessState.RUNNING, "c", "t")])  # not an end
    assert not sub.ended
    hub.publish([ProcessChanged("p1", ProcessState.SUCCESS, "c", "t")])
    assert sub.ended and hub.total_bytes == 0 and hub.stats()["processes"] == 0
    with pytest.raises(NotFound):
        hub.read(acc(state=ProcessState.SUCCESS), "submitter", "ch", 0, 0)


def test_an_end_during_the_access_read_is_not_undone() -> None:
    """The read saw RUNNING, but the process ended before the request got back: no resurrection."""
    hub = ChannelHub()

    async def scenario() -> Access:
        async def read() -> Access:
            await asyncio.sleep(0)
            hub.publish([ProcessChanged("p1", ProcessState.CANCELLED, "c", "t")])
            return acc()

        return await hub.resolve("p1", read)

    seen = asyncio.run(scenario())
    assert seen.ended
    with pytest.raises(NotFound):
        hub.append(seen, "submitter", "ch", 1, 0, b"x", "", T0)
    assert hub.stats()["processes"] == 0


def test_a_bulk_removal_during_the_access_read_makes_it_read_again() -> None:
    hub = ChannelHub()
    reads = []

    async def scenario() -> Access:
        async def read() -> Access:
            reads.append(1)
            if len(reads) == 1:
                hub.publish([ProcessesRemoved("c")])
            await asyncio.sleep(0)
            return acc()

        return await hub.resolve("p1", read)

    assert not asyncio.run(scenario()).ended and len(reads) == 2


def test_bulk_removal_drops_only_the_processes_that_are_gone() -> None:
    async def scenario() -> ChannelHub:
        hub = ChannelHub()

        async def alive(pids: list[str]) -> set[str]:
            return {"keep"}

        hub.attach(alive)
        for pid in ("keep", "gone"):
            hub.append(acc(pid), "submitter", "ch", 1, 0, b"x", "", T0)
        hub.append(acc("elsewhere", colony="other"), "submitter", "ch", 1, 0, b"x", "", T0)
        hub.publish([ProcessesRemoved("c")])
        await asyncio.gather(*hub._tasks)  # the cleanup read
        hub.publish([ProcessesRemoved("other", ("elsewhere",))])
        return hub

    hub = asyncio.run(scenario())
    assert hub.stats()["processes"] == 1 and hub.total_bytes == 1
    assert len(json.loads(hub.read(acc("keep"), "submitter", "ch", 0, 0))) == 1
