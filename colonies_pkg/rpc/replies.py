"""Reply Structs for the replies that are not a model (the rest decode into `colonies_pkg.models`),
and for a process as a client reads it (`ProcessReply`: the server's `models.Process` carries its
JSON columns raw). The client decodes into these where the CLI reads fields. Layer L2."""
from __future__ import annotations

from typing import Any

import msgspec

from ..clock import ZERO_TIME
from ..models.ints import Int64
from ..models.process import GPU, Attribute, Conditions, FunctionSpec


class PauseStatusReply(msgspec.Struct, kw_only=True):
    """The reply to getpausestatusmsg."""

    msgtype: str = "pausestatusreplymsg"
    colonyname: str = ""
    ispaused: bool = False


class UiLoginTicket(msgspec.Struct, tag_field="msgtype", tag="uiloginmsg", kw_only=True):
    """The body of a `colonies ui` login ticket (signed, sent to /ui/login; not a POST /api
    message, so not a `Msg`)."""

    colonyname: str = ""
    nonce: str = ""
    exp: int = 0


class Backend(msgspec.Struct, omit_defaults=True):
    type: str = ""
    host: str = ""
    port: int = 0
    tls: bool = False


class ServerInfo(msgspec.Struct, omit_defaults=True):
    """The reply to getserverinfomsg (unsigned)."""

    buildversion: str = ""
    buildtime: str = ""
    backends: list[Backend] = msgspec.field(default_factory=list)
    tls: bool = False


class ProcessReply(msgspec.Struct, kw_only=True):
    """A process as a client reads it (PROTOCOL §5.5): the reply to getprocessmsg, assignprocessmsg,
    submitfuncspecmsg and reconcileblueprintmsg, an element of the getprocessesmsg reply, and the
    push of a subscribeprocessmsg subscription. The server's `models.Process` keeps `spec` and the
    lists as raw JSON; here they are typed. Go writes every key; a missing one reads as Go's zero
    value, except the id. `attributes`, `in` and `out` may be null (Go's nil slices)."""

    processid: str
    initiatorid: str = ""
    initiatorname: str = ""
    assignedexecutorid: str = ""
    isassigned: bool = False
    state: Int64 = 0
    prioritytime: Int64 = 0
    submissiontime: str = ZERO_TIME
    starttime: str = ZERO_TIME
    endtime: str = ZERO_TIME
    waitdeadline: str = ZERO_TIME
    execdeadline: str = ZERO_TIME
    retries: Int64 = 0
    attributes: list[Attribute] | None = []
    spec: FunctionSpec = msgspec.field(default_factory=FunctionSpec)
    waitforparents: bool = False
    parents: list[str] = []
    children: list[str] = []
    processgraphid: str = ""
    in_: list[Any] | None = msgspec.field(default_factory=list, name="in")
    out: list[Any] | None = []
    errors: list[str] = []

    @property
    def conditions(self) -> Conditions:
        return self.spec.conditions or Conditions()


class Hardware(msgspec.Struct, kw_only=True):
    """One entry of an executor's `capabilities.hardware` (PROTOCOL §5.3)."""

    model: str = ""
    nodes: Int64 = 0
    cpu: str = ""
    cores: Int64 = 0
    mem: str = ""
    storage: str = ""
    gpu: GPU | None = msgspec.field(default_factory=GPU)
    platform: str = ""
    architecture: str = ""
    network: list[str] | None = []


class Software(msgspec.Struct, kw_only=True):
    """One entry of an executor's `capabilities.software` (PROTOCOL §5.3)."""

    name: str = ""
    type: str = ""
    version: str = ""
