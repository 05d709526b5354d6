"""crypto.py against the PROTOCOL §2.6 vectors, round-trip properties, malleability and
malformed input, and interop with pycolonies' pure-Python `crypto` module (both directions,
with an independent pure-Python public-key recovery built on pycolonies' curve arithmetic)."""
from __future__ import annotations

import base64
import contextlib
import hashlib
import json

import crypto as pycrypto  # pycolonies 1.0.25 top-level module (pure Python)
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from colonies_pkg import crypto
from colonies_pkg.errors import Forbidden

N = crypto.N
P = 2**256 - 2**32 - 977

# --- PROTOCOL §2.6 --------------------------------------------------------------------------
KEY_VECTORS = {  # name: (private key, uncompressed pubkey hex, id)
    "server": (
        "fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d",
        "0426aa26fe2d354aeb42265141eb7b42dc74b092c3809d2288ae1cb73feae7aafc906b4252aee3855676941423a2df8f83aada0c3e1dbb19c263c9bef53471964b",
        "039231c7644e04b6895471dd5335cf332681c54e27f81fac54f9067b3f2c0103",
    ),
    "colony": (
        "ba949fa134981372d6da62b6a56f336ab4d843b22c02a4257dcf7d0d73097514",
        "046c9880d25fcada91665206a95e5188211ffdadda4a25c1deb3f2375f08535845bb41ccd74cdad729940b29451adb58f30dc66e69dbed6b11d2c1c48b14624dd5",
        "4787a5071856a4acf702b2ffcea422e3237a679c681314113d86139461290cf4",
    ),
    "executor": (
        "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05",
        "040e1930031d82f79fb53008c4ad81c8933f9fdb4d55bf9f385eca9f1275b2cfd6ed08ae04fd9e3b72daeea8d3e836148d4d3dc27df58fb45878d126cddf4d2fcf",
        "3fc05cf3df4b494e95d6a3d297a34f19938f7daa7422ab0d4f794454133341ac",
    ),
    "key1": (
        "0000000000000000000000000000000000000000000000000000000000000001",
        "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8",
        "2036f5bc759cfb3589fb4e2342bc9b3c843c5ef27dc8ded538de328a7567089b",
    ),
    "go-unit-test": (
        "6d2fb6f546bacfd98c68769e61e0b44a697a30596c018a50e28200aa59b01c0a",
        "0408e903276ee7973666dceeefa5335e5c4b6b5989821906db98f8de8acf8f853824ca3234a8602200baa2d75f30cb2050cda18602824c3eb2da654a93a01a7ad4",
        "4fef2b5a82d134d058c1883c72d6d9caf77cd59ca82d73105017590dea3dcb87",
    ),
}
SERVER_ID = KEY_VECTORS["server"][2]
EXECUTOR_ID = KEY_VECTORS["executor"][2]
KEY1_PRV, _, KEY1_ID = KEY_VECTORS["key1"]

VECTOR1 = {
    "json": '{"msgtype": "getcoloniesmsg"}',
    "payload": "eyJtc2d0eXBlIjogImdldGNvbG9uaWVzbXNnIn0=",
    "digest": "eadda7cf07edf81c2803ef44e180181d037cc68dfce136f18b91891f1e39be17",
    "signature": "82a2287f7fa7aad2f7a476c2b91743d67792c4f1f580f7cad92ecc6c3504bc6f"
                 "2f542e984ed0d7d8b5a90a6fc1a381bb18e29dceabb6e97600395d37706732af01",
    "id": SERVER_ID,
}
VECTOR2 = {
    "json": '{"msgtype": "getcolonymsg", "colonyname": "dev"}',
    "payload": "eyJtc2d0eXBlIjogImdldGNvbG9ueW1zZyIsICJjb2xvbnluYW1lIjogImRldiJ9",
    "digest": "de30083d05c544adc44be53d27ceeaed6f4dbd85d37714f0d6514c3f8a81ad7d",
    "signature": "c7f3e05a972b20e3986201f12cc33a03921b5b3a900c9203541cefe7f8c7b792"
                 "20a19521a852fbb950469677584638f3130003e87fe5a3ab051c71bd3c0113d900",
    "id": EXECUTOR_ID,
}
VECTOR3_KEY = "d6eb959e9aec2e6fdc44b5862b269e987b8a4d6f2baca542d8acaa97ee5e74f6"
VECTOR3_ID = "5d6568f883451ae2e407d1a0a7992e414f2a67b69d0e6e9176d353b98f06f696"
VECTOR3_GO_SIG = ("997eca36736d465e0e8d64e6d657ff4c939c8f5cad4272797ea0fe372bfd8d09"
                  "53d21b3d06ded5dd80aee8cfa3a9be7ce615ce690eb64184fe15962943fe541300")
VECTOR3_PY_SIG = ("e713a1bb015fecabb5a084b0fe6d6e7271fca6f79525a634183cfdb175fe6924"
                  "1f4da161779d8e6b761200e1cf93766010a19072fa778f9643363e2cfadd640900")
VECTOR4_SIG = ("24ea2d66a639d2b8c973094911a1b5d9ccdb6ee48d94487ecda2407edbbf6f45"
               "13bed23538ec23b13926dc510694564e20639fc4edea1c6c02558d8d2dd24d8c01")

private_keys = st.integers(min_value=1, max_value=N - 1).map(lambda k: f"{k:064x}")
messages = st.text(max_size=300)


@pytest.mark.parametrize("name", list(KEY_VECTORS))
def test_key_to_id(name: str) -> None:
    prv, pub, expected = KEY_VECTORS[name]
    assert crypto.id_of_prvkey(prv) == expected
    # The id hashes the 130-char hex TEXT of the uncompressed key, not the 65 raw bytes.
    assert crypto.sha3_hex(pub) == expected
    assert crypto.sha3_hex(bytes.fromhex(pub)) != expected


def test_sha3_vectors() -> None:
    assert crypto.sha3_hex("hello world") == "644bcc7e564373040999aac89e7622f3ca71fba1d972fd94a31c3bfbf24e3938"
    assert crypto.sha3_hex("hello") == "3338be694f50c5f338814986cdf0686453a888b84f424d792af4b9202398f392"
    assert crypto.sha3_hex(b"hello") == crypto.sha3_hex("hello")
    # FIPS-202 SHA3, not legacy Keccak-256 (whose "hello" digest starts with 1c8aff95).
    assert not crypto.sha3_hex("hello").startswith("1c8aff95")


@pytest.mark.parametrize("vector", [VECTOR1, VECTOR2], ids=["vector1-server", "vector2-executor"])
def test_full_request_vectors(vector: dict[str, str]) -> None:
    assert base64.b64encode(vector["json"].encode()).decode() == vector["payload"]
    assert crypto.sha3_hex(vector["payload"]) == vector["digest"]
    assert crypto.recover_id(vector["payload"], vector["signature"]) == vector["id"]
    # The signature covers the payload TEXT as sent, so a re-encoded payload does not match.
    reencoded = base64.b64encode(json.dumps(json.loads(vector["json"]), separators=(",", ":")).encode()).decode()
    assert reencoded != vector["payload"]
    assert crypto.recover_id(reencoded, vector["signature"]) != vector["id"]


def test_vector3_go_and_python_signatures_recover_to_same_id() -> None:
    assert crypto.id_of_prvkey(VECTOR3_KEY) == VECTOR3_ID
    assert VECTOR3_GO_SIG != VECTOR3_PY_SIG
    assert crypto.recover_id("hello", VECTOR3_GO_SIG) == VECTOR3_ID
    assert crypto.recover_id("hello", VECTOR3_PY_SIG) == VECTOR3_ID


def test_vector4_key1_signs_hello() -> None:
    assert crypto.recover_id("hello", VECTOR4_SIG) == KEY1_ID
    ours = crypto.sign("hello", KEY1_PRV)
    assert crypto.recover_id("hello", ours) == KEY1_ID


# --- properties -----------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(prv=private_keys, message=messages)
def test_sign_recover_round_trip(prv: str, message: str) -> None:
    sig = crypto.sign(message, prv)
    assert len(sig) == 130 and sig == sig.lower()
    assert sig[-2:] in ("00", "01")
    assert int(sig[64:128], 16) <= N // 2  # we only ever produce low-S signatures
    assert crypto.recover_id(message, sig) == crypto.id_of_prvkey(prv)


@settings(max_examples=50, deadline=None)
@given(prv=private_keys, message=messages, other=messages)
def test_signature_does_not_transfer_to_other_message(prv: str, message: str, other: str) -> None:
    if message == other:
        return
    sig = crypto.sign(message, prv)
    with contextlib.suppress(Forbidden):  # no point with that x: also a rejection
        assert crypto.recover_id(other, sig) != crypto.id_of_prvkey(prv)


def test_generate_prvkey_is_valid_and_fresh() -> None:
    keys = {crypto.generate_prvkey() for _ in range(20)}
    assert len(keys) == 20
    for k in keys:
        assert len(k) == 64 and k == k.lower()
        assert 0 < int(k, 16) < N
        assert len(crypto.id_of_prvkey(k)) == 64


# --- malleability and malformed input -------------------------------------------------------
def _high_s(sig: str) -> str:
    r, s, v = sig[:64], int(sig[64:128], 16), int(sig[128:], 16)
    return r + f"{N - s:064x}" + f"{v ^ 1:02x}"


@pytest.mark.parametrize("vector", [VECTOR1, VECTOR2], ids=["vector1", "vector2"])
def test_high_s_twin_is_rejected(vector: dict[str, str]) -> None:
    twin = _high_s(vector["signature"])
    assert int(twin[64:128], 16) > N // 2
    with pytest.raises(Forbidden) as info:
        crypto.recover_id(vector["payload"], twin)
    assert info.value.status == 403


@settings(max_examples=30, deadline=None)
@given(prv=private_keys, message=messages)
def test_high_s_twin_of_any_signature_is_rejected(prv: str, message: str) -> None:
    with pytest.raises(Forbidden):
        crypto.recover_id(message, _high_s(crypto.sign(message, prv)))


SIG = VECTOR1["signature"]


@pytest.mark.parametrize(
    "bad",
    [
        "",
        SIG[:-2],                       # 64 bytes
        SIG + "00",                     # 66 bytes
        SIG[:-1],                       # odd length
        "zz" + SIG[2:],                 # not hex
        "0x" + SIG[2:],
        SIG[:128] + "1b",               # v = 27 (Ethereum style) is not ColonyOS style
        SIG[:64] + "0" * 64 + SIG[128:],  # s = 0
        "0" * 64 + SIG[64:],            # r = 0
    ],
    ids=["empty", "short", "long", "odd", "nonhex", "0x-prefix", "v27", "s-zero", "r-zero"],
)
def test_malformed_signatures_are_forbidden(bad: str) -> None:
    with pytest.raises(Forbidden):
        crypto.recover_id(VECTOR1["payload"], bad)


@pytest.mark.parametrize("bad", [" " + SIG, SIG[:64] + " " + SIG[64:], SIG + "\n"], ids=["lead", "inner", "trail"])
def test_signature_with_whitespace_is_forbidden(bad: str) -> None:
    with pytest.raises(Forbidden):
        crypto.recover_id(VECTOR1["payload"], bad)


@pytest.mark.parametrize("bad", ["", "00" * 32, "ff" * 32, f"{N:064x}", "1" * 63, "g" * 64, "01" * 33])
def test_invalid_private_keys_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        crypto.id_of_prvkey(bad)
    with pytest.raises(ValueError):
        crypto.sign("hello", bad)


def test_uppercase_hex_signature_is_accepted_like_go() -> None:
    # Go's hex.DecodeString accepts upper case; so do we.
    assert crypto.recover_id(VECTOR1["payload"], SIG.upper()) == SERVER_ID


# --- interop with pycolonies' pure-Python crypto --------------------------------------------
def _pure_recover_id(message: str, signature: str) -> str:
    """Independent recovery (PROTOCOL §2.4) on pycolonies' point arithmetic, not coincurve."""
    raw = bytes.fromhex(signature)
    r, s, v = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]
    z = int.from_bytes(hashlib.sha3_256(message.encode()).digest(), "big")
    y = pow((r * r * r + 7) % P, (P + 1) // 4, P)
    if y % 2 != v:
        y = P - y
    r_inv = pow(r, -1, N)
    sR = pycrypto.to_jacobian(pycrypto.fast_multiply((r, y), s))
    zG = pycrypto.fast_multiply(pycrypto.G, (N - z) % N)
    qx, qy = pycrypto.fast_multiply(pycrypto.from_jacobian(pycrypto.jacobian_add(sR, pycrypto.to_jacobian(zG))), r_inv)
    return hashlib.sha3_256(("04" + f"{qx:064x}{qy:064x}").encode()).hexdigest()


def test_pure_recovery_helper_agrees_with_vectors() -> None:
    assert _pure_recover_id(VECTOR1["payload"], VECTOR1["signature"]) == SERVER_ID
    assert _pure_recover_id("hello", VECTOR3_GO_SIG) == VECTOR3_ID


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prv=private_keys, message=messages)
def test_pycolonies_signatures_recover_with_ours(prv: str, message: str) -> None:
    py = pycrypto.Crypto()  # native=False: the pure-Python implementation
    assert py.id(prv) == crypto.id_of_prvkey(prv)
    assert crypto.recover_id(message, py.sign(message, prv)) == py.id(prv)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prv=private_keys, message=messages)
def test_our_signatures_recover_to_pycolonies_id(prv: str, message: str) -> None:
    assert _pure_recover_id(message, crypto.sign(message, prv)) == pycrypto.Crypto().id(prv)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prv=private_keys, message=messages)
def test_our_signatures_are_byte_identical_to_pycolonies(prv: str, message: str) -> None:
    """Both sign deterministically (RFC 6979): the tests' own envelopes (tests/e2e/conftest.py
    `sign_envelope`) are signed with ours and are exactly what pycolonies would send."""
    assert crypto.sign(message, prv) == pycrypto.Crypto().sign(message, prv)


def test_pycolonies_genkey_keys_work_with_us() -> None:
    for _ in range(3):
        prv = pycrypto.Crypto().prvkey()
        assert crypto.id_of_prvkey(prv) == pycrypto.Crypto().id(prv)


# --- the recovery memo ------------------------------------------------------------------------
def test_memo_recovers_each_signer_of_one_message_apart() -> None:
    """The same message signed by two keys, each sent twice: the memo answers every repeat with
    the signer of that very signature, never the other's."""
    a, b = crypto.generate_prvkey(), crypto.generate_prvkey()
    message = base64.b64encode(b'{"msgtype":"assignprocessmsg","colonyname":"memo","timeout":10}').decode()
    sig_a, sig_b = crypto.sign(message, a), crypto.sign(message, b)
    assert sig_a == crypto.sign(message, a)  # deterministic (RFC 6979): repeats are byte-identical
    for _ in range(2):
        assert crypto.recover_id(message, sig_a) == crypto.id_of_prvkey(a)
        assert crypto.recover_id(message, sig_b) == crypto.id_of_prvkey(b)


def test_memo_never_keeps_a_refusal() -> None:
    prv = crypto.generate_prvkey()
    message = "bWVtbw=="
    good = crypto.sign(message, prv)
    tampered = good[:64] + "00" * 32 + good[128:]  # s = 0
    for _ in range(2):
        with pytest.raises(Forbidden):
            crypto.recover_id(message, tampered)
    assert crypto.recover_id(message, good) == crypto.id_of_prvkey(prv)


def test_long_messages_bypass_the_memo_and_still_recover() -> None:
    prv = crypto.generate_prvkey()
    message = "A" * (crypto.MEMO_MAX_MESSAGE + 1)
    before = crypto._recover_memo.cache_info().currsize
    assert crypto.recover_id(message, crypto.sign(message, prv)) == crypto.id_of_prvkey(prv)
    assert crypto._recover_memo.cache_info().currsize == before
