"""`read_body`'s cut-off (`server.body.Deadlines`): one sweep per tick, not a timer per request.
Stalled reads end in Timeout (408) within a tick of their deadline; reads that finish in time are
never cancelled later; anyone else's cancellation stays a cancellation. On a real event loop, with
receive callables standing in for uvicorn's."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from colonies_pkg.errors import Timeout
from colonies_pkg.server.body import Deadlines, read_body

SCOPE: dict[str, Any] = {"headers": []}


def feeder(*events: dict[str, Any], stall: bool = False) -> Any:
    """A receive() returning `events` in turn, then waiting forever (if `stall`)."""
    pending = list(events)

    async def receive() -> dict[str, Any]:
        if pending:
            await asyncio.sleep(0.01)
            return pending.pop(0)
        assert stall, "read past the last event"
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return receive


def test_a_stalled_body_is_a_timeout_within_a_tick() -> None:
    async def main() -> None:
        deadlines = Deadlines(0.2)
        loop = asyncio.get_running_loop()
        started = loop.time()
        stalled = feeder({"type": "http.request", "body": b"abc", "more_body": True}, stall=True)
        with pytest.raises(Timeout) as caught:
            await asyncio.wait_for(read_body(SCOPE, stalled, 1000, deadlines), 5)
        assert "3 bytes arrived" in str(caught.value.message)
        assert 0.2 <= loop.time() - started < 0.2 + deadlines.tick + 0.2
        assert not asyncio.current_task().cancelling()  # type: ignore[union-attr]

    asyncio.run(main())


def test_only_the_stalled_reads_are_cut_off() -> None:
    async def main() -> None:
        deadlines = Deadlines(0.2)
        whole = [feeder({"type": "http.request", "body": b"x%d" % i, "more_body": True},
                        {"type": "http.request", "body": b"!", "more_body": False}) for i in range(5)]
        stalled = [feeder({"type": "http.request", "body": b"", "more_body": True}, stall=True) for _ in range(3)]
        results = await asyncio.wait_for(asyncio.gather(
            *(read_body(SCOPE, r, 1000, deadlines) for r in whole + stalled), return_exceptions=True), 5)
        assert results[:5] == [b"x%d!" % i for i in range(5)]
        assert all(isinstance(r, Timeout) for r in results[5:])

    asyncio.run(main())


def test_a_read_that_ended_in_time_is_not_cancelled_later() -> None:
    async def main() -> None:
        deadlines = Deadlines(0.1)
        body = await read_body(SCOPE, feeder({"type": "http.request", "body": b"ok"}), 1000, deadlines)
        assert body == b"ok"
        await asyncio.sleep(0.1 + 3 * deadlines.tick)  # several sweeps past the deadline: nothing lands here

    asyncio.run(main())


def test_another_cancellation_stays_a_cancellation() -> None:
    async def main() -> None:
        deadlines = Deadlines(30)
        task = asyncio.ensure_future(read_body(SCOPE, feeder(stall=True), 1000, deadlines))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
