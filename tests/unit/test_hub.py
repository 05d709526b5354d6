"""hub.py: the FIFO of parked assigners (one wake-up per assignable process), and process/type
subscriptions for WebSocket pushes. Each test runs its own event loop with asyncio.run."""
from __future__ import annotations

import asyncio

from colonies_pkg.domain.events import ColonyResumed, ProcessChanged, Target
from colonies_pkg.hub import Hub, Waiter

KEY = ("dev", "cli")


def waiting_ev(pid: str = "p1", colony: str = "dev", etype: str = "cli") -> ProcessChanged:
    return ProcessChanged(pid, 0, colony, etype, True)


def test_assignable_event_moves_seq_and_its_key_only() -> None:
    hub = Hub()
    seen = hub.seq
    assert not hub.changed_since(KEY, seen)
    hub.publish([waiting_ev()])
    assert hub.changed_since(KEY, seen)
    assert not hub.changed_since(("dev", "other"), seen) and not hub.changed_since(("other", "cli"), seen)
    seen = hub.seq
    hub.publish([waiting_ev("p2", etype="py")])
    assert not hub.changed_since(KEY, seen)


def test_non_assignable_events_do_not_move_seq() -> None:
    hub = Hub()
    hub.publish([ProcessChanged("p1", 1, "dev", "cli"), ProcessChanged("p1", 2, "dev", "cli"),
                 ProcessChanged("p1", 0, "dev", "cli", False), object()])
    assert hub.seq == 0


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


def park(hub: Hub, names: list[str], key=KEY, timeout: float = 5, **kw) -> list[tuple[Waiter, asyncio.Task[bool]]]:
    out = []
    for name in names:
        w = hub.waiter(key, name, kw.get("location", ""), kw.get("cpu", 0), kw.get("mem", 0))
        out.append((w, asyncio.create_task(hub.wait(w, timeout))))
    return out


def test_one_event_wakes_exactly_the_oldest_waiter() -> None:
    async def main() -> None:
        hub = Hub()
        parked = park(hub, ["a", "b", "c"])
        await settle()
        assert hub.queued_names(KEY) == ["a", "b", "c"]
        hub.publish([waiting_ev("p1")])
        await settle()
        assert [t.done() for _, t in parked] == [True, False, False]
        assert parked[0][1].result() is True and parked[0][0].wake == waiting_ev("p1")
        assert hub.queued_names(KEY) == ["b", "c"] and hub.wakeups == 1
        hub.publish([waiting_ev("p2"), waiting_ev("p3")])
        await settle()
        assert all(t.done() for _, t in parked) and hub.wakeups == 3
        hub.publish([waiting_ev("p4")])  # nobody parked: nobody woken
        assert hub.wakeups == 3 and hub.waiting(KEY) == 0

    asyncio.run(main())


def test_a_waiter_that_lost_the_race_parks_again_at_the_front() -> None:
    async def main() -> None:
        hub = Hub()
        parked = park(hub, ["a", "b", "c"])
        await settle()
        hub.publish([waiting_ev("p1")])
        await parked[0][1]
        late = park(hub, ["d"])
        await settle()
        again = asyncio.create_task(hub.wait(parked[0][0], 5))  # "a" found nothing: back to its place
        await settle()
        assert hub.queued_names(KEY) == ["a", "b", "c", "d"]
        for w, _ in [*parked[1:], *late]:
            hub.leave(w)
        again.cancel()

    asyncio.run(main())


def test_targeted_events_wake_the_oldest_waiter_that_may_take_them() -> None:
    async def main() -> None:
        hub = Hub()
        parked = park(hub, ["a", "b", "c"])
        small = park(hub, ["small"], cpu=500)
        await settle()
        hub.publish([ProcessChanged("p1", 0, "dev", "cli", True, target=Target(names=("c",)))])
        hub.publish([ProcessChanged("p2", 0, "dev", "cli", True, target=Target(location="Lab"))])  # nobody there
        await settle()
        assert hub.queued_names(KEY) == ["a", "b", "small"]
        assert parked[2][1].done() and parked[2][0].wake.processid == "p1"
        for w, _ in parked[:2]:
            hub.leave(w)
        hub.publish([ProcessChanged("p3", 0, "dev", "cli", True, target=Target(cpu=1000))])  # too big for "small"
        assert hub.queued_names(KEY) == ["small"] and hub.wakeups == 1
        hub.publish([ProcessChanged("p4", 0, "dev", "cli", True, target=Target(names=("x", "*"), cpu=200))])
        await settle()
        assert small[0][1].done() and small[0][0].wake.processid == "p4"

    asyncio.run(main())


def test_location_match_ignores_case() -> None:
    async def main() -> None:
        hub = Hub()
        ((w, t),) = park(hub, ["a"], location="lab")
        await settle()
        hub.publish([ProcessChanged("p1", 0, "dev", "cli", True, target=Target(location="LAB"))])
        assert await t is True and w.wake.processid == "p1"

    asyncio.run(main())


def test_a_cancelled_waiter_leaves_at_once_and_passes_its_wakeup_on() -> None:
    async def main() -> None:
        hub = Hub()
        parked = park(hub, ["a", "b"])
        await settle()
        parked[1][1].cancel()  # "b" disconnects while parked
        await settle()
        assert hub.queued_names(KEY) == ["a"]
        later = park(hub, ["c"])
        await settle()
        hub.publish([waiting_ev("p1")])  # wakes "a"...
        parked[0][1].cancel()  # ...whose client is gone before it runs: "c" gets the wake-up
        await settle()
        assert later[0][1].done() and later[0][0].wake.processid == "p1"
        assert hub.waiting(KEY) == 0 and KEY not in hub._queues

    asyncio.run(main())


def test_a_timed_out_waiter_leaves_the_queue() -> None:
    async def main() -> None:
        hub = Hub()
        ((_w, t),) = park(hub, ["a"], timeout=0.01)
        assert await t is False
        assert hub.waiting(KEY) == 0 and KEY not in hub._queues

    asyncio.run(main())


def test_colony_resumed_wakes_resume_waiters_and_parked_waiters_of_that_colony_only() -> None:
    async def main() -> None:
        hub = Hub()
        resumed = asyncio.create_task(hub.wait_resumed("dev", 5))
        other = asyncio.create_task(hub.wait_resumed("prod", 0.05))
        here = park(hub, ["a"])
        there = park(hub, ["b"], key=("prod", "cli"), timeout=0.05)
        await settle()
        hub.publish([ColonyResumed("dev")])
        await resumed
        assert await here[0][1] is True and here[0][0].wake is None
        await other
        assert await there[0][1] is False

    asyncio.run(main())


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
            w = hub.waiter(KEY, f"e{i}", "")
            waiter = asyncio.create_task(hub.wait(w, 1 if i % 2 else 0.001))
            await asyncio.sleep(0)
            if i % 2:
                hub.publish([waiting_ev()])
            await waiter
        assert hub.waiting(KEY) == 0
        assert KEY not in hub._queues

    asyncio.run(main())


def test_a_claimed_waiter_gets_the_process_delivered_or_looks_again() -> None:
    async def main() -> None:
        hub = Hub()
        parked = park(hub, ["a", "b", "c"], timeout=0.05)
        await settle()
        w = hub.claim(KEY, Target(names=("b",)))  # a submit for "b"
        assert w is parked[1][0] and hub.queued_names(KEY) == ["a", "c"] and hub.wakeups == 1
        assert hub.claim(KEY, Target(names=("zz",))) is None
        await asyncio.sleep(0.1)  # the others time out; a claimed waiter waits for its submit
        assert parked[0][1].done() and not parked[1][1].done()
        assert hub.deliver(w, "the process") is True
        assert await parked[1][1] is True and w.delivered == "the process"
        again = park(hub, ["d"])
        await settle()
        w2 = hub.claim(KEY, None)
        hub.release(w2)  # the submit assigned it nothing: it is woken to look itself
        assert await again[0][1] is True and w2.wake is None and w2.delivered is None

    asyncio.run(main())


def test_a_claimed_waiter_whose_client_left_is_not_delivered_to() -> None:
    async def main() -> None:
        hub = Hub()
        ((w, t),) = park(hub, ["a"])
        await settle()
        assert hub.claim(KEY, None) is w and w.still_wanted()
        t.cancel()  # the client disconnects while the submit commits
        await settle()
        assert not w.still_wanted()  # what the writer checks before it assigns
        assert hub.deliver(w, "p") is False  # the submit gives the process back instead
        assert hub.waiting(KEY) == 0

    asyncio.run(main())


def test_a_process_assigned_in_the_commit_that_queued_it_wakes_nobody() -> None:
    async def main() -> None:
        hub = Hub()
        q = hub.subscribe_type(KEY)
        parked = park(hub, ["a"], timeout=0.05)
        await settle()
        hub.publish([waiting_ev("p1"), ProcessChanged("p1", 1, "dev", "cli")])  # queued, then taken
        assert hub.wakeups == 0 and hub.queued_names(KEY) == ["a"]
        assert q.get_nowait() == waiting_ev("p1")  # type subscribers still hear of it
        hub.publish([ProcessChanged("p2", 1, "dev", "cli"), waiting_ev("p2")])  # taken, then back in the queue
        assert hub.wakeups == 1
        assert await parked[0][1] is True and parked[0][0].wake.processid == "p2"

    asyncio.run(main())


def test_close_ends_subscriptions_and_wakes_long_polls() -> None:
    async def main() -> None:
        hub = Hub()
        q1, q2 = hub.subscribe_process("p1"), hub.subscribe_type(KEY)
        ((w, poll),) = park(hub, ["a"], timeout=100)
        paused = asyncio.ensure_future(hub.wait_resumed("dev", 100))
        await settle()
        assert hub.active() == 4
        assert hub.close() == (2, 2)
        assert await q1.get() is None and await q2.get() is None
        assert await poll is True and w.wake is None and hub.closed
        await paused
        hub.unsubscribe_process("p1", q1)
        hub.unsubscribe_type(KEY, q2)
        assert hub.active() == 0
        late = hub.subscribe_process("p2")  # a subscription after close ends at once
        assert late.get_nowait() is None
        assert await hub.wait(hub.waiter(KEY, "b", ""), 100) is False  # no waiting once closed
        await hub.wait_resumed("dev", 100)

    asyncio.run(main())
