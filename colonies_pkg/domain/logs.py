"""Process logs (added by the assigned executor), executor logs and log search."""
from __future__ import annotations

from ..clock import ns_after
from ..errors import BadRequest, Forbidden, NotFound
from ..models.log import Log
from ..models.process import ProcessState
from ..storage import executors as executor_store
from ..storage import logs as store
from ..storage import processes as process_store
from ..storage.db import Tx, inline
from . import security
from .events import LogAdded

MAX_LOG_COUNT = 500
MAX_SEARCH_COUNT = 100
MAX_SEARCH_DAYS = 30


@inline
def add_log(tx: Tx, now: int, caller: str, processid: str, message: str) -> None:
    row = process_store.get_row(tx, processid)
    if row is None:
        raise NotFound("Failed to add log, process is nil")
    me = security.require_member(tx, caller, row.colonyname)
    if row.state != ProcessState.RUNNING:
        raise Forbidden("Failed to add log, process is not running")
    if row.assignedexecutorid != caller:
        raise Forbidden("Failed to add log, only the assigned executor may add logs")
    store.add(tx, Log(processid=processid, colonyname=row.colonyname, executorname=me.name, message=message,
                      timestamp=now))
    tx.events.append(LogAdded(processid, row.colonyname))


def add_executor_log(tx: Tx, now: int, caller: str, colonyname: str, executorname: str, message: str) -> None:
    me = security.require_member(tx, caller, colonyname)
    if me.kind != "executor" or me.name != executorname:
        raise Forbidden(f"Failed to add log, only executor {executorname} may add its own logs")
    store.add(tx, Log(processid="", colonyname=colonyname, executorname=executorname, message=message, timestamp=now))


def get_logs(tx: Tx, now: int, caller: str, colonyname: str, processid: str, executorname: str, count: int,
             since: int, latest: bool) -> list[Log]:
    if count > MAX_LOG_COUNT:
        raise Forbidden(f"Count exceeds max log count ({MAX_LOG_COUNT})")
    if executorname:
        security.require_member(tx, caller, colonyname)
        if executor_store.get(tx, colonyname, executorname) is None:
            raise NotFound("Failed to get logs, executor does not exist")
        return store.get(tx, executorname=executorname, count=count, since=since, latest=latest)
    row = process_store.get_row(tx, processid)
    if row is None:
        raise NotFound("Failed to get logs, process does not exist")
    security.require_member(tx, caller, row.colonyname)
    return store.get(tx, processid=processid, count=count, since=since, latest=latest)


def search_logs(tx: Tx, now: int, caller: str, colonyname: str, text: str, days: int, count: int) -> list[Log]:
    security.require_member(tx, caller, colonyname)
    if count > MAX_SEARCH_COUNT:
        raise BadRequest(f"Count exceeds max count ({MAX_SEARCH_COUNT})")
    if days > MAX_SEARCH_DAYS:
        raise BadRequest(f"Days exceeds max days ({MAX_SEARCH_DAYS})")
    return store.search(tx, colonyname, text, ns_after(now, -days * 86_400), count)
