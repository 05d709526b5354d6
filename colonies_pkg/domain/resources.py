"""Parsing of cpu and memory quantities in function specs ("500m", "2", "8Gi", "512MB")."""
from __future__ import annotations

import re

from ..errors import BadRequest

_MEM_UNITS = {
    "": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3, "t": 1000**4,
    "tb": 1000**4, "ki": 1024, "kib": 1024, "mi": 1024**2, "mib": 1024**2, "gi": 1024**3, "gib": 1024**3,
    "ti": 1024**4, "tib": 1024**4,
}
_QTY = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*")


def parse_cpu(value: str) -> int:
    """Millicores: "500m" → 500, "2" → 2000, "" → 0 (unlimited/unset)."""
    if not value:
        return 0
    m = _QTY.fullmatch(value)
    if not m or m.group(2) not in ("", "m"):
        raise BadRequest(f"Invalid cpu quantity {value!r}, use e.g. 500m or 2")
    number = float(m.group(1))
    return int(number) if m.group(2) == "m" else int(number * 1000)


def parse_mem(value: str) -> int:
    """Bytes: "8Gi", "512MB", "1000" → bytes; "" → 0 (unlimited/unset)."""
    if not value:
        return 0
    m = _QTY.fullmatch(value)
    unit = m.group(2).lower() if m else None
    if not m or unit not in _MEM_UNITS:
        raise BadRequest(f"Invalid memory quantity {value!r}, use e.g. 512Mi or 8Gi")
    return int(float(m.group(1)) * _MEM_UNITS[unit])
