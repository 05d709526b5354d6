"""Colony, User and Statistics shapes (PROTOCOL §5.2, §5.12)."""
from __future__ import annotations

import msgspec


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
    colonies: int = 0
    executors: int = 0
    activeexecutors: int = 0
    unregisteredexecutors: int = 0
    waitingprocesses: int = 0
    runningprocesses: int = 0
    successfulprocesses: int = 0
    failedprocesses: int = 0
    cancelledprocesses: int = 0
    waitingworkflows: int = 0
    runningworkflows: int = 0
    successfulworkflows: int = 0
    failedworkflows: int = 0
    cancelledworkflows: int = 0
