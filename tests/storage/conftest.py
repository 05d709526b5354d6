"""A migrated SQLite file wrapped in a Tx, for domain units run directly with time as a parameter."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from colonies_pkg.storage.db import Tx, migrate


@pytest.fixture
def tx(tmp_path) -> Iterator[Tx]:
    conn = sqlite3.connect(tmp_path / "colonies.db", isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    migrate(conn)
    yield Tx(conn)
    conn.close()
