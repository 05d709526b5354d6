"""Executor and Function shapes (PROTOCOL §5.3, §5.6)."""
from __future__ import annotations

from enum import IntEnum
from typing import Any

import msgspec

from .ints import Int64


class ExecutorState(IntEnum):
    PENDING = 0
    APPROVED = 1
    REJECTED = 2
    UNREGISTERED = 3

    @property
    def word(self) -> str:
        """"pending", "approved", "rejected" or "unregistered"."""
        return self.name.lower()


class Capabilities(msgspec.Struct):
    hardware: list[Any] | None = None
    software: list[Any] | None = None


class Allocations(msgspec.Struct):
    projects: dict[str, Any] | None = None


class Executor(msgspec.Struct, omit_defaults=False):
    executorid: str = ""
    executortype: str = ""
    executorname: str = ""
    colonyname: str = ""
    state: Int64 = 0
    requirefuncreg: bool = False
    commissiontime: str = "0001-01-01T00:00:00Z"
    lastheardfromtime: str = "0001-01-01T00:00:00Z"
    locationname: str = ""
    capabilities: Capabilities = msgspec.field(default_factory=Capabilities)
    allocations: Allocations = msgspec.field(default_factory=Allocations)


class FunctionArg(msgspec.Struct):
    name: str = ""
    type: str = ""
    description: str = ""
    required: bool = False
    enum: list[str] | None = None


class Function(msgspec.Struct):
    functionid: str = ""
    executorname: str = ""
    executortype: str = ""
    colonyname: str = ""
    funcname: str = ""
    description: str = ""
    args: list[FunctionArg] | None = None
    counter: Int64 = 0
    minwaittime: float = 0.0
    maxwaittime: float = 0.0
    minexectime: float = 0.0
    maxexectime: float = 0.0
    avgwaittime: float = 0.0
    avgexectime: float = 0.0
    locationname: str = ""
