"""The integer field type of wire Structs, range-checked by msgspec when a message is decoded. Layer L1.

Every `int` of a wire Struct is an `Int64`, as in Go, which decodes into int64 and refuses bigger
numbers; SQLite holds no more either. So such a number is a 400 at decode time instead of an
OverflowError deep in a handler (tests/unit/test_limits.py walks the message registry to keep it
so). Far deadlines computed from an int64 are clamped where they are computed (`clock.ns_after`).
"""
from __future__ import annotations

from typing import Annotated

import msgspec

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

Int64 = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX, description="a signed 64-bit integer")]
