"""Log entry shape (PROTOCOL §5.11)."""
from __future__ import annotations

import msgspec


class Log(msgspec.Struct):
    processid: str = ""
    colonyname: str = ""
    executorname: str = ""
    message: str = ""
    timestamp: int = 0
