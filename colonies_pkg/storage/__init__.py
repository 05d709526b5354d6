"""Storage: the Database facades (SQLite: single writer and readers; PostgreSQL: pooled
transactions) and per-area SQL modules returning typed rows or models.
Layer L2: imports errors and models only. SQL lives nowhere else."""
from __future__ import annotations

from typing import Any

from .db import Database, Tx

__all__ = ["Database", "Tx", "open_database"]


async def open_database(path: str, *, url: str = "", synchronous: str = "FULL", pool_size: int = 10) -> Any:
    """PostgreSQL when `url` is given (psycopg imported only then), else SQLite at `path`."""
    if url:
        from .postgres import PgDatabase

        return await PgDatabase.open(url, pool_size=pool_size)
    return await Database.open(path, synchronous=synchronous)
