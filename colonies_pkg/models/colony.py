"""Colony, User and Statistics shapes (PROTOCOL §5.2, §5.12)."""
from __future__ import annotations

import msgspec

from .ints import Int64


class Colony(msgspec.Struct):
    colonyid: str = ""
    name: str = ""


class User(msgspec.Struct):
    colonyname: str = ""
    userid: str = ""
    name: str = ""
    email: str = ""
    phone: str = ""


class Statistics(msgspec.Struct):
    colonies: Int64 = 0
    executors: Int64 = 0
    activeexecutors: Int64 = 0
    unregisteredexecutors: Int64 = 0
    waitingprocesses: Int64 = 0
    runningprocesses: Int64 = 0
    successfulprocesses: Int64 = 0
    failedprocesses: Int64 = 0
    cancelledprocesses: Int64 = 0
    waitingworkflows: Int64 = 0
    runningworkflows: Int64 = 0
    successfulworkflows: Int64 = 0
    failedworkflows: Int64 = 0
    cancelledworkflows: Int64 = 0
