"""One msgspec Struct per request message, tagged by `msgtype` (PROTOCOL §4).

`MESSAGES` maps each payloadtype to its Struct; `decode(payloadtype, data)` decodes a payload
with a decoder built once at import. Unknown keys are ignored, as the Go server does.
"""
from __future__ import annotations

from typing import Any

import msgspec

from ..models.colony import Colony, User
from ..models.cron import CronRequest, Generator
from ..models.executor import Allocations, Capabilities, Executor, Function
from ..models.file import File
from ..models.ints import Int64
from ..models.process import Attribute, FunctionSpec
from ..models.workflow import WorkflowSpec
from . import blueprints as _blueprints  # noqa: F401  (messages kept in their own modules, registered below)
from . import channels as _channels  # noqa: F401
from . import locations as _locations  # noqa: F401
from .base import Msg as Msg  # re-exported: `messages.Msg` is the base of every message here


# --- server -----------------------------------------------------------------------------------
class VersionMsg(Msg):
    buildversion: str = ""
    buildtime: str = ""


class GetServerInfoMsg(Msg):
    pass


class GetStatisticsMsg(Msg):
    pass


class ChangeServerIdMsg(Msg):
    serverid: str = ""


class GetClusterMsg(Msg):
    pass


# --- colonies ---------------------------------------------------------------------------------
class AddColonyMsg(Msg):
    colony: Colony | None = None


class RemoveColonyMsg(Msg):
    colonyname: str = ""


class GetColoniesMsg(Msg):
    pass


class GetColonyMsg(Msg):
    colonyname: str = ""


class GetColonyStatsMsg(Msg):
    colonyname: str = ""


class ChangeColonyIdMsg(Msg):
    colonyname: str = ""
    colonyid: str = ""


# --- users ------------------------------------------------------------------------------------
class AddUserMsg(Msg):
    user: User | None = None


class GetUsersMsg(Msg):
    colonyname: str = ""


class GetUserMsg(Msg):
    colonyname: str = ""
    name: str = ""


class GetUserByIdMsg(Msg):
    colonyname: str = ""
    userid: str = ""


class RemoveUserMsg(Msg):
    colonyname: str = ""
    name: str = ""


class ChangeUserIdMsg(Msg):
    colonyname: str = ""
    userid: str = ""


# --- executors --------------------------------------------------------------------------------
class AddExecutorMsg(Msg):
    executor: Executor | None = None


class GetExecutorsMsg(Msg):
    colonyname: str = ""


class GetExecutorMsg(Msg):
    colonyname: str = ""
    executorname: str = ""


class GetExecutorByIdMsg(Msg):
    colonyname: str = ""
    executorid: str = ""


class ApproveExecutorMsg(Msg):
    colonyname: str = ""
    executorname: str = ""


class RejectExecutorMsg(Msg):
    colonyname: str = ""
    executorname: str = ""


class RemoveExecutorMsg(Msg):
    colonyname: str = ""
    executorname: str = ""


class ChangeExecutorIdMsg(Msg):
    colonyname: str = ""
    executorid: str = ""


class ReportAllocationMsg(Msg):
    colonyname: str = ""
    executorname: str = ""
    allocations: Allocations | None = None


class UpdateExecutorMsg(Msg):
    colonyname: str = ""
    executorname: str = ""
    capabilities: Capabilities | None = None


# --- functions --------------------------------------------------------------------------------
class AddFunctionMsg(Msg):
    fun: Function | None = None


class GetFunctionsMsg(Msg):
    colonyname: str = ""
    executorname: str = ""


class RemoveFunctionMsg(Msg):
    functionid: str = ""


# --- processes --------------------------------------------------------------------------------
class SubmitFuncSpecMsg(Msg):
    spec: FunctionSpec | None = None


class AssignProcessMsg(Msg):
    colonyname: str = ""
    timeout: Int64 = 0
    availablecpu: str = ""
    availablemem: str = ""


class GetProcessesMsg(Msg):
    colonyname: str = ""
    count: Int64 = 0
    state: Int64 = 0
    executortype: str = ""
    label: str = ""
    initiator: str = ""
    processgraphid: str = ""


class GetProcessMsg(Msg):
    processid: str = ""


class RemoveProcessMsg(Msg):
    processid: str = ""
    all: bool = False


class RemoveAllProcessesMsg(Msg):
    colonyname: str = ""
    state: Int64 = 0


class CloseSuccessfulMsg(Msg):
    processid: str = ""
    out: list[Any] | None = None


class CloseFailedMsg(Msg):
    processid: str = ""
    errors: list[str] | None = None


class SetOutputMsg(Msg):
    processid: str = ""
    out: list[Any] | None = None


class CancelProcessMsg(Msg):
    processid: str = ""


class PauseAssignmentsMsg(Msg):
    colonyname: str = ""


class ResumeAssignmentsMsg(Msg):
    colonyname: str = ""


class GetPauseStatusMsg(Msg):
    colonyname: str = ""


class GetProcessHistMsg(Msg):
    colonyname: str = ""
    executorid: str = ""
    seconds: Int64 = 0
    state: Int64 = 0


# --- workflows --------------------------------------------------------------------------------
class SubmitWorkflowSpecMsg(Msg):
    spec: WorkflowSpec | None = None


class GetProcessGraphMsg(Msg):
    processgraphid: str = ""


class GetProcessGraphsMsg(Msg):
    colonyname: str = ""
    count: Int64 = 0
    state: Int64 = 0


class RemoveProcessGraphMsg(Msg):
    processgraphid: str = ""
    all: bool = False


class RemoveAllProcessGraphsMsg(Msg):
    colonyname: str = ""
    state: Int64 = 0


class CancelProcessGraphMsg(Msg):
    processgraphid: str = ""


class AddChildMsg(Msg):
    processgraphid: str = ""
    parentprocessid: str = ""
    childprocessid: str = ""
    spec: FunctionSpec | None = None
    insert: bool = False


# --- crons and generators ---------------------------------------------------------------------
class AddCronMsg(Msg):
    cron: CronRequest | None = None


class GetCronMsg(Msg):
    cronid: str = ""


class GetCronsMsg(Msg):
    colonyname: str = ""
    count: Int64 = 0


class RemoveCronMsg(Msg):
    cronid: str = ""
    all: bool = False


class RunCronMsg(Msg):
    cronid: str = ""


class AddGeneratorMsg(Msg):
    generator: Generator | None = None


class GetGeneratorMsg(Msg):
    generatorid: str = ""


class ResolveGeneratorMsg(Msg):
    colonyname: str = ""
    generatorname: str = ""


class GetGeneratorsMsg(Msg):
    colonyname: str = ""
    count: Int64 = 0


class PackGeneratorMsg(Msg):
    generatorid: str = ""
    arg: str = ""


class RemoveGeneratorMsg(Msg):
    generatorid: str = ""
    all: bool = False


# --- colonies file system ---------------------------------------------------------------------
class AddFileMsg(Msg):
    file: File | None = None


class GetFileMsg(Msg):
    colonyname: str = ""
    fileid: str | None = ""
    label: str | None = ""
    name: str | None = ""
    latest: bool = False


class GetFilesMsg(Msg):
    colonyname: str = ""
    label: str | None = ""


class GetFileLabelsMsg(Msg):
    colonyname: str = ""
    name: str | None = ""
    exact: bool = False


class RemoveFileMsg(Msg):
    colonyname: str = ""
    fileid: str | None = ""
    label: str | None = ""
    name: str | None = ""


class CreateSnapshotMsg(Msg):
    colonyname: str = ""
    label: str | None = ""
    name: str | None = ""


class GetSnapshotMsg(Msg):
    colonyname: str = ""
    snapshotid: str | None = ""
    name: str | None = ""


class GetSnapshotsMsg(Msg):
    colonyname: str = ""


class RemoveSnapshotMsg(Msg):
    colonyname: str = ""
    snapshotid: str | None = ""
    name: str | None = ""


class RemoveAllSnapshotMsg(Msg):
    colonyname: str = ""


# --- attributes -------------------------------------------------------------------------------
class AddAttributeMsg(Msg):
    attribute: Attribute | None = None


class GetAttributeMsg(Msg):
    attributeid: str = ""


# --- logs -------------------------------------------------------------------------------------
class AddLogMsg(Msg):
    processid: str = ""
    message: str = ""


class AddExecutorLogMsg(Msg):
    colonyname: str = ""
    executorname: str = ""
    message: str = ""


class GetLogsMsg(Msg):
    colonyname: str = ""
    processid: str = ""
    executorname: str = ""
    count: Int64 = 0
    since: Int64 = 0
    latest: bool = False


class SearchLogsMsg(Msg):
    colonyname: str = ""
    text: str = ""
    days: Int64 = 0
    count: Int64 = 0


# --- subscriptions (WebSocket /pubsub only) ---------------------------------------------------
class SubscribeProcessMsg(Msg):
    colonyname: str = ""
    processid: str = ""
    executortype: str = ""
    state: Int64 = 0
    timeout: Int64 = 0


class SubscribeProcessesMsg(Msg):
    colonyname: str = ""
    executortype: str = ""
    state: Int64 = 0
    timeout: Int64 = 0


def _all_messages() -> dict[str, type[Msg]]:
    found: dict[str, type[Msg]] = {}
    stack = list(Msg.__subclasses__())
    while stack:
        cls = stack.pop()
        found[cls.__name__.lower()] = cls
        stack.extend(cls.__subclasses__())
    return found


MESSAGES: dict[str, type[Msg]] = _all_messages()
WEBSOCKET_ONLY = frozenset({"subscribeprocessmsg", "subscribeprocessesmsg", "subscribechannelmsg"})
UNSIGNED = frozenset({"versionmsg", "getserverinfomsg"})
_DECODERS = {name: msgspec.json.Decoder(cls) for name, cls in MESSAGES.items()}


def decode(payloadtype: str, data: bytes) -> Msg:
    """Decode a payload for a known payloadtype; raises msgspec.DecodeError/ValidationError."""
    return _DECODERS[payloadtype].decode(data)
