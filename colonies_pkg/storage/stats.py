"""Fleet-wide aggregates for the metrics exporter and the dashboard: counts grouped by colony,
executor type and state, and the assignable queue with its oldest submission time.

One read transaction (`snapshot`) so that every number in a refresh is from the same instant.
"""
from __future__ import annotations

from typing import NamedTuple

from .db import Tx


class Snapshot(NamedTuple):
    colonies: int
    paused: list[str]
    # (colony, executortype, state) -> count
    processes: dict[tuple[str, str, int], int]
    # (colony, executortype) -> (assignable waiting count, oldest submissiontime ns)
    queues: dict[tuple[str, str], tuple[int, int]]
    # (colony, executortype, state) -> count
    executors: dict[tuple[str, str, int], int]
    # (colony, state) -> count
    workflows: dict[tuple[str, int], int]


def snapshot(tx: Tx) -> Snapshot:
    colonies = tx.all("SELECT name, paused FROM colonies")
    processes = {(r[0], r[1], r[2]): r[3] for r in tx.all(
        "SELECT colonyname, executortype, state, COUNT(*) FROM processes GROUP BY colonyname, executortype, state")}
    queues = {(r[0], r[1]): (r[2], r[3]) for r in tx.all(
        "SELECT colonyname, executortype, COUNT(*), MIN(submissiontime) FROM processes "
        "WHERE state = 0 AND isassigned = 0 AND waitforparents = 0 GROUP BY colonyname, executortype")}
    executors = {(r[0], r[1], r[2]): r[3] for r in tx.all(
        "SELECT colonyname, executortype, state, COUNT(*) FROM executors GROUP BY colonyname, executortype, state")}
    workflows = {(r[0], r[1]): r[2] for r in tx.all(
        "SELECT colonyname, state, COUNT(*) FROM processgraphs GROUP BY colonyname, state")}
    return Snapshot(len(colonies), [r[0] for r in colonies if r[1]], processes, queues, executors, workflows)
