"""Reply Structs for the replies that are not a model (the rest decode into `colonies_pkg.models`).
The client decodes into these where the CLI reads fields. Layer L2."""
from __future__ import annotations

import msgspec


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
