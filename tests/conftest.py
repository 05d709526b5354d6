"""Shared fixtures for the unit and storage tiers (tests/e2e has its own conftest).

* ``keys`` -- the docker-compose keypairs of PROTOCOL §2.6 (server, colony, executor) as
  ``Key(prv, id)``; ids are recovered from the keys, never hard-coded here.
* ``db``   -- a migrated ``Database`` on a temp file, driven synchronously: pytest-asyncio is
  not installed, so the fixture owns one event loop and ``db.write(fn, *args)`` /
  ``db.read(fn, *args)`` run the coroutine to completion on it. ``db.run(coro)`` runs any
  other coroutine on the same loop; ``db.database`` is the real object.
* ``pg_cluster`` (session) -- a throw-away PostgreSQL on a free port (tests/pgcluster.py);
  skipped with the reason printed only where no PostgreSQL server binaries are installed.
* ``backend_db`` -- ``db`` once on SQLite and once on a fresh PostgreSQL database: the
  contract tests that every backend must pass use it.
"""
from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `pytest` run without `python -m` from another cwd
    sys.path.insert(0, str(REPO))

from pgcluster import Cluster, find_bindir  # noqa: E402

from colonies_pkg.crypto import id_of_prvkey  # noqa: E402
from colonies_pkg.storage import Database  # noqa: E402


class Key(NamedTuple):
    prv: str
    id: str


class Keys(NamedTuple):
    server: Key
    colony: Key
    executor: Key


def _key(prv: str) -> Key:
    return Key(prv, id_of_prvkey(prv))


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys(
        server=_key("fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d"),
        colony=_key("ba949fa134981372d6da62b6a56f336ab4d843b22c02a4257dcf7d0d73097514"),
        executor=_key("ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"),
    )


class SyncDB:
    """A Database plus the event loop it lives on, usable from plain sync tests."""

    def __init__(self, loop: asyncio.AbstractEventLoop, database: Database) -> None:
        self.loop = loop
        self.database = database

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def write(self, fn: Any, *args: Any) -> Any:
        return self.run(self.database.write(fn, *args))

    def read(self, fn: Any, *args: Any) -> Any:
        return self.run(self.database.read(fn, *args))


def _sync_db(loop: asyncio.AbstractEventLoop, database: Any) -> Iterator[SyncDB]:
    """Hand out an open database on its own loop; close both afterwards."""
    try:
        yield SyncDB(loop, database)
    finally:
        loop.run_until_complete(database.close())
        loop.close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SyncDB]:
    loop = asyncio.new_event_loop()
    yield from _sync_db(loop, loop.run_until_complete(Database.open(str(tmp_path / "colonies.db"))))


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (Debian: apt-get install postgresql); PostgreSQL tests skipped")
    cluster = Cluster(bindir)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def backend_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SyncDB]:
    loop = asyncio.new_event_loop()
    if request.param == "postgres":
        from colonies_pkg.storage.postgres import PgDatabase

        url = request.getfixturevalue("pg_cluster").new_database()
        database: Any = loop.run_until_complete(PgDatabase.open(url, pool_size=4))
    else:
        database = loop.run_until_complete(Database.open(str(tmp_path / "colonies.db")))
    yield from _sync_db(loop, database)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    """A failing test's report shows the log tail of every server process still running."""
    rep = yield
    from server_process import RUNNING

    if rep.failed and RUNNING:
        for srv in list(RUNNING):
            rc = srv.proc.poll() if srv.proc is not None else None
            state = "running" if rc is None else f"EXITED rc={rc}"
            rep.sections.append((f"server log (port {srv.port}, {state})", srv.log_tail()))
    return rep


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Which worker runs what (tests/scheduling.py): whole files, tests/containers and tests/cfs whole."""
    from scheduling import make_scheduler

    return make_scheduler(config, log)
