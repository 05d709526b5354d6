"""Database facade: one writer running whole units of work in transactions, plus readers.

Every write is a plain function `fn(tx, *args)` queued to the single writer. The writer drains
the queue into a batch and runs the batch inside one `BEGIN IMMEDIATE … COMMIT` (group commit);
a unit that fails is undone alone (`_run_batch`). Callers are answered only after COMMIT
returns, so an acknowledged write is durable.
Reads run `fn(tx, *args)` in a read transaction on one of several reader connections.

The writer (`_Writer`) batches on the event loop: a batch of `inline` units (the submit, assign
and close path: a few rows by key) runs right on the loop, with no thread hop and no wait for the
GIL between its statements, and only its COMMIT (the fsync) runs in the writer's own thread; any
other batch runs whole in that thread. aiosqlite owns the reader connections and their threads;
we hand it whole functions through its `_execute` hook (the one private call, kept here) so that
a read costs one thread hop.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from importlib import resources
from typing import Any, TypeVar

import aiosqlite

from ..clock import now_ns
from ..errors import ColoniesError
from .dialects import sqlite as sqlite_sql

T = TypeVar("T")
SqlValue = str | int | float | bytes | None
Params = Sequence[SqlValue]  # the parameters of one statement (both backends)
DbRow = sqlite3.Row | tuple[Any, ...]  # a driver row: sqlite3's, or psycopg's tuple
MAX_BATCH = 256
LOOP_READ_BUSY_MS = 50  # a read on the event loop never waits long for a lock


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


class Database:
    """Open with `await Database.open(path)`; then `await db.write(fn, ...)` / `db.read(fn, ...)`."""

    replicated = False  # one server owns the file: no cross-replica wake-ups or leases
    recheck_seconds = 5.0  # parked assigners look again this often (every wake-up is local)

    @staticmethod
    def now() -> int:
        """Unix nanoseconds: the time units of work are given."""
        return now_ns()

    def __init__(self, path: str, readers: int = 3, synchronous: str = "FULL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._nreaders = readers
        self._writer: _Writer | None = None
        self._readers: list[aiosqlite.Connection] = []
        self._next_reader = itertools.cycle(range(max(readers, 1)))
        self._closed = False
        self._loop_reader: sqlite3.Connection | None = None
        self.on_commit: Callable[[list[Any]], None] | None = None
        self.on_batch: Callable[[int, float], None] | None = None  # (units, seconds) per committed batch
        self.schema_version = 0

    @classmethod
    async def open(cls, path: str, readers: int = 3, synchronous: str = "FULL") -> Database:
        db = cls(path, readers, synchronous)
        await db._open()
        return db

    async def _open(self) -> None:
        writer = _Writer(self.path, self.synchronous, asyncio.get_running_loop(), self._deliver)
        try:
            self.schema_version = await writer.start()
            self._writer = writer
            for _ in range(self._nreaders):
                reader = await aiosqlite.connect(self.path, isolation_level=None, check_same_thread=False)
                self._readers.append(reader)
                await reader._execute(_configure, reader._conn, self.synchronous)
                await reader._execute(reader._conn.execute, "PRAGMA query_only = ON")
        except BaseException:
            # close what was opened: aiosqlite's worker threads would otherwise keep the process alive
            await writer.stop()
            for conn in self._readers:
                await conn.close()
            raise
        self._loop_reader = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        _configure(self._loop_reader, self.synchronous)
        self._loop_reader.execute("PRAGMA query_only = ON")
        self._loop_reader.execute(f"PRAGMA busy_timeout = {LOOP_READ_BUSY_MS}")

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(tx, *args) as one unit of work in the single writer; returns its result."""
        return await self.start_write(fn, *args)

    def start_write(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Queue fn(tx, *args) in the single writer now; the future gets its outcome. Cancelling
        the future does not undo the unit (shield it to still learn the outcome)."""
        if self._closed or self._writer is None:
            raise RuntimeError("database is closed")
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._writer.put((fn, args, fut))
        return fut

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(tx, *args) in one read transaction on a reader connection."""
        if self._closed:
            raise RuntimeError("database is closed")
        reader = self._readers[next(self._next_reader)]
        value: T = await reader._execute(_run_read, reader._conn, fn, args)
        return value

    async def read_point(self, fn: Callable[..., T], *args: Any) -> T:
        """`read` for a small indexed read on the critical path of a push: run on the event loop
        itself, with no thread hop (falls back to `read` if the database is busy)."""
        if self._closed:
            raise RuntimeError("database is closed")
        assert self._loop_reader is not None  # opened with the writer
        try:
            return _run_read(self._loop_reader, fn, args)
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
            return await self.read(fn, *args)

    def _deliver(self, batch: list[tuple[Any, Any, asyncio.Future[Any]]],
                 outcomes: list[tuple[bool, Any, list[Any]]] | BaseException, seconds: float) -> None:
        """On the event loop, after the writer thread committed (or failed to commit) a batch."""
        if isinstance(outcomes, BaseException):  # commit failed: nobody's write happened
            exc = outcomes if isinstance(outcomes, Exception) else RuntimeError(str(outcomes))
            for _, _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        events: list[Any] = []
        for (_, _, fut), (ok, value, unit_events) in zip(batch, outcomes, strict=True):
            if ok:
                events.extend(unit_events)
                if not fut.done():
                    fut.set_result(value)
            elif not fut.done():
                fut.set_exception(value)
        # hooks last, each on its own: a broken subscriber or metric costs nobody an answer or a wake-up
        if self.on_batch is not None:
            _call_hook(self.on_batch, len(batch), seconds)
        if events and self.on_commit is not None:
            _call_hook(self.on_commit, events)

    def stats(self) -> dict[str, int]:
        """Connection pool figures: none here (one writer and fixed readers), PostgreSQL has some."""
        return {}

    async def close(self) -> None:
        """Drain queued writes, stop the writer, close connections. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            await self._writer.stop()
        for conn in self._readers:
            await conn.close()
        if self._loop_reader is not None:
            self._loop_reader.close()


def _call_hook(hook: Callable[..., None], *args: Any) -> None:
    try:
        hook(*args)
    except Exception:
        import logging

        logging.getLogger("colonies").exception("commit hook failed")


class _Writer:
    """The single writer: batches of units on one connection, one batch at a time.

    `put` (on the loop) queues a write and, if the writer is idle, schedules `_flush` with
    `call_soon`, so the writes of one loop iteration share a batch. `_flush` takes everything
    queued (up to MAX_BATCH) as one transaction. If every unit is `inline` (the submit/assign/
    close path: a few rows by key) it runs them right on the loop, with no thread hop and no wait
    for the GIL between statements, and hands only the COMMIT (the fsync) to the writer's thread;
    any other batch, or one whose BEGIN would wait for a lock held by another program, runs whole
    in the thread, so that neither a large unit, a lock nor the disk ever stalls the loop. The
    thread answers with one `call_soon_threadsafe`; the outcomes are delivered and the next batch
    (the writes that came in meanwhile) starts at once. `stop` lets the queued writes run first."""

    def __init__(self, path: str, synchronous: str, loop: asyncio.AbstractEventLoop,
                 deliver: Callable[[list[Any], Any, float], None]) -> None:
        self._path = path
        self._synchronous = synchronous
        self._loop = loop
        self._deliver = deliver
        self._pending: collections.deque[tuple[Any, Any, asyncio.Future[Any]]] = collections.deque()
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="colonies-db-writer", daemon=True)
        self._conn: sqlite3.Connection | None = None
        self._busy = False  # a flush is scheduled, or a batch is running
        self._started: asyncio.Future[int] = loop.create_future()
        self._drained: asyncio.Future[None] | None = None
        self._stopped: asyncio.Future[None] = loop.create_future()

    async def start(self) -> int:
        """Open, configure and migrate the writing connection (in the thread); the schema version."""
        self._thread.start()
        return await self._started

    def put(self, item: tuple[Any, Any, asyncio.Future[Any]]) -> None:
        self._pending.append(item)
        if not self._busy:
            self._busy = True
            self._loop.call_soon(self._flush)

    async def stop(self) -> None:
        if not self._thread.is_alive() and self._thread.ident is None:
            return  # never started
        if self._busy or self._pending:
            self._drained = self._loop.create_future()
            await self._drained
        self._jobs.put(None)
        await self._stopped

    def _flush(self) -> None:
        """On the loop: start the next batch (everything queued, up to MAX_BATCH)."""
        pending = self._pending
        if not pending:
            self._busy = False
            if self._drained is not None and not self._drained.done():
                self._drained.set_result(None)
            return
        batch = [pending.popleft() for _ in range(min(len(pending), MAX_BATCH))]
        units = [(fn, args) for fn, args, _ in batch]
        started = time.perf_counter()
        conn = self._conn
        assert conn is not None
        if all(getattr(fn, "colonies_inline", False) for fn, _ in units):
            try:
                outcomes = _run_batch(conn, units, _begin_now)
            except _LockHeld:
                self._jobs.put((batch, units, None, started))  # wait for the lock in the thread
                return
            except BaseException as exc:  # handed to every caller of the batch
                self._loop.call_soon(self._done, batch, exc, started)
                return
            if any(ok for ok, _, _ in outcomes):
                self._jobs.put((batch, units, outcomes, started))  # the COMMIT, in the thread
                return
            _finish(conn, outcomes)  # every unit refused: nothing to commit, no fsync to wait for
            self._loop.call_soon(self._done, batch, outcomes, started)
        else:
            self._jobs.put((batch, units, None, started))

    def _done(self, batch: list[Any], outcomes: Any, started: float) -> None:
        """On the loop: deliver a finished batch, then start the next one."""
        try:
            self._deliver(batch, outcomes, time.perf_counter() - started)
        finally:  # a failing hook must not stop the writer
            self._flush()

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            self._loop.call_soon_threadsafe(fn, *args)

    def _serve(self) -> None:
        """The writer's thread: open the connection, then COMMITs and whole batches until stopped."""
        try:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            try:
                _configure(conn, self._synchronous)
                version = migrate(conn)
                conn.execute("PRAGMA busy_timeout = 0")  # a BEGIN on the loop never waits (_begin_now)
            except BaseException:
                conn.close()
                raise
        except BaseException as exc:
            self._post(_settle, self._started, exc, None)
            self._post(_settle, self._stopped, None, None)
            return
        self._conn = conn
        self._post(_settle, self._started, None, version)
        try:
            while (job := self._jobs.get()) is not None:
                batch, units, outcomes, started = job
                try:
                    if outcomes is None:
                        outcomes = _run_batch(conn, units, _begin_waiting)
                    _finish(conn, outcomes)
                except BaseException as exc:  # the commit failed: nobody's write happened
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    outcomes = exc
                self._post(self._done, batch, outcomes, started)
        finally:
            conn.close()
            self._post(_settle, self._stopped, None, None)


def _settle(fut: asyncio.Future[Any], exc: BaseException | None, value: Any) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(value)


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


def _run_unit(conn: sqlite3.Connection, fn: Callable[..., Any], args: tuple[Any, ...],
              savepoint: bool) -> tuple[bool, Any, list[Any]]:
    """One unit: (ok, value or exception, events). In a savepoint, a failure is undone alone."""
    if savepoint:
        conn.execute("SAVEPOINT unit")
    tx = Tx(conn)
    try:
        value = fn(tx, *args)
    except Exception as exc:
        if savepoint:
            conn.execute("ROLLBACK TO unit")
            conn.execute("RELEASE unit")
        if isinstance(exc, sqlite3.IntegrityError):
            exc = _integrity(exc)
        return False, exc, []
    if savepoint:
        conn.execute("RELEASE unit")
    return True, value, tx.events


def _run_units(conn: sqlite3.Connection, units: list[tuple[Callable[..., Any], tuple[Any, ...]]],
               savepoints: bool) -> list[tuple[bool, Any, list[Any]]]:
    """The units in order; without savepoints, stop at the first failure."""
    outcomes: list[tuple[bool, Any, list[Any]]] = []
    for fn, args in units:
        outcome = _run_unit(conn, fn, args, savepoints)
        outcomes.append(outcome)
        if not savepoints and not outcome[0]:
            break
    return outcomes


WRITER_BUSY_MS = 10_000  # how long the writer waits for a write lock held outside this server


class _LockHeld(Exception):
    """Another program holds the write lock: the batch goes to the writer's thread to wait."""


def _begin_now(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE on the loop: at once, or _LockHeld (the writer's busy_timeout is 0)."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if _is_busy(exc):
            raise _LockHeld from exc
        raise


def _begin_waiting(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE in the writer's thread, waiting up to WRITER_BUSY_MS for the lock."""
    conn.execute(f"PRAGMA busy_timeout = {WRITER_BUSY_MS}")
    try:
        conn.execute("BEGIN IMMEDIATE")
    finally:
        conn.execute("PRAGMA busy_timeout = 0")


def _run_batch(conn: sqlite3.Connection, units: list[tuple[Callable[..., Any], tuple[Any, ...]]],
               begin: Callable[[sqlite3.Connection], None]) -> list[tuple[bool, Any, list[Any]]]:
    """Begin a transaction and run all units in it; the caller commits or rolls back the
    transaction if one is still open (`conn.in_transaction`).

    Units first run back to back with no savepoints (the common case: all succeed). If one fails,
    the transaction is rolled back and, if others share it, the batch runs again with each unit in
    its own savepoint, so that the failing unit is undone alone. Nothing of the first pass was
    committed or published."""
    begin(conn)
    try:
        outcomes = _run_units(conn, units, savepoints=False)
        if not outcomes[-1][0]:
            conn.execute("ROLLBACK")
            if len(units) == 1:
                return outcomes  # no transaction is left open
            begin(conn)
            outcomes = _run_units(conn, units, savepoints=True)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


def _finish(conn: sqlite3.Connection, outcomes: list[tuple[bool, Any, list[Any]]]) -> None:
    """End the transaction `_run_batch` left open, if any: COMMIT if a unit succeeded, else
    ROLLBACK (a batch of refused units wrote nothing)."""
    if conn.in_transaction:
        conn.execute("COMMIT" if any(ok for ok, _, _ in outcomes) else "ROLLBACK")


def _integrity(exc: sqlite3.IntegrityError) -> ColoniesError:
    from ..errors import BadRequest

    return BadRequest(f"Constraint violated: {exc}")
