"""Storage: the Database facades (SQLite: single writer and readers; PostgreSQL: pooled
transactions) and per-area SQL modules returning typed rows or models.
Layer L2: imports errors and models only. SQL lives nowhere else."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from .db import Database, Tx

__all__ = ["Backend", "Database", "Tx", "open_database"]

T = TypeVar("T")


class Backend(Protocol):
    """What the server and its loops use of a database, whichever it is: `Database` (SQLite) or
    `postgres.PgDatabase`. Units of work are `fn(tx, *args)`; time is the database's `now()`."""

    replicated: bool  # several servers share it: cross-replica wake-ups and a leader lease
    recheck_seconds: float  # how often parked assigners look again
    schema_version: int
    on_commit: Callable[[list[Any]], None] | None  # after each commit, with the events of its units
    on_batch: Callable[[int, float], None] | None  # (units, seconds) per commit

    def now(self) -> int: ...
    async def write(self, fn: Callable[..., T], *args: Any) -> T: ...
    # `write` already under way: the unit is queued now, its outcome is the future's
    def start_write(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]: ...
    async def read(self, fn: Callable[..., T], *args: Any) -> T: ...
    async def read_point(self, fn: Callable[..., T], *args: Any) -> T: ...
    async def close(self) -> None: ...
    def stats(self) -> dict[str, int]: ...  # connection pool figures (PostgreSQL); SQLite has none


async def open_database(path: str, *, url: str = "", synchronous: str = "FULL", pool_size: int = 10) -> Backend:
    """PostgreSQL when `url` is given (psycopg imported only then), else SQLite at `path`."""
    if url:
        from .postgres import PgDatabase

        return await PgDatabase.open(url, pool_size=pool_size)
    return await Database.open(path, synchronous=synchronous)
