"""Workflow (process graph) resolution hooks. Standalone processes need nothing here."""
from __future__ import annotations

from ..storage.db import Tx


def on_closed(tx: Tx, now: int, row, state: int) -> None:
    """Called when a process is closed; resolves its graph when it belongs to one."""
    if not row["processgraphid"]:
        return
