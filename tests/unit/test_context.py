"""server/context.py: Services before and after the lifespan opens the database."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from colonies_pkg.config import from_env
from colonies_pkg.errors import Unavailable
from colonies_pkg.hub import Hub
from colonies_pkg.server.context import Services
from colonies_pkg.storage import Database


def test_db_before_the_lifespan_opens_it_is_unavailable_not_none(tmp_path: Path) -> None:
    services = Services(from_env({}, data_dir=str(tmp_path)), None, Hub())
    with pytest.raises(Unavailable) as refused:
        services.db.now()
    assert refused.value.status == 503

    async def opened() -> dict[str, int]:
        db = await Database.open(str(tmp_path / "c.db"))
        services.db = db
        try:
            assert services.db is db
            return services.db.stats()
        finally:
            await db.close()

    assert asyncio.run(opened()) == {}  # SQLite: no connection pool figures
