"""SQLite storage: the Database facade (single writer, reader pool) and per-area SQL modules.
Layer L2: imports errors and models only. SQL lives nowhere else."""
from __future__ import annotations

from .db import Database, Tx

__all__ = ["Database", "Tx"]
