"""Integer field types with their ranges, checked by msgspec when a message is decoded. Layer L1.

Every `int` of a wire Struct is one of these, so a number SQLite cannot store, or a duration whose
deadline would overflow a nanosecond timestamp, is a 400 at decode time instead of an
OverflowError deep in a handler (tests/unit/test_ints.py walks the message registry to keep it so).
"""
from __future__ import annotations

from typing import Annotated

import msgspec

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_SECONDS = 2**32  # ~136 years: now (ns) + MAX_SECONDS s still fits in an int64

Int64 = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX, description="a signed 64-bit integer")]
Seconds = Annotated[int, msgspec.Meta(ge=-MAX_SECONDS, le=MAX_SECONDS, description="a duration in seconds")]
