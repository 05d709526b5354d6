"""FunctionSpec, Process and Attribute shapes (PROTOCOL §5.4, §5.5, §5.7).

Incoming specs are decoded leniently where pycolonies sends nulls; `normalize` turns them into
the exact shape that both pycolonies' pydantic models and the Go client accept.
"""
from __future__ import annotations

from enum import IntEnum
from typing import Any

import msgspec

from .ints import Int64


class ProcessState(IntEnum):
    WAITING = 0
    RUNNING = 1
    SUCCESS = 2
    FAILED = 3
    CANCELLED = 4

    @property
    def word(self) -> str:
        """The state as the Go server and CLI write it: "waiting", "running", "successful", ..."""
        return "successful" if self is ProcessState.SUCCESS else self.name.lower()


class AttributeType(IntEnum):
    IN = 0
    OUT = 1
    ERR = 2
    ENV = 3


class GPU(msgspec.Struct):
    name: str = ""
    mem: str = ""
    count: Int64 = 0
    nodecount: Int64 = 0


class Conditions(msgspec.Struct):
    colonyname: str = ""
    executornames: list[str] | None = None
    executortype: str = ""
    locationname: str = ""
    dependencies: list[str] | None = None
    nodes: Int64 = 0
    cpu: str = ""
    processes: Int64 = 0
    processespernode: Int64 = 0
    mem: str = ""
    storage: str = ""
    gpu: GPU | None = None
    walltime: Int64 = 0


class FS(msgspec.Struct):
    mount: str = ""
    snapshots: list[Any] | None = None
    dirs: list[Any] | None = None


class FunctionSpec(msgspec.Struct):
    nodename: str = ""
    funcname: str = ""
    args: list[Any] | None = None
    kwargs: dict[str, Any] | None = None
    priority: Int64 = 0
    maxwaittime: Int64 = 0
    maxexectime: Int64 = 0
    maxretries: Int64 = 0
    conditions: Conditions | None = None
    label: str = ""
    fs: FS | None = None
    env: dict[str, str] | None = None
    channels: list[str] | None = None

    def normalize(self) -> FunctionSpec:
        """Replace nulls by the empty values clients expect; returns self."""
        if self.args is None:
            self.args = []
        if self.env is None:
            self.env = {}
        if self.channels is None:
            self.channels = []
        if self.conditions is None:
            self.conditions = Conditions()
        if self.fs is None:
            self.fs = FS()
        cond = self.conditions
        if cond.dependencies is None:
            cond.dependencies = []
        if cond.gpu is None:
            cond.gpu = GPU()
        return self


class Attribute(msgspec.Struct):
    attributeid: str = ""
    targetid: str = ""
    targetcolonyname: str = ""
    targetprocessgraphid: str = ""
    state: Int64 = 0
    attributetype: Int64 = 0
    key: str = ""
    value: str = ""


class Process(msgspec.Struct):
    """A process as sent on the wire; JSON-valued columns travel as raw JSON."""

    processid: str
    initiatorid: str
    initiatorname: str
    assignedexecutorid: str
    isassigned: bool
    state: Int64
    prioritytime: Int64
    submissiontime: str
    starttime: str
    endtime: str
    waitdeadline: str
    execdeadline: str
    retries: Int64
    attributes: list[Attribute]
    spec: msgspec.Raw
    waitforparents: bool
    parents: msgspec.Raw
    children: msgspec.Raw
    processgraphid: str
    in_: msgspec.Raw = msgspec.field(name="in")
    out: msgspec.Raw = msgspec.Raw(b"[]")
    errors: msgspec.Raw = msgspec.Raw(b"[]")
