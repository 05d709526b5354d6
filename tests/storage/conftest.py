"""A migrated database wrapped in a Tx, for domain units run directly with time as a parameter:
once on a SQLite file and once on a fresh PostgreSQL database (both backends keep one contract)."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from colonies_pkg.storage.db import Tx, migrate


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
