"""Blueprint request messages (CHANNELS_BLUEPRINTS §4), registered with the other messages.

The request keys are Go's, inconsistencies included: the definition get/list messages and the
status update say `colonyname`, the definition remove and every blueprint message say
`namespace`, and the status update names the blueprint `blueprintname`. Layer L2.
"""
from __future__ import annotations

from typing import Any

from ..models.blueprint import Blueprint, BlueprintDefinition
from ..models.ints import Int64
from .base import Msg


class AddBlueprintDefinitionMsg(Msg):
    blueprintdefinition: BlueprintDefinition | None = None


class GetBlueprintDefinitionMsg(Msg):
    colonyname: str = ""
    name: str = ""


class GetBlueprintDefinitionsMsg(Msg):
    colonyname: str = ""


class RemoveBlueprintDefinitionMsg(Msg):
    namespace: str = ""
    name: str = ""


class AddBlueprintMsg(Msg):
    blueprint: Blueprint | None = None


class GetBlueprintMsg(Msg):
    namespace: str = ""
    name: str = ""


class GetBlueprintsMsg(Msg):
    namespace: str = ""
    kind: str = ""
    locationname: str = ""


class UpdateBlueprintMsg(Msg):
    blueprint: Blueprint | None = None
    forcegeneration: bool = False


class RemoveBlueprintMsg(Msg):
    namespace: str = ""
    name: str = ""


class UpdateBlueprintStatusMsg(Msg):
    colonyname: str = ""
    blueprintname: str = ""
    status: dict[str, Any] | None = None


class ReconcileBlueprintMsg(Msg):
    namespace: str = ""
    name: str = ""
    force: bool = False


class GetBlueprintHistoryMsg(Msg):
    blueprintid: str = ""
    limit: Int64 = 0
