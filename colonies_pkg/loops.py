"""Background loops (layer L4): read the clock, call a domain unit of work, sleep.

- deadlines: maxexectime / maxwaittime / maxretries every second (PROTOCOL §6.4);
- stale executors: unregister executors silent for too long (§6.9).
"""
from __future__ import annotations

import asyncio
import logging

from .clock import NS, now_ns
from .config import ServerConfig
from .domain import executors, processes
from .storage import Database

log = logging.getLogger("colonies")


async def _every(period: float, name: str, step) -> None:
    while True:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background loop %s failed; continuing", name)
        await asyncio.sleep(period)


def start(db: Database, config: ServerConfig) -> list[asyncio.Task[None]]:
    async def deadlines() -> None:
        await db.write(processes.enforce_deadlines, now_ns())

    async def stale() -> None:
        now = now_ns()
        await db.write(executors.unregister_stale, now, now - config.stale_executor_seconds * NS)

    return [
        asyncio.create_task(_every(config.deadline_period_seconds, "deadlines", deadlines), name="deadlines"),
        asyncio.create_task(_every(config.cleanup_interval_seconds, "stale-executors", stale), name="stale"),
    ]
