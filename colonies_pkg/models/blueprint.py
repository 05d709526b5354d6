"""Blueprint shapes (CHANNELS_BLUEPRINTS §3): definitions, instances and their history.

The JSON follows the Go structs key for key. Keys Go writes with `omitempty` are `UNSET` here
when empty (normalised in `__post_init__`, so "" / 0 / {} / null from a client are left out of
replies, as Go does); the others are always written, times included (Go's zero time
`0001-01-01T00:00:00Z`). Times sent by a client must be RFC 3339 with a zone. Layer L1.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from .ints import Int64

Time = Annotated[datetime, msgspec.Meta(tz=True)]
ZERO = datetime(1, 1, 1, tzinfo=UTC)


class BlueprintMetadata(msgspec.Struct, kw_only=True):
    name: str = ""
    colonyname: str = ""
    locationname: str | UnsetType = UNSET
    labels: dict[str, str] | UnsetType | None = UNSET
    annotations: dict[str, str] | UnsetType | None = UNSET
    generation: Int64 | UnsetType = UNSET
    createdAt: Time = ZERO
    updatedAt: Time = ZERO
    lastReconciliationProcess: str | UnsetType = UNSET
    lastReconciliationTime: Time = ZERO

    def __post_init__(self) -> None:
        if not self.locationname:
            self.locationname = UNSET
        if not self.labels:
            self.labels = UNSET
        if not self.annotations:
            self.annotations = UNSET
        if not self.generation:
            self.generation = UNSET
        if not self.lastReconciliationProcess:
            self.lastReconciliationProcess = UNSET

    @property
    def location(self) -> str:
        return self.locationname or ""

    @property
    def gen(self) -> int:
        return self.generation or 0


class SchemaProperty(msgspec.Struct, kw_only=True, omit_defaults=True):
    type: str = ""
    description: str = ""
    enum: list[Any] = []
    default: Any = None
    properties: dict[str, SchemaProperty] = {}
    items: SchemaProperty | None = None


class ValidationSchema(msgspec.Struct, kw_only=True, omit_defaults=True):
    type: str = ""
    properties: dict[str, SchemaProperty] = {}
    required: list[str] = []


class BlueprintDefinitionNames(msgspec.Struct, kw_only=True):
    kind: str = ""
    listKind: str = ""
    singular: str = ""
    plural: str = ""
    shortNames: list[str] | UnsetType | None = UNSET

    def __post_init__(self) -> None:
        if not self.shortNames:
            self.shortNames = UNSET


class HandlerSpec(msgspec.Struct, kw_only=True):
    executorType: str = ""
    functionName: str = ""
    reconcileInterval: Int64 | UnsetType = UNSET

    def __post_init__(self) -> None:
        if not self.reconcileInterval:
            self.reconcileInterval = UNSET


class BlueprintDefinitionSpec(msgspec.Struct, kw_only=True):
    group: str = ""
    version: str = ""
    names: BlueprintDefinitionNames = msgspec.field(default_factory=BlueprintDefinitionNames)
    scope: str = ""
    schema: ValidationSchema | UnsetType | None = UNSET
    handler: HandlerSpec = msgspec.field(default_factory=HandlerSpec)

    def __post_init__(self) -> None:
        if self.schema is None:
            self.schema = UNSET


class BlueprintDefinition(msgspec.Struct, kw_only=True):
    blueprintdefinitionid: str = ""
    kind: str = ""
    metadata: BlueprintMetadata = msgspec.field(default_factory=BlueprintMetadata)
    spec: BlueprintDefinitionSpec = msgspec.field(default_factory=BlueprintDefinitionSpec)

    @property
    def reconciles(self) -> bool:
        """Both halves of the handler are set: instances get reconcile processes and a cron."""
        return bool(self.spec.handler.executorType and self.spec.handler.functionName)


class Blueprint(msgspec.Struct, kw_only=True):
    """An instance. There is no `handler` key (Go drops it): the definition picks the reconciler."""

    blueprintid: str = ""
    kind: str = ""
    metadata: BlueprintMetadata = msgspec.field(default_factory=BlueprintMetadata)
    spec: dict[str, Any] | None = None
    status: dict[str, Any] | UnsetType | None = UNSET

    def __post_init__(self) -> None:
        if self.spec is None:
            self.spec = {}
        if not self.status:
            self.status = UNSET


class BlueprintHistory(msgspec.Struct, kw_only=True):
    historyid: str = ""
    blueprintid: str = ""
    kind: str = ""
    namespace: str = ""
    name: str = ""
    generation: Int64 = 0
    spec: dict[str, Any] | None = None
    status: dict[str, Any] | UnsetType | None = UNSET
    timestamp: Time = ZERO
    changedby: str = ""
    changetype: str = ""

    def __post_init__(self) -> None:
        if self.spec is None:
            self.spec = {}
        if not self.status:
            self.status = UNSET
