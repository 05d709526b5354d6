"""Random 64-hex ids (SHA3-256 of a random UUID, as ColonyOS does) and id validation."""
from __future__ import annotations

import hashlib
import re
import uuid

_HEX64 = re.compile(r"[0-9a-f]{64}")


def new_id() -> str:
    return hashlib.sha3_256(str(uuid.uuid4()).encode()).hexdigest()


def is_valid_id(value: str) -> bool:
    return bool(_HEX64.fullmatch(value))


def is_sha256_hex(value: str) -> bool:
    """A SHA-256 digest as CFS names objects: 64 lowercase hex characters (the id pattern)."""
    return bool(_HEX64.fullmatch(value))
