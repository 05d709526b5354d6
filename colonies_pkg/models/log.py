"""Log entry shape (PROTOCOL §5.11)."""
from __future__ import annotations

import msgspec

from .ints import Int64


class Log(msgspec.Struct):
    processid: str = ""
    colonyname: str = ""
    executorname: str = ""
    message: str = ""
    timestamp: Int64 = 0
