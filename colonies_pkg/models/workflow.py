"""WorkflowSpec and ProcessGraph shapes (PROTOCOL §5.8, §5.9)."""
from __future__ import annotations

import msgspec

from .ints import Int64
from .process import FunctionSpec


class WorkflowSpec(msgspec.Struct):
    colonyname: str = ""
    functionspecs: list[FunctionSpec] | None = None


class Position(msgspec.Struct):
    x: Int64 = 0
    y: Int64 = 0


class Node(msgspec.Struct):
    id: str
    data: dict[str, str]
    position: Position
    type: str
    style: dict[str, str]


class Edge(msgspec.Struct):
    id: str
    source: str
    target: str
    animated: bool = False


class ProcessGraph(msgspec.Struct):
    processgraphid: str
    initiatorid: str
    initiatorname: str
    colonyname: str
    rootprocessids: list[str]
    state: Int64
    submissiontime: str
    starttime: str
    endtime: str
    processids: list[str]
    nodes: list[Node] = msgspec.field(default_factory=list)
    edges: list[Edge] = msgspec.field(default_factory=list)
