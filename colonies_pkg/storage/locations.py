"""SQL for locations (per colony, unique by name; removed with their colony by the foreign key)."""
from __future__ import annotations

from ..models.location import Location
from .db import DbRow, Tx

_COLS = "locationid, name, colonyname, description, long, lat"


def _location(row: DbRow) -> Location:
    locationid, name, colonyname, description, long, lat = row
    return Location(locationid=locationid, name=name, colonyname=colonyname, description=description, long=long,
                    lat=lat)


def add(tx: Tx, location: Location, now: int) -> None:
    tx.run(f"INSERT INTO locations({_COLS}, added) VALUES (?, ?, ?, ?, ?, ?, ?)",
           (location.locationid, location.name, location.colonyname, location.description, location.long,
            location.lat, now))


def get(tx: Tx, colonyname: str, name: str) -> Location | None:
    row = tx.one(f"SELECT {_COLS} FROM locations WHERE colonyname = ? AND name = ?", (colonyname, name))
    return _location(row) if row else None


def list_in(tx: Tx, colonyname: str) -> list[Location]:
    """A colony's locations in the order they were added."""
    return [_location(r) for r in tx.all(f"SELECT {_COLS} FROM locations WHERE colonyname = ? ORDER BY added, name",
                                         (colonyname,))]


def remove(tx: Tx, colonyname: str, name: str) -> int:
    return tx.run("DELETE FROM locations WHERE colonyname = ? AND name = ?", (colonyname, name))
