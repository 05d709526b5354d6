"""Group commit's WAL sync (storage/walsync.py): nobody is answered before the WAL holding their
write is synced; answers keep commit order; the helper's death or failure is handled."""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from colonies_pkg.errors import BadRequest, Unavailable
from colonies_pkg.storage import Database, Tx, walsync
from colonies_pkg.storage import db as dbmod
from colonies_pkg.storage.db import inline

from .conftest import all_items, create_items, insert, insert_inline, opened


@inline
def refuse(tx: Tx) -> None:
    raise BadRequest("refused")


def helper_pid(db: Database) -> int:
    sync = db._writer._sync  # type: ignore[union-attr]
    assert sync is not None and sync._proc is not None
    return sync._proc.pid


async def settle(seconds: float = 0.3) -> None:
    await asyncio.sleep(seconds)


@pytest.mark.parametrize("unit", [insert_inline, insert], ids=["loop", "thread"])
def test_a_write_is_answered_only_after_the_wal_sync(tmp_path: Path, unit: Any) -> None:
    """The helper stopped (SIGSTOP): the write is committed (another connection sees it) but its
    caller waits, while the event loop keeps running; the helper resumed, the caller is answered."""
    async def main() -> tuple[bool, list[int], int, int]:
        db = await opened(tmp_path / "c.db")
        pid = helper_pid(db)
        os.kill(pid, signal.SIGSTOP)
        try:
            write = asyncio.ensure_future(db.write(unit, 1))
            await settle()
            waiting = not write.done()
            seen = [r[0] for r in sqlite3.connect(tmp_path / "c.db").execute("SELECT n FROM items")]
        finally:
            os.kill(pid, signal.SIGCONT)
        value = await asyncio.wait_for(write, 10)
        items = await db.read(all_items)
        await db.close()
        return waiting, seen, value, len(items)

    waiting, seen, value, count = asyncio.run(main())
    assert waiting, "a write must not be answered before the WAL is synced"
    assert seen == [1]  # committed (visible to readers) while its sync was held
    assert value == 1 and count == 1


def test_writes_during_a_sync_make_one_batch_after_it_answered_in_order(tmp_path: Path) -> None:
    """While a sync runs, the writes that come in wait for it (they are not run yet: another
    connection does not see them) and then run as one batch; every answer keeps the order of the
    writes, a refusal included."""
    async def main() -> tuple[list[str], list[int], list[int], list[int]]:
        db = await opened(tmp_path / "c.db")
        batches: list[int] = []
        db.on_batch = lambda units, seconds: batches.append(units)
        pid = helper_pid(db)
        order: list[str] = []

        async def run(name: str, coro: Any) -> None:
            with contextlib.suppress(BadRequest):
                await coro
            order.append(name)

        os.kill(pid, signal.SIGSTOP)
        try:
            first = asyncio.ensure_future(run("first", db.write(insert_inline, 1)))
            await settle(0.1)
            later = [asyncio.ensure_future(run(f"write{n}", db.write(insert_inline, n))) for n in (2, 3)]
            await settle(0.1)
            refusal = asyncio.ensure_future(run("refusal", db.write(refuse)))
            await settle(0.1)
            seen = [r[0] for r in sqlite3.connect(tmp_path / "c.db").execute("SELECT n FROM items")]
            assert order == [], "nothing may be answered while the first sync is held"
        finally:
            os.kill(pid, signal.SIGCONT)
        await asyncio.wait_for(asyncio.gather(first, *later, refusal), 10)
        items = await db.read(all_items)
        await db.close()
        return order, seen, items, batches

    order, seen, items, batches = asyncio.run(main())
    assert order == ["first", "write2", "write3", "refusal"]
    assert seen == [1], "writes that came in during the sync wait for it"
    assert items == [1, 2, 3]
    assert batches == [1, 3]  # the first write, then the three that came in during its sync


def test_the_helper_killed_hands_the_syncs_to_a_thread(tmp_path: Path) -> None:
    async def main() -> tuple[str, list[int]]:
        db = await opened(tmp_path / "c.db")
        pid = helper_pid(db)
        os.kill(pid, signal.SIGSTOP)
        write = asyncio.ensure_future(db.write(insert_inline, 1))  # its sync is with the helper …
        await settle(0.1)
        os.kill(pid, signal.SIGKILL)  # … which dies: the thread syncs it again
        await asyncio.wait_for(write, 10)
        await asyncio.wait_for(db.write(insert_inline, 2), 10)
        mode = db.sync_mode
        await db.close()
        return mode, [r[0] for r in sqlite3.connect(tmp_path / "c.db").execute("SELECT n FROM items ORDER BY n")]

    assert asyncio.run(main()) == ("thread", [1, 2])


def test_a_failed_sync_fails_the_waiting_writes_and_refuses_new_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sync the disk did not confirm: every caller waiting for it gets 503, and so does every
    later write (nothing since the last good sync can be trusted); reads keep working."""
    monkeypatch.setattr(walsync, "HELPER_CODE",
                        "import os\nwhile os.read(0, 1):\n    os.write(1, b'E[Errno 5] Input/output error')\n    break\n")

    async def main() -> tuple[list[Any], Any, list[int]]:
        db = await Database.open(str(tmp_path / "c.db"))
        try:
            first = await asyncio.gather(db.write(create_items), return_exceptions=True)
            later = await asyncio.gather(db.write(insert_inline, 2), return_exceptions=True)
            return first, later[0], await db.read(lambda tx: [r[0] for r in tx.all("SELECT name FROM sqlite_master")])
        finally:
            await db.close()

    first, later, names = asyncio.run(main())
    assert isinstance(first[0], Unavailable) and first[0].status == 503
    assert "could not make writes durable" in first[0].message and "Input/output error" in first[0].message
    assert isinstance(later, Unavailable) and later.status == 503
    assert isinstance(names, list)


def test_a_failed_sync_with_a_batch_waiting_for_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sync fails while the next write waits for it: both get 503, and close still ends."""
    monkeypatch.setattr(walsync, "HELPER_CODE", "import os, time\nwhile os.read(0, 1):\n    time.sleep(0.3)\n"
                                                "    os.write(1, b'E[Errno 5] Input/output error')\n    break\n")

    async def main() -> list[Any]:
        db = await Database.open(str(tmp_path / "c.db"))
        first = asyncio.ensure_future(db.write(create_items))
        await settle(0.1)  # its sync is running (0.3 s)
        second = asyncio.ensure_future(db.write(insert_inline, 1))
        results = await asyncio.wait_for(asyncio.gather(first, second, return_exceptions=True), 10)
        await asyncio.wait_for(db.close(), 10)
        return results

    results = asyncio.run(main())
    assert all(isinstance(r, Unavailable) and r.status == 503 for r in results), results


def test_close_waits_for_the_sync_under_way(tmp_path: Path) -> None:
    async def main() -> tuple[int, list[int]]:
        db = await opened(tmp_path / "c.db")
        pid = helper_pid(db)
        os.kill(pid, signal.SIGSTOP)
        write = asyncio.ensure_future(db.write(insert_inline, 7))
        await settle(0.1)
        closing = asyncio.ensure_future(db.close())
        await settle(0.1)
        assert not closing.done() and not write.done()
        os.kill(pid, signal.SIGCONT)
        await asyncio.wait_for(closing, 10)
        return write.result(), [r[0] for r in sqlite3.connect(tmp_path / "c.db").execute("SELECT n FROM items")]

    assert asyncio.run(main()) == (7, [7])


@pytest.mark.parametrize("every", [10, 10_000])
def test_the_wal_is_checkpointed_in_the_writers_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every: int) -> None:
    """SQLite's own checkpoints would run inside a COMMIT, now on the event loop: they are off, and
    the writer's thread checkpoints every CHECKPOINT_EVERY committed batches, so the WAL starts over
    instead of growing (each batch here appends a few 4 KiB pages)."""
    monkeypatch.setattr(dbmod, "CHECKPOINT_EVERY", every)
    threads: list[int] = []
    real = dbmod._checkpoint

    def spy(conn: sqlite3.Connection) -> None:
        threads.append(threading.get_ident())
        real(conn)

    monkeypatch.setattr(dbmod, "_checkpoint", spy)

    async def main() -> tuple[int, int]:
        db = await opened(tmp_path / "c.db")
        try:
            for n in range(300):
                await db.write(insert_inline, n)
            return os.path.getsize(tmp_path / "c.db-wal"), await db.write(lambda tx: tx.one("PRAGMA wal_autocheckpoint")[0])
        finally:
            await db.close()

    wal_bytes, autocheckpoint = asyncio.run(main())
    assert autocheckpoint == 0
    if every == 10:
        assert len(threads) >= 29 and threading.get_ident() not in threads
        assert wal_bytes < 600_000, wal_bytes
    else:  # the control: without checkpoints the same writes leave a WAL several times larger
        assert threads == [] and wal_bytes > 1_000_000, wal_bytes


def test_many_writers_with_frequent_checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Concurrent writes while syncs and checkpoints (in the writer's thread, on the same
    connection) keep coming: every write is answered once and is there."""
    monkeypatch.setattr(dbmod, "CHECKPOINT_EVERY", 3)
    checkpoints: list[int] = []
    real = dbmod._checkpoint

    def spy(conn: sqlite3.Connection) -> None:
        checkpoints.append(1)
        real(conn)

    monkeypatch.setattr(dbmod, "_checkpoint", spy)

    async def main() -> tuple[list[int], list[int]]:
        db = await opened(tmp_path / "c.db")
        try:
            async def writer(w: int) -> list[int]:
                return [await db.write(insert_inline if n % 3 else insert, w * 1000 + n) for n in range(20)]

            answered = [n for ns in await asyncio.gather(*(writer(w) for w in range(30))) for n in ns]
            return answered, await db.read(all_items)
        finally:
            await db.close()

    answered, items = asyncio.run(main())
    expected = sorted(w * 1000 + n for w in range(30) for n in range(20))
    assert sorted(answered) == expected and items == expected
    assert len(checkpoints) >= 5
