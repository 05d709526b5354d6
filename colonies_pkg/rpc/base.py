"""The base of every request message, apart from the registry so that message modules other than
`messages` (e.g. `blueprints`) can subclass it without an import cycle. Layer L2."""
from __future__ import annotations

import msgspec


class Msg(msgspec.Struct, tag_field="msgtype", tag=str.lower, kw_only=True):
    """Base of every request message; the tag is the lower-cased class name."""
