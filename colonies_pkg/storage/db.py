"""Database facade: one writer task running whole units of work in transactions, plus readers.

Every write is a plain function `fn(tx, *args)` queued to the single writer. The writer drains
the queue into a batch and runs the batch inside one `BEGIN IMMEDIATE … COMMIT`, each unit in
its own SAVEPOINT, so a failing unit rolls back alone while the batch shares one commit (group
commit). Callers are answered only after COMMIT returns, so an acknowledged write is durable.
Reads run `fn(tx, *args)` in a read transaction on one of several reader connections.

The writer (`_Writer`) is a task on the event loop. Units marked `inline` (the submit, assign and
close path: a few rows by key) run right on the loop, with no thread hop and no wait for the GIL
between their statements; other units and every COMMIT (the fsync) run in the writer's own thread,
and the writes that arrive meanwhile make up the next batch. aiosqlite owns the reader
connections and their threads; we hand it whole functions through its `_execute` hook (the one
private call, kept here) so that a read costs one thread hop.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
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
_STOP = object()
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
        if self._closed or self._writer is None:
            raise RuntimeError("database is closed")
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._writer.put((fn, args, fut))
        return await fut

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
            if "locked" not in str(exc) and "busy" not in str(exc):
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
        if self.on_batch is not None:
            self.on_batch(len(batch), seconds)
        events: list[Any] = []
        for (_, _, fut), (ok, value, unit_events) in zip(batch, outcomes, strict=True):
            if ok:
                events.extend(unit_events)
                if not fut.done():
                    fut.set_result(value)
            elif not fut.done():
                fut.set_exception(value)
        if events and self.on_commit is not None:
            try:
                self.on_commit(events)
            except Exception:  # a broken subscriber must not stop the writer
                import logging

                logging.getLogger("colonies").exception("on_commit hook failed")

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


class _Writer:
    """The writer: a task on the event loop that owns the writing connection.

    It takes everything queued (up to MAX_BATCH) as one batch in one transaction. A unit marked
    `inline` (a few rows by key: the submit/assign/close path) runs right on the loop; any other
    unit, and the COMMIT with its fsync, run in the writer's one thread, so that neither a large
    unit nor the disk ever stalls the loop (and a unit never waits for the GIL between the
    statements it runs). `stop` queues a marker: the writes queued before it still run."""

    def __init__(self, path: str, synchronous: str, loop: asyncio.AbstractEventLoop,
                 deliver: Callable[[list[Any], Any, float], None]) -> None:
        self._path = path
        self._synchronous = synchronous
        self._loop = loop
        self._deliver = deliver
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="colonies-db-writer")
        self._task: asyncio.Task[None] | None = None
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> tuple[sqlite3.Connection, int]:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            _configure(conn, self._synchronous)
            version = migrate(conn)
            conn.execute("PRAGMA busy_timeout = 0")  # BEGIN on the loop never waits (see _begin)
            return conn, version
        except BaseException:
            conn.close()
            raise

    async def start(self) -> int:
        """Open, configure and migrate the writing connection (in the thread); the schema version."""
        try:
            conn, version = await self._offload(self._connect)
        except BaseException:
            self._pool.shutdown(wait=False)
            raise
        self._conn = conn
        self._task = asyncio.create_task(self._serve(conn), name="colonies-db-writer")
        return version

    def put(self, item: tuple[Any, Any, asyncio.Future[Any]]) -> None:
        self._queue.put_nowait(item)

    async def stop(self) -> None:
        if self._task is None:
            return
        task, self._task = self._task, None
        self._queue.put_nowait(_STOP)
        try:
            await task
        finally:
            assert self._conn is not None
            self._conn.close()
            self._pool.shutdown(wait=True)

    async def _offload(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn in the writer's thread. If the awaiting task is cancelled, fn still finishes
        before the cancel goes on: nobody else may touch the connection while it runs."""
        done = self._pool.submit(fn, *args)
        try:
            return await asyncio.shield(asyncio.wrap_future(done))
        except asyncio.CancelledError:
            concurrent.futures.wait([done])
            raise

    async def _serve(self, conn: sqlite3.Connection) -> None:
        q = self._queue
        while True:
            item = await q.get()
            if item is _STOP:
                return
            batch = [item]
            stopping = False
            while len(batch) < MAX_BATCH and not q.empty():
                nxt = q.get_nowait()
                if nxt is _STOP:
                    stopping = True
                    break
                batch.append(nxt)
            started = time.perf_counter()
            outcomes: list[tuple[bool, Any, list[Any]]] | BaseException
            try:
                outcomes = await _run_batch(conn, [(fn, args) for fn, args, _ in batch], self._offload)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                outcomes = exc
            self._deliver(batch, outcomes, time.perf_counter() - started)
            if stopping:
                return


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


async def _run_units(conn: sqlite3.Connection, units: list[tuple[Callable[..., Any], tuple[Any, ...]]],
                     offload: Callable[..., Awaitable[Any]], savepoints: bool) -> list[tuple[bool, Any, list[Any]]]:
    """The units in order; without savepoints, stop at the first failure."""
    outcomes: list[tuple[bool, Any, list[Any]]] = []
    for fn, args in units:
        if getattr(fn, "colonies_inline", False):
            outcome = _run_unit(conn, fn, args, savepoints)
        else:
            outcome = await offload(_run_unit, conn, fn, args, savepoints)
        outcomes.append(outcome)
        if not savepoints and not outcome[0]:
            break
    return outcomes


WRITER_BUSY_MS = 10_000  # how long the writer waits for a write lock held outside this server


async def _begin(conn: sqlite3.Connection, offload: Callable[..., Awaitable[Any]]) -> None:
    """BEGIN IMMEDIATE on the loop when the write lock is free (always, unless another program has
    the file open for writing); else wait for it in the writer's thread, the loop serving on."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        await offload(_begin_waiting, conn)


def _begin_waiting(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {WRITER_BUSY_MS}")
    try:
        conn.execute("BEGIN IMMEDIATE")
    finally:
        conn.execute("PRAGMA busy_timeout = 0")


async def _run_batch(conn: sqlite3.Connection, units: list[tuple[Callable[..., Any], tuple[Any, ...]]],
                     offload: Callable[..., Awaitable[Any]]) -> list[tuple[bool, Any, list[Any]]]:
    """All units in one transaction; inline units on the loop, the others and the COMMIT through
    `offload` (the writer's thread).

    Units first run back to back with no savepoints (the common case: all succeed). If one fails,
    the transaction is rolled back and, if others share it, the batch runs again with each unit in
    its own savepoint, so that the failing unit is undone alone. Nothing of the first pass was
    committed or published."""
    await _begin(conn, offload)
    try:
        outcomes = await _run_units(conn, units, offload, savepoints=False)
        if not outcomes[-1][0]:
            conn.execute("ROLLBACK")
            if len(units) == 1:
                return outcomes
            await _begin(conn, offload)
            outcomes = await _run_units(conn, units, offload, savepoints=True)
        # a batch of refused units wrote nothing: roll back rather than commit an empty transaction
        if any(ok for ok, _, _ in outcomes):
            await offload(conn.execute, "COMMIT")
        else:
            conn.execute("ROLLBACK")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


def _integrity(exc: sqlite3.IntegrityError) -> ColoniesError:
    from ..errors import BadRequest

    return BadRequest(f"Constraint violated: {exc}")
