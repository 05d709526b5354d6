"""PostgreSQL backend (layer L2): the same `write(fn)` / `read(fn)` seam as the SQLite Database.

Why sync psycopg in worker threads rather than async psycopg: units of work are plain sync
functions `fn(tx, *args)` shared with the SQLite backend (whose writer runs them in a thread),
so the domain keeps one code path. Each unit runs in its own transaction (READ COMMITTED) on a
connection from a psycopg_pool pool, in a thread of an executor as large as the pool; rows a
write unit reads and then changes are locked (`tx.lock`, see storage/dialects/postgres.py).
A unit failing with a serialization failure or deadlock is rolled back and run again; its
events are published only after its final COMMIT.

Replicas: `notify()` sends wake-ups on a connection of its own, outside data transactions;
`Listener` receives them on another (reconnecting, and saying so); leases elect the replica that
runs leader-only work. Time comes from the database clock (`now()`), so replica clocks never
decide a deadline or a lease.

psycopg is imported lazily: SQLite users and the zipapp never need it.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ..clock import now_ns
from ..errors import BadRequest, ColoniesError, Unavailable
from .db import Params
from .dialects import postgres as postgres_sql

T = TypeVar("T")
log = logging.getLogger("colonies")
CHANNEL = "colonies"
LISTENER_NAME = "colonies-listener"  # application_name of the LISTEN connections (pg_stat_activity)
MAX_RETRIES = 20
_MIGRATION_LOCK = 0x636F6C6F  # advisory lock key: one replica migrates at a time


class DatabaseUnavailable(ColoniesError):
    """The PostgreSQL database cannot be reached or used"""

    status = 503


def describe(url: str) -> str:
    """`user@host:port/db` of a URL, without the password (for messages and logs)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = parts.port or 5432
        user = f"{parts.username}@" if parts.username else ""
        return f"{user}{host}:{port}{parts.path or '/'}"
    except ValueError:
        return "(unparseable URL)"


def _import_psycopg() -> Any:
    try:
        import psycopg
        import psycopg_pool  # noqa: F401
    except ImportError as exc:
        raise DatabaseUnavailable(
            "PostgreSQL support needs psycopg 3 and psycopg_pool: pip install 'colonies-py[postgres]' "
            f"({exc})") from exc
    return psycopg


def connect_error(url: str, exc: BaseException) -> DatabaseUnavailable:
    """One clear line for a URL that does not lead to a usable database."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DatabaseUnavailable(f"cannot connect to PostgreSQL at {describe(url)}: {first}")


def check(url: str, timeout: float = 10.0) -> str:
    """Connect once and return the server version; raises DatabaseUnavailable with one line."""
    psycopg = _import_psycopg()
    if not url.startswith(("postgresql://", "postgres://")):
        raise DatabaseUnavailable("the database URL must look like postgresql://user:password@host:port/db")
    try:
        with psycopg.connect(url, connect_timeout=max(int(timeout), 1), autocommit=True) as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])
    except psycopg.Error as exc:
        raise connect_error(url, exc) from None


@functools.lru_cache(maxsize=4096)
def _pg(sql: str) -> str:
    """Portable SQL (`?` placeholders) → psycopg (`%s`; a literal % doubled). A `LIMIT ?` keeps
    SQLite's meaning of a negative limit (no limit), which PostgreSQL would refuse."""
    sql = sql.replace("%", "%%").replace("LIMIT ?", "LIMIT NULLIF(GREATEST(?::bigint, -1), -1)")
    return sql.replace("?", "%s")


def _params(params: Params) -> list[Any]:
    # msgspec JSON comes as bytes; the columns are TEXT (as in SQLite), so send text
    return [p.decode() if isinstance(p, bytes | bytearray) else p for p in params]


class PgTx:
    """What a unit of work sees on PostgreSQL: the same methods as the SQLite `Tx`."""

    __slots__ = ("conn", "events", "lock", "lock_skip")
    sql = postgres_sql

    def __init__(self, conn: Any, writing: bool) -> None:
        self.conn = conn
        self.events: list[Any] = []
        self.lock = postgres_sql.LOCK if writing else ""
        self.lock_skip = postgres_sql.LOCK_SKIP if writing else ""

    def one(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self.conn.execute(_pg(sql), _params(params)).fetchone()
        return row

    def all(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self.conn.execute(_pg(sql), _params(params)).fetchall()
        return rows

    def run(self, sql: str, params: Params = ()) -> int:
        """Execute a statement; returns the number of changed rows."""
        count: int = self.conn.execute(_pg(sql), _params(params)).rowcount
        return count

    def many(self, sql: str, seq: Sequence[Params]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(_pg(sql), [_params(p) for p in seq])

    @contextlib.contextmanager
    def nested(self) -> Iterator[None]:
        """A part of a unit that, if it raises, is undone alone (a savepoint; its events too)."""
        mark = len(self.events)
        try:
            with self.conn.transaction():
                yield
        except BaseException:
            del self.events[mark:]
            raise


def migrate(conn: Any) -> int:
    """Apply migrations/postgres/*.sql not yet applied, under an advisory lock (replicas may
    start together); each migration and its record commit together. Returns the version."""
    files = sorted(
        (f for f in resources.files(__package__).joinpath("migrations").joinpath("postgres").iterdir()
         if f.name.endswith(".sql")),
        key=lambda f: f.name,
    )
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [_MIGRATION_LOCK])
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                     "applied TIMESTAMPTZ NOT NULL DEFAULT now())")
        current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
        for f in files:
            version = int(f.name.split("_", 1)[0])
            if version <= current:
                continue
            conn.execute(f.read_text(encoding="utf-8"))  # no parameters: sent as one simple query
            conn.execute("INSERT INTO schema_migrations(version) VALUES (%s)", [version])
            current = version
    return int(current)


class PgDatabase:
    """Open with `await PgDatabase.open(url)`; then `await db.write(fn, ...)` / `db.read(fn, ...)`."""

    replicated = True
    recheck_seconds = 1.5  # parked assigners look again this often: a lost NOTIFY costs latency only

    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = url
        self.pool_size = max(pool_size, 2)
        self._pool: Any = None
        self._executor = ThreadPoolExecutor(max_workers=self.pool_size, thread_name_prefix="colonies-pg")
        self._notify_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="colonies-pg-notify")
        self._notify_conn: Any = None
        self._closed = False
        self._offset = 0
        self.on_commit: Callable[[list[Any]], None] | None = None
        self.on_batch: Callable[[int, float], None] | None = None
        self.schema_version = 0
        self.retries = 0  # units run again after a serialization failure or deadlock

    @classmethod
    async def open(cls, url: str, pool_size: int = 10) -> PgDatabase:
        db = cls(url, pool_size)
        try:
            await asyncio.get_running_loop().run_in_executor(db._executor, db._open)
        except BaseException:
            await db.close()
            raise
        return db

    def _open(self) -> None:
        psycopg = _import_psycopg()
        from psycopg_pool import ConnectionPool

        check(self.url)
        try:
            with psycopg.connect(self.url, autocommit=True) as conn:
                self.schema_version = migrate(conn)
        except psycopg.Error as exc:
            raise DatabaseUnavailable(f"cannot migrate the PostgreSQL database {describe(self.url)}: "
                                      f"{str(exc).strip().splitlines()[0]}") from None
        self._pool = ConnectionPool(self.url, min_size=2, max_size=self.pool_size, open=False,
                                    kwargs={"autocommit": True}, name="colonies", timeout=30.0)
        self._pool.open(wait=True, timeout=30.0)
        self.sync_clock()

    # --- clock ------------------------------------------------------------------------------------
    def sync_clock(self) -> None:
        """Measure the database clock against ours (midpoint of a round trip)."""
        with self._pool.connection() as conn:
            t0 = now_ns()
            db_ns = conn.execute("SELECT (extract(epoch FROM clock_timestamp()) * 1000000000)::bigint").fetchone()[0]
            t1 = now_ns()
        self._offset = int(db_ns) - (t0 + t1) // 2

    def now(self) -> int:
        """Unix nanoseconds on the database's clock (all replicas agree on deadlines)."""
        return now_ns() + self._offset

    # --- units of work ----------------------------------------------------------------------------
    def start_write(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """`write`, started now as a task: the future gets its outcome."""
        return asyncio.ensure_future(self.write(fn, *args))

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(tx, *args) as one transaction; returns its result after COMMIT."""
        if self._closed:
            raise RuntimeError("database is closed")
        started = time.perf_counter()
        value, events = await asyncio.get_running_loop().run_in_executor(self._executor, self._run, fn, args, True)
        if self.on_batch is not None:  # metrics: one unit per transaction here, and its latency
            self.on_batch(1, time.perf_counter() - started)
        if events and self.on_commit is not None:
            try:
                self.on_commit(events)
            except Exception:  # a broken subscriber must not fail a committed write
                log.exception("on_commit hook failed")
        return value

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(tx, *args) in one read-only transaction."""
        if self._closed:
            raise RuntimeError("database is closed")
        value, _ = await asyncio.get_running_loop().run_in_executor(self._executor, self._run, fn, args, False)
        return value

    read_point = read  # SQLite reads some points on the event loop; here every read is a round trip

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...], writing: bool) -> tuple[T, list[Any]]:
        import psycopg
        from psycopg import errors as pgerr

        for attempt in range(MAX_RETRIES):
            try:
                with self._pool.connection() as conn, conn.transaction():
                    if not writing:
                        conn.execute("SET TRANSACTION READ ONLY")
                    tx = PgTx(conn, writing)
                    value = fn(tx, *args)
                return value, tx.events
            except (pgerr.SerializationFailure, pgerr.DeadlockDetected):
                self.retries += 1
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
            except psycopg.IntegrityError as exc:
                raise BadRequest(f"Constraint violated: {str(exc).strip().splitlines()[0]}") from None
            except psycopg.OperationalError as exc:
                raise Unavailable(f"Database unavailable: {str(exc).strip().splitlines()[0]}") from None
            except Exception as exc:
                if _pool_timeout(exc):
                    raise Unavailable("Database unavailable: no connection available in time") from None
                raise
        raise Unavailable("Database busy: the unit of work kept conflicting with others; try again")

    # --- replicas ---------------------------------------------------------------------------------
    async def notify(self, payloads: list[str]) -> None:
        """Send NOTIFYs on a connection of our own, outside any data transaction (so writes do
        not queue on NOTIFY's commit lock), as one round trip."""
        if payloads and not self._closed:
            await asyncio.get_running_loop().run_in_executor(self._notify_executor, self._notify, payloads)

    def _notify(self, payloads: list[str]) -> None:
        import psycopg

        for attempt in range(2):
            try:
                if self._notify_conn is None or self._notify_conn.closed:
                    self._notify_conn = psycopg.connect(self.url, autocommit=True)
                with self._notify_conn.cursor() as cur:
                    cur.execute("SELECT " + ", ".join(["pg_notify(%s, %s)"] * len(payloads)),
                                [v for p in payloads for v in (CHANNEL, p)])
                return
            except psycopg.Error:
                if self._notify_conn is not None:
                    self._notify_conn.close()
                self._notify_conn = None
                if attempt:
                    raise

    def listener(self, on_payload: Callable[[str], None], on_reconnect: Callable[[], None]) -> Listener:
        return Listener(self.url, on_payload, on_reconnect)

    async def acquire_lease(self, name: str, holder: str, ttl: float) -> bool:
        """Take or renew the lease `name` for `ttl` seconds of database time; True if we hold it."""
        return await self.write(_acquire, name, holder, ttl)

    async def release_lease(self, name: str, holder: str) -> None:
        await self.write(_release, name, holder)

    async def lease_holder(self, name: str) -> str:
        return await self.read(_holder, name)

    def stats(self) -> dict[str, int]:
        """Pool figures (psycopg_pool's get_stats: pool_size, pool_available, requests_waiting, …)
        and units run again after a conflict, for monitoring."""
        figures = dict(self._pool.get_stats()) if self._pool is not None else {}
        figures["tx_retries"] = self.retries
        return figures

    async def close(self) -> None:
        """Finish running units, close the pool and connections. Idempotent."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._executor.shutdown, True)
        await loop.run_in_executor(None, self._notify_executor.shutdown, True)
        if self._notify_conn is not None:
            self._notify_conn.close()
        if self._pool is not None:
            await loop.run_in_executor(None, self._pool.close)


def _pool_timeout(exc: Exception) -> bool:
    return type(exc).__name__ == "PoolTimeout"


def _acquire(tx: PgTx, name: str, holder: str, ttl: float) -> bool:
    row = tx.one(
        "INSERT INTO leases(name, holder, expires, since) VALUES (?, ?, now() + make_interval(secs => ?), now()) "
        "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires, "
        "since = CASE WHEN leases.holder = excluded.holder THEN leases.since ELSE excluded.since END "
        "WHERE leases.holder = excluded.holder OR leases.expires < now() RETURNING holder", (name, holder, float(ttl)))
    return row is not None


def _release(tx: PgTx, name: str, holder: str) -> None:
    tx.run("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))


def _holder(tx: PgTx, name: str) -> str:
    row = tx.one("SELECT holder FROM leases WHERE name = ? AND expires >= now()", (name,))
    return str(row[0]) if row else ""


class Listener:
    """LISTEN on a dedicated connection in a thread of its own; payloads and reconnections are
    handed to the event loop. Checks the link every few seconds and reconnects with backoff."""

    def __init__(self, url: str, on_payload: Callable[[str], None], on_reconnect: Callable[[], None]) -> None:
        self.url = url
        self.on_payload = on_payload
        self.on_reconnect = on_reconnect
        self.reconnects = 0
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._conn: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._main, name="colonies-pg-listen", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        import psycopg

        assert self._loop is not None
        backoff, first = 0.1, True
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=5,
                                     application_name=LISTENER_NAME) as conn:
                    self._conn = conn
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    if not first:
                        self.reconnects += 1
                        self._loop.call_soon_threadsafe(self.on_reconnect)
                    first, backoff = False, 0.1
                    last_ping = time.monotonic()
                    while not self._stop.is_set():
                        for n in conn.notifies(timeout=0.5):
                            self._loop.call_soon_threadsafe(self.on_payload, n.payload)
                        if time.monotonic() - last_ping > 5.0:
                            conn.execute("SELECT 1")
                            last_ping = time.monotonic()
            except Exception as exc:  # the link broke: retry, then tell the owner to re-check everything
                self.connected.clear()
                if self._stop.is_set():
                    break
                log.warning("PostgreSQL listener lost its connection (%s); reconnecting", str(exc).splitlines()[0]
                            if str(exc) else type(exc).__name__)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                first = False
            finally:
                self._conn = None

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
