"""hub.py: generation counters and waits for long-polling assigners, and process/type
subscriptions for WebSocket pushes. Each test runs its own event loop with asyncio.run."""
from __future__ import annotations

import asyncio

from colonies_pkg.domain.events import ColonyResumed, ProcessChanged
from colonies_pkg.hub import Hub

KEY = ("dev", "cli")


def waiting_ev(pid: str = "p1", colony: str = "dev", etype: str = "cli") -> ProcessChanged:
    return ProcessChanged(pid, 0, colony, etype, True)


def test_assignable_event_bumps_its_key_only() -> None:
    hub = Hub()
    assert hub.generation(KEY) == 0
    hub.publish([waiting_ev()])
    assert hub.generation(KEY) == 1
    hub.publish([waiting_ev("p2"), waiting_ev("p3")])
    assert hub.generation(KEY) == 3
    assert hub.generation(("dev", "other")) == 0
    assert hub.generation(("other", "cli")) == 0


def test_non_assignable_events_do_not_bump() -> None:
    hub = Hub()
    hub.publish([ProcessChanged("p1", 1, "dev", "cli"), ProcessChanged("p1", 2, "dev", "cli"),
                 ProcessChanged("p1", 0, "dev", "cli", False), object()])
    assert hub.generation(KEY) == 0


def test_wait_change_true_on_change() -> None:
    async def main() -> tuple[bool, float]:
        hub = Hub()
        seen = hub.generation(KEY)
        loop = asyncio.get_running_loop()
        start = loop.time()
        waiter = asyncio.create_task(hub.wait_change(KEY, seen, 5))
        await asyncio.sleep(0.01)
        assert hub.waiting(KEY) == 1
        hub.publish([waiting_ev()])
        result = await waiter
        assert hub.waiting(KEY) == 0
        return result, loop.time() - start

    result, elapsed = asyncio.run(main())
    assert result is True
    assert elapsed < 1


def test_wait_change_false_on_timeout() -> None:
    async def main() -> tuple[bool, float, int]:
        hub = Hub()
        loop = asyncio.get_running_loop()
        start = loop.time()
        result = await hub.wait_change(KEY, hub.generation(KEY), 0.05)
        return result, loop.time() - start, hub.waiting(KEY)

    result, elapsed, left = asyncio.run(main())
    assert result is False
    assert 0.04 <= elapsed < 1
    assert left == 0  # the timed-out waiter is cleaned up


def test_other_keys_do_not_wake_a_waiter() -> None:
    async def main() -> bool:
        hub = Hub()
        waiter = asyncio.create_task(hub.wait_change(KEY, hub.generation(KEY), 0.1))
        await asyncio.sleep(0.01)
        hub.publish([waiting_ev(etype="py"), waiting_ev(colony="prod"), ProcessChanged("p", 1, "dev", "cli")])
        return await waiter

    assert asyncio.run(main()) is False


def test_no_lost_wakeup_when_change_precedes_wait() -> None:
    async def main() -> tuple[bool, float]:
        hub = Hub()
        seen = hub.generation(KEY)       # an assigner notes the generation, tries, finds nothing...
        hub.publish([waiting_ev()])       # ...a submit commits before it starts waiting...
        loop = asyncio.get_running_loop()
        start = loop.time()
        result = await hub.wait_change(KEY, seen, 5)  # ...and the wait returns at once
        return result, loop.time() - start

    result, elapsed = asyncio.run(main())
    assert result is True
    assert elapsed < 0.5


def test_one_event_wakes_every_waiter_of_the_key() -> None:
    async def main() -> list[bool]:
        hub = Hub()
        seen = hub.generation(KEY)
        waiters = [asyncio.create_task(hub.wait_change(KEY, seen, 5)) for _ in range(5)]
        await asyncio.sleep(0.01)
        assert hub.waiting(KEY) == 5
        hub.publish([waiting_ev()])
        return await asyncio.gather(*waiters)

    assert asyncio.run(main()) == [True] * 5


def test_colony_resumed_bumps_all_keys_of_that_colony() -> None:
    async def main() -> tuple[list[bool], dict[tuple[str, str], int]]:
        hub = Hub()
        keys = [("dev", "cli"), ("dev", "py"), ("prod", "cli")]
        seen = {k: hub.generation(k) for k in keys}
        waiters = [asyncio.create_task(hub.wait_change(k, seen[k], 0.3)) for k in keys]
        await asyncio.sleep(0.01)
        hub.publish([ColonyResumed("dev")])
        results = await asyncio.gather(*waiters)
        return results, {k: hub.generation(k) for k in keys}

    results, generations = asyncio.run(main())
    assert results == [True, True, False]
    assert generations == {("dev", "cli"): 1, ("dev", "py"): 1, ("prod", "cli"): 0}


def test_colony_resumed_bumps_keys_waited_on_before() -> None:
    async def main() -> bool:
        hub = Hub()
        assert await hub.wait_change(KEY, hub.generation(KEY), 0.01) is False  # key becomes known
        seen = hub.generation(KEY)
        hub.publish([ColonyResumed("dev")])  # while nobody waits
        return await hub.wait_change(KEY, seen, 5)

    assert asyncio.run(main()) is True


def test_process_subscription_receives_its_events_only() -> None:
    async def main() -> None:
        hub = Hub()
        q = hub.subscribe_process("p1")
        other = hub.subscribe_process("p2")
        events = [ProcessChanged("p1", 1, "dev", "cli"), ProcessChanged("p1", 2, "dev", "cli"),
                  ProcessChanged("p3", 2, "dev", "cli")]
        hub.publish(events)
        assert [q.get_nowait(), q.get_nowait()] == events[:2]
        assert q.empty() and other.empty()
        hub.publish([waiting_ev("p2")])  # assignable events reach process subscribers too
        assert other.get_nowait() == waiting_ev("p2")

    asyncio.run(main())


def test_several_subscribers_of_one_process_all_receive() -> None:
    async def main() -> None:
        hub = Hub()
        queues = [hub.subscribe_process("p1") for _ in range(3)]
        hub.publish([ProcessChanged("p1", 2, "dev", "cli")])
        assert all(q.get_nowait().state == 2 for q in queues)

    asyncio.run(main())


def test_unsubscribe_process_cleans_up() -> None:
    async def main() -> None:
        hub = Hub()
        q1 = hub.subscribe_process("p1")
        q2 = hub.subscribe_process("p1")
        hub.unsubscribe_process("p1", q1)
        hub.publish([ProcessChanged("p1", 2, "dev", "cli")])
        assert q1.empty() and q2.qsize() == 1
        hub.unsubscribe_process("p1", q2)
        assert "p1" not in hub._process_subs
        hub.unsubscribe_process("p1", q2)  # twice is harmless
        hub.unsubscribe_process("never", q2)
        hub.publish([ProcessChanged("p1", 3, "dev", "cli")])
        assert q2.qsize() == 1

    asyncio.run(main())


def test_type_subscription_gets_assignable_events_of_its_key() -> None:
    async def main() -> None:
        hub = Hub()
        q = hub.subscribe_type(KEY)
        hub.publish([waiting_ev("p1"), ProcessChanged("p1", 1, "dev", "cli"), waiting_ev("p2", etype="py")])
        assert q.get_nowait() == waiting_ev("p1")
        assert q.empty()
        hub.unsubscribe_type(KEY, q)
        assert KEY not in hub._type_subs
        hub.publish([waiting_ev("p3")])
        assert q.empty()

    asyncio.run(main())


def test_waiters_do_not_leak_after_many_waits() -> None:
    async def main() -> None:
        hub = Hub()
        for i in range(50):
            seen = hub.generation(KEY)
            waiter = asyncio.create_task(hub.wait_change(KEY, seen, 1 if i % 2 else 0.001))
            await asyncio.sleep(0)
            if i % 2:
                hub.publish([waiting_ev()])
            await waiter
        assert hub.waiting(KEY) == 0
        assert KEY not in hub._waiters

    asyncio.run(main())


def test_close_ends_subscriptions_and_wakes_long_polls() -> None:
    async def main() -> None:
        hub = Hub()
        q1, q2 = hub.subscribe_process("p1"), hub.subscribe_type(KEY)
        poll = asyncio.ensure_future(hub.wait_change(KEY, hub.generation(KEY), 100))
        await asyncio.sleep(0)
        assert hub.active() == 3
        assert hub.close() == (2, 1)
        assert await q1.get() is None and await q2.get() is None
        assert await poll is True and hub.closed
        hub.unsubscribe_process("p1", q1)
        hub.unsubscribe_type(KEY, q2)
        assert hub.active() == 0
        late = hub.subscribe_process("p2")  # a subscription after close ends at once
        assert late.get_nowait() is None
        assert await hub.wait_change(KEY, hub.generation(KEY), 100) is True  # no waiting once closed

    asyncio.run(main())
