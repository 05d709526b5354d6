"""Database facade: one writer running whole units of work in transactions, plus readers.

Every write is a plain function `fn(tx, *args)` queued to the single writer. The writer drains
the queue into a batch and runs the batch inside one `BEGIN IMMEDIATE … COMMIT` (group commit);
a unit that fails is undone alone (`_run_batch`). Callers are answered only once their batch's
COMMIT is on disk, so an acknowledged write is durable.
Reads run `fn(tx, *args)` in a read transaction on one of several reader connections.

The writer (`_Writer`) batches on the event loop: a batch of `inline` units (the submit, assign
and close path: a few rows by key) runs right on the loop, with no thread hop and no wait for the
GIL between its statements; any other batch runs whole in the writer's own thread. With the
default `synchronous=FULL` (and `os.fdatasync`), the writer's connection commits with NORMAL — the
COMMIT only appends the batch's frames to the WAL, so an inline batch commits on the loop — and a
`walsync.WalSync` (a helper process) syncs the WAL before the batch's callers are answered, in
commit order. The writes that come in during a sync wait for it and then make one batch (they
would wait for it either way). Without it, SQLite syncs inside each COMMIT, which then runs in the
writer's thread.
aiosqlite owns the reader connections and their threads;
we hand it whole functions through its `_execute` hook (the one private call, kept here) so that
a read costs one thread hop.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import aiosqlite

from ..clock import now_ns
from ..errors import ColoniesError, Unavailable
from . import walsync
from .tx import DbRow, Params, SqlValue, Tx, _configure, _is_busy, _run_read, inline, migrate, scalar
from .walsync import WalSync

log = logging.getLogger("colonies")
__all__ = ["Database", "DbRow", "Params", "SqlValue", "Tx", "inline", "migrate", "scalar"]
T = TypeVar("T")
MAX_BATCH = 256
CHECKPOINT_EVERY = 100  # committed batches between WAL checkpoints (with a WalSync: in the writer's thread)
_CHECKPOINT = ("checkpoint",)  # the writer thread's job for one
DURABLE = ("FULL", "EXTRA")  # the `synchronous` settings under which an answered write is on disk
LOOP_READ_BUSY_MS = 50  # a read on the event loop never waits long for a lock

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

    @property
    def sync_mode(self) -> str:
        """Who makes a commit durable before its callers are answered: "helper" (a process syncing
        the WAL, storage/walsync.py), "thread" (the same in a thread), "sqlite" (SQLite, inside each
        COMMIT), or "none" (synchronous below FULL, as configured)."""
        if self.synchronous not in DURABLE:
            return "none"
        return self._writer.sync_mode if self._writer is not None else "sqlite"

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
        log.exception("commit hook failed")


class _Writer:
    """The single writer: batches of units on one connection, one batch at a time.

    `put` (on the loop) queues a write and, if the writer is idle, schedules `_flush` with
    `call_soon`, so the writes of one loop iteration share a batch. `_flush` takes everything
    queued (up to MAX_BATCH) as one transaction. If every unit is `inline` (the submit/assign/
    close path: a few rows by key) it runs them right on the loop, with no thread hop and no wait
    for the GIL between statements; any other batch, or one whose BEGIN would wait for a lock held
    by another program, runs whole in the writer's thread, so that neither a large unit nor a lock
    ever stalls the loop (the thread answers with one `call_soon_threadsafe`).

    With a WalSync (the default), an inline batch also commits on the loop (synchronous=NORMAL:
    the COMMIT writes the WAL, it does not sync it), and every batch is answered, in commit order,
    once a WAL sync begun after its COMMIT has ended (`_settle`, `_next_sync`, `_synced`); the
    writes that come in during a sync wait for it and then make the next batch. Without one,
    SQLite syncs inside the COMMIT, which then runs in the thread, and each batch is answered when
    its COMMIT returns. `stop` lets the queued writes run (and be synced) first."""

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
        # group commit's fsync (storage/walsync.py); None: SQLite syncs inside each COMMIT
        self._sync: WalSync | None = None
        self._inflight: list[tuple[Any, Any, float]] | None = None  # batches the running sync covers
        self._unsynced: list[tuple[Any, Any, float]] = []  # finished since it began, in order
        self._since_checkpoint = 0  # committed batches since the last checkpoint
        self._checkpointing = False  # the writer's thread is checkpointing (it has the connection)
        self._held = False  # a batch waits for the running sync to end
        self.broken: ColoniesError | None = None  # a sync failed: no more writes

    async def start(self) -> int:
        """Open, configure and migrate the writing connection (in the thread); the schema version."""
        self._thread.start()
        version = await self._started
        if self._synchronous in DURABLE and walsync.available():
            self._start_sync()
        return version

    def _start_sync(self) -> None:
        """Commit with synchronous=NORMAL and sync the WAL before answering (storage/walsync.py)."""
        assert self._conn is not None
        sync = WalSync(self._loop, self._path + "-wal", self._synced)
        try:
            sync.start()
        except OSError as exc:  # no WAL file to open: SQLite keeps syncing in each COMMIT
            log.warning("WAL sync not started (%s); SQLite syncs each commit", exc)
            return
        # The writer's thread is idle until the first write. SQLite's own checkpoints would run
        # inside a COMMIT, now on the loop: the thread runs them instead (`_flush`).
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA wal_autocheckpoint = 0")
        self._sync = sync

    @property
    def sync_mode(self) -> str:
        """Who makes commits durable: "helper" or "thread" (walsync), or "sqlite" (in each COMMIT)."""
        return self._sync.mode if self._sync is not None else "sqlite"

    def put(self, item: tuple[Any, Any, asyncio.Future[Any]]) -> None:
        if self.broken is not None:
            item[2].set_exception(self.broken)
            return
        self._pending.append(item)
        if not self._busy:
            self._busy = True
            self._loop.call_soon(self._flush)

    async def stop(self) -> None:
        if not self._thread.is_alive() and self._thread.ident is None:
            return  # never started
        if not self._idle:
            self._drained = self._loop.create_future()
            await self._drained
        self._jobs.put(None)
        await self._stopped
        if self._sync is not None:
            self._sync.close()

    def _flush(self) -> None:
        """On the loop: start the next batch (everything queued, up to MAX_BATCH)."""
        if self._checkpointing:  # the thread has the connection; it calls _flush when done
            return
        if self._since_checkpoint >= CHECKPOINT_EVERY:  # copy the WAL into the database file, in
            self._since_checkpoint = 0                  # the thread; writes wait, the loop does not
            self._checkpointing = True
            self._jobs.put(_CHECKPOINT)
            return
        pending = self._pending
        if not pending:
            self._busy = False
            self._check_drained()
            return
        if self._inflight is not None:
            # A WAL sync is running: the next batch starts when it ends. Its callers would wait for
            # that sync and then their own either way; meanwhile more writes join the batch, and
            # fewer, larger batches cost the event loop less.
            self._held = True
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
            if _committed(outcomes):
                if self._sync is not None:  # COMMIT here (no fsync in it); answered after the WAL sync
                    ended = _commit(conn, outcomes)
                    if isinstance(ended, BaseException):
                        self._loop.call_soon(self._done, batch, ended, started)
                        return
                    self._settle(batch, outcomes, started)
                    self._loop.call_soon(self._flush)  # (held until the sync ends, if one runs)
                    return
                self._jobs.put((batch, units, outcomes, started))  # the COMMIT, in the thread
                return
            _finish(conn, outcomes)  # every unit refused: nothing to commit, no fsync to wait for
            self._loop.call_soon(self._done, batch, outcomes, started)
        else:
            self._jobs.put((batch, units, None, started))

    def _done(self, batch: list[Any], outcomes: Any, started: float) -> None:
        """On the loop: deliver a finished batch (after the WAL sync, with one), then start the next."""
        try:
            if self._sync is not None:
                self._settle(batch, outcomes, started)
            else:
                self._deliver(batch, outcomes, time.perf_counter() - started)
        finally:  # a failing hook must not stop the writer
            self._flush()

    # --- group commit's sync (with a WalSync) -----------------------------------------------------
    def _settle(self, batch: list[Any], outcomes: Any, started: float) -> None:
        """A finished batch is answered in commit order, a committed one only once a WAL sync that
        began after its COMMIT has ended."""
        committed = _committed(outcomes)
        if not committed and self._inflight is None and not self._unsynced:
            self._deliver(batch, outcomes, time.perf_counter() - started)
            return
        self._unsynced.append((batch, outcomes, started))
        self._since_checkpoint += committed
        self._next_sync()

    def _next_sync(self) -> None:
        if self._inflight is not None or not self._unsynced:
            return
        entries, self._unsynced = self._unsynced, []
        if self.broken is not None:  # a batch that was under way when a sync failed
            for batch, _, _ in entries:
                self._deliver(batch, self.broken, 0.0)
            return
        if not any(_committed(outcomes) for _, outcomes, _ in entries):  # refusals waiting behind a
            self._answer(entries)                                       # sync that has ended: no new one
            return
        assert self._sync is not None
        self._inflight = entries
        self._sync.sync()

    def _synced(self, exc: BaseException | None) -> None:
        """On the loop: the sync of `_inflight` ended."""
        entries, self._inflight = self._inflight or [], None
        if exc is not None:
            self._fail(entries, exc)
            return
        self._answer(entries)
        self._next_sync()
        if self._held:
            self._held = False
            self._flush()
        self._check_drained()

    def _checkpointed(self) -> None:
        self._checkpointing = False
        self._flush()

    def _answer(self, entries: list[tuple[Any, Any, float]]) -> None:
        for batch, outcomes, started in entries:
            self._deliver(batch, outcomes, time.perf_counter() - started)

    def _fail(self, entries: list[tuple[Any, Any, float]], exc: BaseException) -> None:
        """A WAL sync failed: the disk may have lost anything committed since the last good sync.
        Every waiting caller gets the error, and no write is accepted any more (restart needed)."""
        log.error("writes could not be made durable: %s; no more writes are accepted", exc)
        self.broken = Unavailable(f"The database could not make writes durable ({exc}); restart the server")
        entries = entries + self._unsynced
        self._unsynced = []
        pending, self._pending = list(self._pending), collections.deque()
        for batch, _, _ in entries:
            self._deliver(batch, self.broken, 0.0)
        for _, _, fut in pending:
            if not fut.done():
                fut.set_exception(self.broken)
        if self._held:  # nothing left to run: let the writer go idle (and `stop` finish)
            self._held = False
            self._flush()
        self._check_drained()

    @property
    def _idle(self) -> bool:
        """No batch queued, running, or waiting for a sync."""
        return not (self._busy or self._pending or self._inflight is not None or self._unsynced)

    def _check_drained(self) -> None:
        if self._idle and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

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
            self._post(_resolve, self._started, exc, None)
            self._post(_resolve, self._stopped, None, None)
            return
        self._conn = conn
        self._post(_resolve, self._started, None, version)
        try:
            while (job := self._jobs.get()) is not None:
                if job is _CHECKPOINT:
                    _checkpoint(conn)
                    self._post(self._checkpointed)
                    continue
                batch, units, outcomes, started = job
                if outcomes is None:
                    try:
                        outcomes = _run_batch(conn, units, _begin_waiting)
                    except BaseException as exc:  # (rolled back) handed to every caller of the batch
                        self._post(self._done, batch, exc, started)
                        continue
                self._post(self._done, batch, _commit(conn, outcomes), started)
        finally:
            conn.close()
            self._post(_resolve, self._stopped, None, None)


def _checkpoint(conn: sqlite3.Connection) -> None:
    """A PASSIVE checkpoint (no write runs meanwhile, so it copies the whole WAL and the next write
    starts the WAL over). With synchronous=NORMAL it syncs the WAL before and the database after."""
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error as exc:  # readers, or another program: the next one catches up
        log.warning("WAL checkpoint failed: %s", exc)


def _resolve(fut: asyncio.Future[Any], exc: BaseException | None, value: Any) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(value)


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


def _committed(outcomes: list[tuple[bool, Any, list[Any]]] | BaseException) -> bool:
    """Did a unit of the batch succeed (so its transaction commits)?"""
    return not isinstance(outcomes, BaseException) and any(ok for ok, _, _ in outcomes)


def _finish(conn: sqlite3.Connection, outcomes: list[tuple[bool, Any, list[Any]]]) -> None:
    """End the transaction `_run_batch` left open, if any: COMMIT if a unit succeeded, else
    ROLLBACK (a batch of refused units wrote nothing)."""
    if conn.in_transaction:
        conn.execute("COMMIT" if _committed(outcomes) else "ROLLBACK")


def _commit(conn: sqlite3.Connection, outcomes: list[tuple[bool, Any, list[Any]]]) -> Any:
    """`_finish`, returning the outcomes, or the exception if the COMMIT failed: then the
    transaction is rolled back and nobody's write happened."""
    try:
        _finish(conn, outcomes)
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        return exc
    return outcomes


def _integrity(exc: sqlite3.IntegrityError) -> ColoniesError:
    from ..errors import BadRequest

    return BadRequest(f"Constraint violated: {exc}")
