"""storage/db.py: the single-writer Database with group commit (one SAVEPOINT per unit),
reader connections, pragmas, migrations, shutdown, commit hooks and durability of acks.

Async code runs with asyncio.run inside sync tests (pytest-asyncio is not installed)."""
from __future__ import annotations

import asyncio
import functools
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from colonies_pkg.errors import BadRequest
from colonies_pkg.storage import Database, Tx
from colonies_pkg.storage import db as dbmod

from .conftest import all_items, create_items, insert, insert_inline, opened

REPO = Path(__file__).resolve().parents[2]


def latest_migration() -> int:
    files = resources.files("colonies_pkg.storage").joinpath("migrations").joinpath("sqlite").iterdir()
    return max(int(f.name.split("_", 1)[0]) for f in files if f.name.endswith(".sql"))


# --- units of work used below (and create_items, insert, insert_inline, all_items, opened from conftest)
def insert_then_fail(tx: Tx, n: int) -> None:
    tx.events.append(("inserted", n))
    tx.run("INSERT INTO items(n) VALUES (?)", (n,))
    raise ValueError(f"unit {n} failed after writing")


def create_counter(tx: Tx) -> None:
    tx.run("CREATE TABLE counter (id INTEGER PRIMARY KEY CHECK (id = 1), v INTEGER NOT NULL)")
    tx.run("INSERT INTO counter(id, v) VALUES (1, 0)")


def increment(tx: Tx) -> int:
    # A read-modify-write in Python: only correct if units never interleave.
    v = tx.one("SELECT v FROM counter")[0]
    tx.run("UPDATE counter SET v = ?", (v + 1,))
    return v + 1


def counter_value(tx: Tx) -> int:
    return tx.one("SELECT v FROM counter")[0]


def pragma(tx: Tx, name: str) -> Any:
    return tx.one(f"PRAGMA {name}")[0]


# --- connections and pragmas ----------------------------------------------------------------
def test_readers_are_wal_with_foreign_keys(tmp_path: Path) -> None:
    async def main() -> tuple[list[Any], list[Any], Any, Any]:
        db = await Database.open(str(tmp_path / "c.db"))
        try:
            modes = [await db.read(pragma, "journal_mode") for _ in range(6)]  # round-robin over readers
            fks = [await db.read(pragma, "foreign_keys") for _ in range(6)]
            return modes, fks, await db.write(pragma, "foreign_keys"), await db.read(pragma, "busy_timeout")
        finally:
            await db.close()

    modes, fks, writer_fk, busy = asyncio.run(main())
    assert modes == ["wal"] * 6
    assert fks == [1] * 6
    assert writer_fk == 1
    assert busy > 0
    assert sqlite3.connect(tmp_path / "c.db").execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent


def test_default_durability_is_a_synced_wal_before_every_answer(tmp_path: Path) -> None:
    """FULL by default: an acknowledged write survives power loss too. The writer commits with
    synchronous=NORMAL and a helper process syncs the WAL before any answer (storage/walsync.py)."""
    async def main() -> tuple[str, str, int]:
        db = await Database.open(str(tmp_path / "c.db"))
        try:
            return db.synchronous, db.sync_mode, await db.write(pragma, "synchronous")
        finally:
            await db.close()

    assert asyncio.run(main()) == ("FULL", "helper", 1)


def test_configured_normal_is_left_to_sqlite(tmp_path: Path) -> None:
    async def main() -> tuple[str, int]:
        db = await Database.open(str(tmp_path / "c.db"), synchronous="NORMAL")
        try:
            return db.sync_mode, await db.write(pragma, "synchronous")
        finally:
            await db.close()

    assert asyncio.run(main()) == ("none", 1)


def test_readers_cannot_write(db) -> None:
    db.write(create_items)
    with pytest.raises(sqlite3.OperationalError):
        db.read(insert, 1)
    assert db.read(all_items) == []


def test_foreign_keys_are_enforced(db) -> None:
    def orphan_user(tx: Tx) -> None:
        tx.run("INSERT INTO users(colonyname, name, userid) VALUES ('nope', 'u', 'id')")

    with pytest.raises(BadRequest):  # IntegrityError becomes a 400
        db.write(orphan_user)


FAILED_OPEN_SCRIPT = textwrap.dedent("""
    import asyncio, sys
    sys.path.insert(0, sys.argv[1])
    from colonies_pkg.storage import Database

    try:
        asyncio.run(Database.open(":memory:"))  # in-memory databases report journal_mode=memory
    except RuntimeError as exc:
        print("refused:", exc, flush=True)
    else:
        print("opened", flush=True)
""")


@functools.lru_cache(maxsize=1)
def failed_open() -> tuple[str, bool]:
    """Run Database.open on a path that cannot be WAL in a subprocess: (its output, exited by itself?).

    A subprocess because a leaked non-daemon aiosqlite thread would keep pytest itself alive."""
    with subprocess.Popen([sys.executable, "-c", FAILED_OPEN_SCRIPT, str(REPO)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        try:
            proc.wait(3)
            exited = True
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            exited = False
    return line, exited


def test_refuses_a_path_that_cannot_be_wal() -> None:
    line, _ = failed_open()
    assert line.startswith("refused:") and "WAL" in line


def test_failed_open_leaves_no_thread_behind() -> None:
    _, exited = failed_open()
    assert exited, "the process hung after Database.open failed"


# --- migrations -----------------------------------------------------------------------------
def test_migrate_is_idempotent_and_sets_user_version(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    version = dbmod.migrate(conn)
    assert version == latest_migration() >= 1
    assert conn.execute("PRAGMA user_version").fetchone()[0] == version
    schema = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    assert dbmod.migrate(conn) == version
    assert dbmod.migrate(conn) == version
    assert conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall() == schema
    assert not conn.in_transaction


def test_database_reports_schema_version_and_reopens(tmp_path: Path) -> None:
    async def main() -> tuple[int, int, list[int]]:
        first = await opened(tmp_path / "c.db")
        await first.write(insert, 7)
        v1 = first.schema_version
        await first.close()
        second = await Database.open(str(tmp_path / "c.db"))
        try:
            return v1, second.schema_version, await second.read(all_items)
        finally:
            await second.close()

    v1, v2, items = asyncio.run(main())
    assert v1 == v2 == latest_migration()
    assert items == [7]


# --- units of work and group commit ---------------------------------------------------------
def test_failing_unit_rolls_back_alone_within_a_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    batches: list[int] = []
    real = dbmod._run_batch

    def spy(conn: sqlite3.Connection, units: list[Any], begin: Any) -> Any:
        batches.append(len(units))
        return real(conn, units, begin)

    monkeypatch.setattr(dbmod, "_run_batch", spy)

    async def main() -> tuple[list[Any], list[int]]:
        db = await opened(tmp_path / "c.db")
        try:
            batches.clear()
            results = await asyncio.gather(
                db.write(insert, 1), db.write(insert_then_fail, 2), db.write(insert, 3),
                db.write(insert, 1),  # duplicate key: IntegrityError in its own savepoint only
                db.write(insert, 4), return_exceptions=True)
            return results, await db.read(all_items)
        finally:
            await db.close()

    results, items = asyncio.run(main())
    assert batches == [5], "the five queued writes should share one transaction"
    assert results[0] == 1 and results[2] == 3 and results[4] == 4
    assert isinstance(results[1], ValueError) and "unit 2" in str(results[1])
    assert isinstance(results[3], BadRequest) and results[3].status == 400
    assert items == [1, 3, 4]


def test_writes_are_serialized(db) -> None:
    db.write(create_counter)

    async def hundred() -> list[int]:
        return await asyncio.gather(*(db.database.write(increment) for _ in range(100)))

    results = db.run(hundred())
    assert sorted(results) == list(range(1, 101))
    assert db.read(counter_value) == 100


def test_read_sees_committed_writes(db) -> None:
    db.write(create_items)
    for n in range(5):
        db.write(insert, n)
        assert db.read(all_items) == list(range(n + 1))


def test_write_returns_value_and_propagates_exception_type(db) -> None:
    db.write(create_items)
    assert db.write(insert, 5, "x") == 5

    class Custom(Exception):
        pass

    def boom(tx: Tx) -> None:
        raise Custom("boom")

    with pytest.raises(Custom):
        db.write(boom)
    assert db.write(insert, 6) == 6  # the writer survives a failing unit


def test_on_commit_gets_events_of_committed_units_only(tmp_path: Path) -> None:
    calls: list[list[Any]] = []

    async def main() -> None:
        db = await opened(tmp_path / "c.db")
        db.on_commit = lambda events: calls.append(list(events))
        try:
            await asyncio.gather(db.write(insert, 1), db.write(insert_then_fail, 2), db.write(insert, 3),
                                 return_exceptions=True)
            await asyncio.gather(db.write(insert_then_fail, 4), return_exceptions=True)  # nothing committed
            await db.write(create_items)  # committed, but no events
        finally:
            await db.close()

    asyncio.run(main())
    assert [ev for batch in calls for ev in batch] == [("inserted", 1), ("inserted", 3)]
    assert all(calls), "on_commit is not called with an empty event list"


def test_broken_on_commit_hook_does_not_stop_the_writer(tmp_path: Path) -> None:
    async def main() -> list[int]:
        db = await opened(tmp_path / "c.db")

        def broken(events: list[Any]) -> None:
            raise RuntimeError("subscriber bug")

        db.on_commit = broken
        try:
            assert await db.write(insert, 1) == 1
            assert await db.write(insert, 2) == 2
            return await db.read(all_items)
        finally:
            await db.close()

    assert asyncio.run(main()) == [1, 2]


def test_broken_on_batch_hook_does_not_stop_the_writer(tmp_path: Path) -> None:
    """The caller of a batch whose metrics hook raised still gets its answer, the commit's events
    still reach on_commit, and later writes run."""
    async def main() -> tuple[list[Any], list[int]]:
        db = await opened(tmp_path / "c.db")

        def broken(units: int, seconds: float) -> None:
            raise RuntimeError("metrics bug")

        db.on_batch = broken
        published: list[Any] = []
        db.on_commit = published.extend
        try:
            first = await asyncio.wait_for(asyncio.gather(db.write(insert, 1), return_exceptions=True), 5)
            assert published == [("inserted", 1)]
            db.on_batch = None
            assert await asyncio.wait_for(db.write(insert, 2), 5) == 2
            return first, await db.read(all_items)
        finally:
            await db.close()

    first, items = asyncio.run(main())
    assert first == [1], "the write whose batch hook failed is still answered"
    assert items == [1, 2]


# --- where units run -------------------------------------------------------------------------
def insert_in_thread(tx: Tx, n: int) -> int:
    return insert(tx, n, str(threading.get_ident()))


def tags(tx: Tx) -> dict[int, str]:
    return {r[0]: r[1] for r in tx.all("SELECT n, tag FROM items")}


def test_inline_units_run_on_the_loop_and_others_in_the_writer_thread(tmp_path: Path) -> None:
    """A batch of inline units runs on the loop; a batch with any other unit runs whole in the
    writer's thread. Either way the batch is one transaction."""
    async def main() -> tuple[dict[int, str], list[int]]:
        db = await opened(tmp_path / "c.db")
        batches: list[int] = []
        db.on_batch = lambda units, seconds: batches.append(units)
        try:
            await asyncio.gather(db.write(insert_inline, 1), db.write(insert_inline, 2))
            await asyncio.gather(db.write(insert_inline, 3), db.write(insert_in_thread, 4), db.write(insert_inline, 5))
            return await db.read(tags), batches
        finally:
            await db.close()

    loop_thread = str(threading.get_ident())
    written, batches = asyncio.run(main())
    assert written[1] == written[2] == loop_thread
    assert loop_thread != written[3] == written[4] == written[5]
    assert batches == [2, 3]


def test_an_outside_write_lock_holds_writes_but_never_the_loop(tmp_path: Path) -> None:
    """Another program holds the write lock: writes wait for it (then succeed); the event loop
    keeps running all the while."""
    async def main() -> tuple[int, bool, int, list[int]]:
        db = await opened(tmp_path / "c.db")
        other = sqlite3.connect(tmp_path / "c.db", isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            write = asyncio.ensure_future(db.write(insert_inline, 1))
            ticks = 0
            for _ in range(20):  # 0.2 s of a loop that must not be blocked
                await asyncio.sleep(0.01)
                ticks += 1
            waiting = not write.done()
            other.execute("ROLLBACK")
            value = await asyncio.wait_for(write, 10)
            return ticks, waiting, value, await db.read(all_items)
        finally:
            other.close()
            await db.close()

    ticks, waiting, value, items = asyncio.run(main())
    assert ticks == 20 and waiting, "the write should wait for the lock while the loop runs"
    assert value == 1 and items == [1]


# --- shutdown -------------------------------------------------------------------------------
def test_close_drains_queued_writes(tmp_path: Path) -> None:
    async def main() -> list[Any]:
        db = await opened(tmp_path / "c.db")
        tasks = [asyncio.create_task(db.write(insert, n)) for n in range(50)]
        await asyncio.sleep(0)  # every write is queued now; none has committed yet
        await db.close()
        assert all(t.done() for t in tasks)
        return [t.result() for t in tasks]

    assert asyncio.run(main()) == list(range(50))
    conn = sqlite3.connect(tmp_path / "c.db")
    assert [r[0] for r in conn.execute("SELECT n FROM items ORDER BY n")] == list(range(50))


def test_close_is_idempotent_and_use_after_close_raises(tmp_path: Path) -> None:
    async def main() -> None:
        db = await opened(tmp_path / "c.db")
        await db.close()
        await db.close()
        with pytest.raises(RuntimeError, match="closed"):
            await db.write(insert, 1)
        with pytest.raises(RuntimeError, match="closed"):
            await db.read(all_items)
        await db.close()

    asyncio.run(main())


def test_concurrent_close_calls(tmp_path: Path) -> None:
    async def main() -> None:
        db = await opened(tmp_path / "c.db")
        pending = asyncio.create_task(db.write(insert, 1))
        await asyncio.sleep(0)
        await asyncio.gather(db.close(), db.close(), db.close())
        assert await pending == 1

    asyncio.run(main())


# --- durability -----------------------------------------------------------------------------
DURABILITY_SCRIPT = textwrap.dedent("""
    import asyncio, itertools, sys
    sys.path.insert(0, sys.argv[2])
    from colonies_pkg.storage import Database
    from colonies_pkg.storage.db import inline

    def create(tx):
        tx.run("CREATE TABLE IF NOT EXISTS acks (n INTEGER PRIMARY KEY)")

    def insert(tx, n):
        tx.run("INSERT INTO acks(n) VALUES (?)", (n,))

    if sys.argv[3] == "inline":  # units on the event loop, the COMMIT in the writer's thread
        insert = inline(insert)

    async def main(path):
        db = await Database.open(path)
        await db.write(create)
        counter = itertools.count()

        async def worker():
            while True:
                n = next(counter)
                await db.write(insert, n)
                print(f"acked {n}", flush=True)

        await asyncio.gather(*(worker() for _ in range(8)))

    asyncio.run(main(sys.argv[1]))
""")


@pytest.mark.parametrize("where", ["inline", "thread"])
def test_acknowledged_writes_survive_sigkill(tmp_path: Path, where: str) -> None:
    """Both writer paths: a batch of inline units (run on the loop, committed in the thread) and a
    batch run whole in the writer's thread."""
    script = tmp_path / "writer.py"
    script.write_text(DURABILITY_SCRIPT)
    path = tmp_path / "durable.db"
    proc = subprocess.Popen([sys.executable, "-u", str(script), str(path), str(REPO), where],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: list[bytes] = []
    ready = threading.Event()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if len(lines) >= 300:
                ready.set()
        ready.set()  # EOF: the writer died (or was killed)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        assert ready.wait(30), "the writer subprocess produced no acks in time"
        assert proc.poll() is None, f"writer exited early: {proc.stderr.read().decode() if proc.stderr else ''}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
    thread.join(10)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    assert proc.returncode == -signal.SIGKILL
    acked = {int(line.split()[1]) for line in lines if line.startswith(b"acked ")}
    assert len(acked) >= 300

    async def reopen() -> tuple[int, str, set[int]]:
        db = await Database.open(str(path))  # recovers from the WAL the killed process left behind
        try:
            check = await db.read(pragma, "integrity_check")
            rows = await db.read(lambda tx: {r[0] for r in tx.all("SELECT n FROM acks")})
            return db.schema_version, check, rows
        finally:
            await db.close()

    version, check, stored = asyncio.run(reopen())
    assert version == latest_migration()
    assert check == "ok"
    missing = acked - stored
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {sorted(missing)[:5]}"
