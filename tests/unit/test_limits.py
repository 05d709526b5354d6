"""Decode-time limits: JSON nesting depth (checked on raw bytes, before any recursive decode) and
the range of every integer field of every message in the registry."""
from __future__ import annotations

import base64
import json

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from colonies_pkg import crypto
from colonies_pkg.errors import BadRequest
from colonies_pkg.models.ints import INT64_MAX, INT64_MIN
from colonies_pkg.rpc import envelope, messages

PRV = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"
LIMIT = envelope.MAX_JSON_DEPTH


def nested(depth: int, inner: str = "1") -> bytes:
    """`depth` levels, alternating objects and arrays, around `inner`."""
    opens = ['{"k":' if level % 2 else "[" for level in range(depth)]
    closes = ["}" if level % 2 else "]" for level in range(depth)]
    return ("".join(reversed(opens)) + inner + "".join(closes)).encode()


def request(msg: dict | bytes) -> bytes:
    raw = msg if isinstance(msg, bytes) else json.dumps(msg).encode()
    payload = base64.b64encode(raw).decode()
    return json.dumps({"payloadtype": "versionmsg" if isinstance(msg, bytes) else msg["msgtype"],
                       "payload": payload, "signature": crypto.sign(payload, PRV)}).encode()


@pytest.mark.parametrize("depth", [1, LIMIT - 1, LIMIT])
def test_depth_within_the_limit_passes(depth: int) -> None:
    envelope.check_depth(nested(depth), "x")
    assert msgspec.json.decode(nested(depth)) is not None


@pytest.mark.parametrize("depth", [LIMIT + 1, 5 * LIMIT, 200_000])
def test_depth_over_the_limit_is_refused(depth: int) -> None:
    with pytest.raises(BadRequest, match=f"nested deeper than {LIMIT} levels"):
        envelope.check_depth(nested(depth), "x")


def test_unclosed_brackets_are_refused_without_recursing() -> None:
    with pytest.raises(BadRequest, match="nested deeper"):
        envelope.check_depth(b"[" * 1_000_000, "x")
    envelope.check_depth(b"[" * 10 + b"x" * 10_000, "x")  # shallow garbage: left to the decoder


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"a": "[{" * 10_000, "b": ['\\"[' * 500, "]]]"]}).encode()
    envelope.check_depth(text, "x")


def test_many_flat_brackets_pass() -> None:
    envelope.check_depth(json.dumps([[1, 2]] * 100_000).encode(), "x")


def test_deep_payload_and_envelope_are_400_not_recursion() -> None:
    with pytest.raises(BadRequest, match="Failed to decode versionmsg, JSON nested deeper"):
        envelope.parse_request(request(nested(100_000)))
    with pytest.raises(BadRequest, match="RPC message, JSON nested deeper"):
        envelope.parse_request(b'{"payloadtype":' + nested(100_000) + b"}")


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.integers() | st.text(max_size=5),
                    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=3), kids, max_size=3),
                    max_leaves=30))
def test_check_depth_agrees_with_real_depth(value: object) -> None:
    def depth(v: object) -> int:
        if isinstance(v, list):
            return 1 + max((depth(x) for x in v), default=0)
        if isinstance(v, dict):
            return 1 + max((depth(x) for x in v.values()), default=0)
        return 0

    text = json.dumps(value).encode()
    for wrap in (0, LIMIT - depth(value), LIMIT + 1 - depth(value)):
        framed = b"[" * max(wrap, 0) + text + b"]" * max(wrap, 0)
        if depth(value) + max(wrap, 0) <= LIMIT:
            envelope.check_depth(framed, "x")
        else:
            with pytest.raises(BadRequest):
                envelope.check_depth(framed, "x")


# --- integer ranges -------------------------------------------------------------------------
def int_fields(tp: object, path: str, seen: set) -> list[tuple[str, object]]:
    """(path, inspect type) of every integer reachable from a message type."""
    i = msgspec.inspect
    if isinstance(tp, i.Metadata):
        inner = tp.type
        return [(path, inner)] if isinstance(inner, i.IntType) else int_fields(inner, path, seen)
    if isinstance(tp, i.IntType):
        return [(path, tp)]
    if isinstance(tp, i.UnionType):
        return [f for t in tp.types for f in int_fields(t, path, seen)]
    if isinstance(tp, (i.ListType, i.SetType, i.FrozenSetType, i.VarTupleType)):
        return int_fields(tp.item_type, path + "[]", seen)
    if isinstance(tp, i.DictType):
        return int_fields(tp.value_type, path + "{}", seen)
    if isinstance(tp, i.StructType):
        if tp.cls in seen:
            return []
        seen = seen | {tp.cls}
        return [f for fld in tp.fields for f in int_fields(fld.type, f"{path}.{fld.encode_name}", seen)]
    return []


ALL_INTS = [(name, path, tp) for name, cls in sorted(messages.MESSAGES.items())
            for path, tp in int_fields(msgspec.inspect.type_info(cls), name, set())]


def test_the_registry_has_integer_fields() -> None:
    assert len(ALL_INTS) > 30


@pytest.mark.parametrize(("name", "path", "tp"), ALL_INTS, ids=[p for _, p, _ in ALL_INTS])
def test_every_integer_field_is_range_checked(name: str, path: str, tp: object) -> None:
    assert tp.ge is not None and tp.le is not None, f"{path} is a bare int: use models.ints.Int64"
    assert tp.ge >= INT64_MIN and tp.le <= INT64_MAX


def test_out_of_range_integers_are_400_naming_the_field() -> None:
    cases = [({"msgtype": "getprocessesmsg", "colonyname": "c", "count": 2**64}, "$.count"),
             ({"msgtype": "getlogsmsg", "since": -(2**63) - 1}, "$.since"),
             ({"msgtype": "submitfuncspecmsg", "spec": {"maxwaittime": INT64_MAX + 1}}, "$.spec.maxwaittime"),
             ({"msgtype": "searchlogsmsg", "days": 10**30}, "$.days")]
    for msg, where in cases:
        with pytest.raises(BadRequest, match=r"Failed to decode .*, invalid JSON: \$.* is out of the int64 range") as info:
            envelope.parse_request(request(msg))
        assert info.value.message.endswith(f"{where} is out of the int64 range")
    ok = envelope.parse_request(request({"msgtype": "getprocessesmsg", "count": INT64_MAX, "state": INT64_MIN}))[0]
    assert ok.count == INT64_MAX
