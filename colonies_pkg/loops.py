"""Background loops (layer L4): read the clock, call a domain unit of work, sleep.

- deadlines: maxexectime / maxwaittime / maxretries every second (PROTOCOL §6.4);
- crons: one timer for the earliest due cron, re-armed after every fire or cron change (§6.7);
- generators: flush args that waited past their timeout, every second (§6.8);
- stale executors: unregister executors silent for too long (§6.9);
- retention: when enabled, forget successful work and logs older than the policy (§6.9).

With several replicas on PostgreSQL every replica sweeps deadlines (rows are claimed with SKIP
LOCKED, so the sweeps share the work), and only the lease holder (replicas.Leader) runs crons,
generators, stale-executor cleanup and retention. Time is the database's clock (`db.now()`).
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .clock import NS
from .config import ServerConfig
from .domain import crons, executors, generators, processes, retention
from .hub import Hub
from .storage import Backend

log = logging.getLogger("colonies")
# Runs and failures per loop name, process-wide (read by the metrics exporter).
loop_runs: collections.Counter[str] = collections.Counter()
loop_errors: collections.Counter[str] = collections.Counter()
CRON_RECHECK_BLOCKED = 1.0  # a cron waiting for its previous graph looks again this often
CRON_IDLE = 60.0


async def _every(period: float, name: str, step: Callable[[], Awaitable[object]]) -> None:
    while True:
        try:
            loop_runs[name] += 1
            await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            loop_errors[name] += 1
            log.exception("background loop %s failed; continuing", name)
        await asyncio.sleep(period)


async def cron_scheduler(db: Backend, hub: Hub, is_leader: Any = lambda: True) -> None:
    """Sleep until the earliest cron is due (or crons change), fire what is due, repeat."""
    while True:
        hub.crons_changed.clear()
        if not is_leader():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CRON_RECHECK_BLOCKED):
                    await hub.crons_changed.wait()
            continue
        try:
            loop_runs["crons"] += 1
            due = await db.write(crons.fire_due, db.now())
        except asyncio.CancelledError:
            raise
        except Exception:
            loop_errors["crons"] += 1
            log.exception("cron scheduler failed; retrying in 1 s")
            await asyncio.sleep(1.0)
            continue
        delay = (due.next_due - db.now()) / NS if due.next_due else CRON_IDLE
        if due.blocked:
            delay = min(delay, CRON_RECHECK_BLOCKED)
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(delay, CRON_IDLE)):
                    await hub.crons_changed.wait()


def start(db: Backend, hub: Hub, config: ServerConfig, is_leader: Any = lambda: True) -> list[asyncio.Task[None]]:
    async def deadlines() -> None:
        await db.write(processes.enforce_deadlines, db.now())

    async def flush_generators() -> None:
        if is_leader():
            await db.write(generators.flush_expired, db.now())

    async def stale() -> None:
        if is_leader():
            now = db.now()
            await db.write(executors.unregister_stale, now, now - config.stale_executor_seconds * NS)

    async def retain() -> None:
        if is_leader():
            now = db.now()
            await db.write(retention.apply, now, now - config.retention_policy_seconds * NS)

    tasks = [
        asyncio.create_task(_every(config.deadline_period_seconds, "deadlines", deadlines), name="deadlines"),
        asyncio.create_task(cron_scheduler(db, hub, is_leader), name="crons"),
        asyncio.create_task(_every(1.0, "generators", flush_generators), name="generators"),
        asyncio.create_task(_every(config.cleanup_interval_seconds, "stale-executors", stale), name="stale"),
    ]
    if config.retention:
        tasks.append(asyncio.create_task(_every(config.retention_period_seconds, "retention", retain),
                                         name="retention"))
    return tasks
