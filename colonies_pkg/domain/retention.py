"""Retention (PROTOCOL §6.9, when COLONIES_RETENTION=true): forget old successful work and old logs.

Failed and cancelled processes and graphs are kept for inspection."""
from __future__ import annotations

from ..storage import logs as log_store
from ..storage import processes as process_store
from ..storage import workflows as graph_store
from ..storage.db import Tx


def apply(tx: Tx, now: int, cutoff: int) -> int:
    """Remove successful processes and graphs submitted, and logs written, before `cutoff`."""
    removed = process_store.remove_finished_before(tx, cutoff)
    for graphid in graph_store.successful_before(tx, cutoff):
        graph_store.remove(tx, graphid)
        removed += 1
    return removed + log_store.remove_before(tx, cutoff)
