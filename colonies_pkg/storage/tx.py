"""What a unit of work runs on (SQLite): `Tx`, the connection's configuration and the schema's
migrations; `inline` marks units the writer may run on the event loop (storage/db.py)."""
from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from importlib import resources
from typing import Any, TypeVar

from .dialects import sqlite as sqlite_sql

T = TypeVar("T")
SqlValue = str | int | float | bytes | None
Params = Sequence[SqlValue]  # the parameters of one statement (both backends)
DbRow = sqlite3.Row | tuple[Any, ...]  # a driver row: sqlite3's, or psycopg's tuple


class Tx:
    """What a unit of work sees: the connection, and events to publish after commit.

    `sql` is the dialect module (storage/dialects/) for the SQL that differs per backend; the
    PostgreSQL backend hands units a `PgTx` with the same methods."""

    __slots__ = ("conn", "events")
    sql = sqlite_sql

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.events: list[Any] = []

    @property
    def lock(self) -> str:
        """Suffix for a SELECT whose rows this unit goes on to change (none under one writer)."""
        return ""

    @property
    def lock_skip(self) -> str:
        return ""

    def one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.conn.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def run(self, sql: str, params: Params = ()) -> int:
        """Execute a statement; returns the number of changed rows."""
        return self.conn.execute(sql, params).rowcount

    def many(self, sql: str, seq: Sequence[Params]) -> None:
        """Execute one statement for each parameter tuple."""
        self.conn.executemany(sql, seq)

    @contextlib.contextmanager
    def nested(self) -> Iterator[None]:
        """A part of a unit that, if it raises, is undone alone (its writes and its events)."""
        mark = len(self.events)
        self.conn.execute("SAVEPOINT part")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK TO part")
            self.conn.execute("RELEASE part")
            del self.events[mark:]
            raise
        self.conn.execute("RELEASE part")


def scalar(tx: Tx, sql: str, params: Params = ()) -> int:
    """The int in the first column of the one row `sql` yields: a one-row aggregate (COUNT, MIN)
    or a sequence value, on either backend; SQL NULL (MIN over no rows) is 0."""
    row = tx.one(sql, params)
    if row is None:  # an aggregate always yields a row; a missing sequence row is a broken schema
        raise LookupError(f"no row for {sql!r}")
    return int(row[0] or 0)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED: another connection holds the lock asked for."""
    return "locked" in str(exc) or "busy" in str(exc)


def _configure(conn: sqlite3.Connection, synchronous: str) -> None:
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise RuntimeError(f"SQLite refused WAL mode (journal_mode={mode}); is the data dir on a network filesystem?")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    if conn.execute("PRAGMA foreign_keys").fetchone()[0] != 1:
        raise RuntimeError("SQLite foreign keys could not be enabled")


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the ordered migrations/sqlite/*.sql not yet applied, all in one transaction (one commit);
    returns the schema version. An up-to-date database costs one query."""
    files = sorted(
        (f for f in resources.files(__package__).joinpath("migrations").joinpath("sqlite").iterdir() if f.name.endswith(".sql")),
        key=lambda f: f.name,
    )
    current: int = conn.execute("PRAGMA user_version").fetchone()[0]
    pending = [(int(f.name.split("_", 1)[0]), f) for f in files]
    pending = [(version, f) for version, f in pending if version > current]
    if not pending:
        return current
    conn.execute("BEGIN IMMEDIATE")
    try:
        for version, f in pending:
            for statement in _split_sql(f.read_text(encoding="utf-8")):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return pending[-1][0]


def _split_sql(script: str) -> list[str]:
    statements, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements


def _run_read(conn: sqlite3.Connection, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    conn.execute("BEGIN")
    try:
        return fn(Tx(conn), *args)
    finally:
        conn.execute("COMMIT")


def inline(fn: Callable[..., T]) -> Callable[..., T]:
    """Mark a unit of work that touches a few rows by key: the writer runs it on the event loop."""
    fn.colonies_inline = True  # type: ignore[attr-defined]
    return fn
