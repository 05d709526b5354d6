"""Location: a named deployment site of a colony (Go `core.Location`)."""
from __future__ import annotations

import msgspec


class Location(msgspec.Struct):
    locationid: str = ""
    name: str = ""
    colonyname: str = ""
    description: str = ""
    long: float = 0.0
    lat: float = 0.0
