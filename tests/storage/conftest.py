"""A migrated database wrapped in a Tx, for domain units run directly with time as a parameter:
once on a SQLite file and once on a fresh PostgreSQL database (both backends keep one contract).
And the units of work on an `items` table that the writer's tests (test_db, test_walsync) share."""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from colonies_pkg.storage.db import Database, Tx, inline, migrate


@pytest.fixture(params=["sqlite", "postgres"])
def tx(request: pytest.FixtureRequest, tmp_path) -> Iterator[Any]:
    if request.param == "postgres":
        import psycopg

        from colonies_pkg.storage import postgres

        url = request.getfixturevalue("pg_cluster").new_database()
        with psycopg.connect(url, autocommit=True) as pg:
            postgres.migrate(pg)
            yield postgres.PgTx(pg, writing=True)
        return
    conn = sqlite3.connect(tmp_path / "colonies.db", isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    migrate(conn)
    yield Tx(conn)
    conn.close()


# --- units of work on an `items` table (the writer's tests) -----------------------------------
def create_items(tx: Tx) -> None:
    tx.run("CREATE TABLE IF NOT EXISTS items (n INTEGER PRIMARY KEY, tag TEXT NOT NULL DEFAULT '')")


def insert(tx: Tx, n: int, tag: str = "") -> int:
    """Not `inline`: a batch with it runs whole in the writer's thread."""
    tx.events.append(("inserted", n))
    tx.run("INSERT INTO items(n, tag) VALUES (?, ?)", (n, tag))
    return n


@inline
def insert_inline(tx: Tx, n: int) -> int:
    """`insert` run on the event loop; the tag records the thread that ran it."""
    return insert(tx, n, str(threading.get_ident()))


def all_items(tx: Tx) -> list[int]:
    return [r[0] for r in tx.all("SELECT n FROM items ORDER BY n")]


async def opened(path: Path) -> Database:
    db = await Database.open(str(path))
    await db.write(create_items)
    return db
