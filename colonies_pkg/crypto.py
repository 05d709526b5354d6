"""secp256k1 keys, ids and signatures as ColonyOS defines them (PROTOCOL §2).

The only module that imports the EC library (coincurve). Hashes are stdlib SHA3-256.
"""
from __future__ import annotations

import functools
import hashlib
import re
import secrets

from coincurve import PrivateKey, PublicKey

from .errors import Forbidden

# Order of the secp256k1 group; low-S signatures have s <= N // 2.
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_N = N // 2
_HEX = re.compile(r"[0-9a-fA-F]*")


def sha3_hex(data: str | bytes) -> str:
    """SHA3-256 (FIPS 202) of a str (UTF-8) or bytes, as 64 lowercase hex chars."""
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha3_256(data).hexdigest()


def generate_prvkey() -> str:
    """A fresh private key: 64 lowercase hex characters in [1, n-1]."""
    while True:
        key = secrets.token_bytes(32)
        if 0 < int.from_bytes(key, "big") < N:
            return key.hex()


def _id_of_pubkey(pub: PublicKey) -> str:
    return sha3_hex(pub.format(compressed=False).hex())


def _prv(prvkey: str) -> PrivateKey:
    try:
        raw = bytes.fromhex(prvkey)
    except ValueError as exc:
        raise ValueError("private key must be 64 hex characters") from exc
    if len(raw) != 32 or not 0 < int.from_bytes(raw, "big") < N:
        raise ValueError("private key must be 64 hex characters in [1, n-1]")
    return PrivateKey(raw)


def id_of_prvkey(prvkey: str) -> str:
    """The ColonyOS id of a private key: SHA3-256 of the hex text of the uncompressed pubkey."""
    return _id_of_pubkey(_prv(prvkey).public_key)


def sign(message: str, prvkey: str) -> str:
    """Sign SHA3-256(message) and return r||s||v as 130 hex chars (v in {0,1}, low S)."""
    digest = hashlib.sha3_256(message.encode()).digest()
    return _prv(prvkey).sign_recoverable(digest, hasher=None).hex()


MEMO_MAX_MESSAGE = 4096  # longer messages are recovered every time, not kept


def recover_id(message: str, signature: str) -> str:
    """Recover the signer's id from a message and a 130-hex signature, or raise Forbidden.

    The id is a pure function of (message, signature), and signatures are deterministic (RFC 6979),
    so an executor's repeated identical request (an assign long-poll, say) is recovered once: short
    messages go through a small LRU memo. A refusal is never kept."""
    if isinstance(message, str) and isinstance(signature, str) and len(message) <= MEMO_MAX_MESSAGE:
        return _recover_memo(message, signature)
    return _recover(message, signature)


def _recover(message: str, signature: str) -> str:
    if not isinstance(signature, str) or len(signature) != 130:
        raise Forbidden("Invalid signature length")
    if not _HEX.fullmatch(signature):  # bytes.fromhex alone would skip whitespace
        raise Forbidden("Invalid signature, not hex")
    sig = bytes.fromhex(signature)
    if sig[64] > 3:
        raise Forbidden("Invalid signature recovery id")
    s = int.from_bytes(sig[32:64], "big")
    if s == 0 or s > HALF_N:
        raise Forbidden("Invalid signature, S value must be in the lower half of the curve order")
    digest = hashlib.sha3_256(message.encode()).digest()
    try:
        pub = PublicKey.from_signature_and_message(sig, digest, hasher=None)
    except Exception as exc:
        raise Forbidden("Failed to recover public key from signature") from exc
    return _id_of_pubkey(pub)


_recover_memo = functools.lru_cache(maxsize=2048)(_recover)
