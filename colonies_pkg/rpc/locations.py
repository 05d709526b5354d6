"""Location messages (Go `pkg/rpc/*location*_msg.go`). Registered by `rpc.messages`."""
from __future__ import annotations

from ..models.location import Location
from .base import Msg


class AddLocationMsg(Msg):
    location: Location | None = None


class GetLocationsMsg(Msg):
    colonyname: str = ""


class GetLocationMsg(Msg):
    colonyname: str = ""
    name: str = ""


class RemoveLocationMsg(Msg):
    colonyname: str = ""
    name: str = ""
