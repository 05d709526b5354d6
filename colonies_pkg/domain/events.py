"""Events a unit of work records in `tx.events`; published to the in-memory hub after commit."""
from __future__ import annotations

from typing import NamedTuple


class ProcessChanged(NamedTuple):
    """A process entered `state`. WAITING and assignable means: wake assigners of its type."""

    processid: str
    state: int
    colonyname: str
    executortype: str
    assignable: bool = False
    seconds: float = 0.0  # RUNNING: time it waited; closed: time it ran (0 if never started). For metrics.
    reason: str = ""      # WAITING again: "retry" or "executor_gone"; FAILED by a deadline: "max_exec_time"/"max_wait_time"


class ColonyResumed(NamedTuple):
    """Assignments in a colony were resumed (or it was removed): wake every assigner there."""

    colonyname: str


class CronsChanged(NamedTuple):
    """A cron was added, removed or run: the cron scheduler recomputes its next due time."""


class GeneratorPacked(NamedTuple):
    """An argument was packed into a generator with a timeout: the generator loop takes note."""


class ProcessesRemoved(NamedTuple):
    """Processes were deleted: these ids, or (ids empty) any number of processes of the colony."""

    colonyname: str
    processids: tuple[str, ...] = ()


class LogAdded(NamedTuple):
    """A process log line was added: live log views of that process refresh."""

    processid: str
    colonyname: str
