"""Wire and storage models (msgspec Structs) shared by rpc, storage and domain. Layer L1."""
from __future__ import annotations

from .colony import Colony, Statistics, User
from .executor import Executor, Function
from .log import Log
from .process import (
    Attribute,
    Conditions,
    FunctionSpec,
    Process,
    ProcessState,
)

__all__ = [
    "Attribute",
    "Colony",
    "Conditions",
    "Executor",
    "Function",
    "FunctionSpec",
    "Log",
    "Process",
    "ProcessState",
    "Statistics",
    "User",
]
