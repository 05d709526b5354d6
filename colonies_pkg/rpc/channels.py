"""Channel messages (CHANNELS_BLUEPRINTS.md §2): append and read over `POST /api`, subscribe over
the `/pubsub` WebSocket. Registered with the other messages by `rpc.messages`."""
from __future__ import annotations

from typing import Annotated

import msgspec

from ..models.ints import Int64
from .base import Msg

Byte = Annotated[int, msgspec.Meta(ge=0, le=255)]


class ChannelAppendMsg(Msg):
    processid: str = ""
    name: str = ""
    sequence: Int64 = 0
    inreplyto: Int64 = 0
    # pycolonies sends a JSON array of byte values, the Go client a base64 string
    payload: list[Byte] | bytes | None = None
    payloadtype: str = ""

    def payload_bytes(self) -> bytes | None:
        return bytes(self.payload) if isinstance(self.payload, list) else self.payload


class ChannelReadMsg(Msg):
    processid: str = ""
    name: str = ""
    afterseq: Int64 = 0
    limit: Int64 = 0


class SubscribeChannelMsg(Msg):
    processid: str = ""
    name: str = ""
    afterseq: Int64 = 0
    timeout: Int64 = 0
