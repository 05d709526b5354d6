"""A background loop parked on an event must end when cancelled, even when the event fires in the
same loop iteration as the cancel (asyncio.wait_for on 3.11 returns the result then and swallows
the cancel, so a server stopping at that moment would hang on the loop task)."""
from __future__ import annotations

import asyncio

import pytest

from colonies_pkg import loops
from colonies_pkg.hub import Hub


@pytest.mark.parametrize("yields", [0, 1, 2, 3, 4])
def test_cron_scheduler_ends_on_cancel_racing_a_wakeup(yields: int) -> None:
    async def scenario() -> None:
        hub = Hub()
        task = asyncio.create_task(loops.cron_scheduler(db=None, hub=hub, is_leader=lambda: False))
        for _ in range(3):
            await asyncio.sleep(0)  # parked on hub.crons_changed
        hub.crons_changed.set()
        for _ in range(yields):
            await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2.0)
        assert task in done, "the cron scheduler swallowed its cancel and kept running"
        assert task.cancelled()

    asyncio.run(scenario())
