"""The base of every request message Struct (its own module, so that message modules other than
`rpc.messages` can subclass it without an import cycle)."""
from __future__ import annotations

import msgspec


class Msg(msgspec.Struct, tag_field="msgtype", tag=str.lower, kw_only=True):
    """Base of every request message; the tag is the lower-cased class name."""
