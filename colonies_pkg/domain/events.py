"""Events a unit of work records in `tx.events`; published to the in-memory hub after commit."""
from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

_names = msgspec.json.Decoder(list[str])


class Target(NamedTuple):
    """Who may take an assignable process: executor names (empty: any), location ("" = any),
    and the cpu (millicores) and memory (bytes) it needs (0 = nothing)."""

    names: tuple[str, ...] = ()
    location: str = ""
    cpu: int = 0
    mem: int = 0


class ProcessChanged(NamedTuple):
    """A process entered `state`. WAITING and assignable means: wake an assigner of its type that
    may take it (`target`; None = any executor of the type)."""

    processid: str
    state: int
    colonyname: str
    executortype: str
    assignable: bool = False
    seconds: float = 0.0  # RUNNING: time it waited; closed: time it ran (0 if never started). For metrics.
    reason: str = ""      # WAITING again: "retry" or "executor_gone"; FAILED by a deadline: "max_exec_time"/"max_wait_time"
    target: Target | None = None  # assignable: who may take it (None: any executor of the type)


def became_assignable(row: Any, reason: str = "") -> ProcessChanged:
    """The event of a process (a typed row, or a mapping, with the queue columns) that entered the queue."""
    get = row.__getitem__ if isinstance(row, dict) else row.__getattribute__
    names = get("executornames")
    allowed = tuple(_names.decode(names)) if names else ()
    target = None
    if allowed or get("locationname") or get("cpu") or get("mem"):
        target = Target(allowed, get("locationname") or "", get("cpu") or 0, get("mem") or 0)
    return ProcessChanged(get("processid"), 0, get("colonyname"), get("executortype"), True, reason=reason,
                          target=target)


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
