"""rpc/envelope.py and rpc/messages.py: request parsing and validation order (PROTOCOL §1.3),
reply envelope shape (§1.4), and encode→decode round trips of every message type."""
from __future__ import annotations

import base64
import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from colonies_pkg import crypto
from colonies_pkg.errors import BadRequest, ColoniesError, Forbidden, NotFound
from colonies_pkg.rpc import envelope, messages

EXECUTOR_PRV = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"
EXECUTOR_ID = "3fc05cf3df4b494e95d6a3d297a34f19938f7daa7422ab0d4f794454133341ac"


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def body(payloadtype: str, msg: Any = None, *, payload: str | None = None, prv: str | None = EXECUTOR_PRV) -> bytes:
    """A request body exactly as pycolonies builds it (json.dumps, default separators)."""
    if payload is None:
        payload = b64(json.dumps(msg))
    signature = crypto.sign(payload, prv) if prv else ""
    return json.dumps({"payloadtype": payloadtype, "payload": payload, "signature": signature}).encode()


def raises(exc_type: type[ColoniesError], data: bytes, **kw: Any) -> ColoniesError:
    with pytest.raises(exc_type) as info:
        envelope.parse_request(data, **kw)
    return info.value


# --- parse_request: valid -------------------------------------------------------------------
def test_valid_request_decodes_and_recovers_caller() -> None:
    msg, caller = envelope.parse_request(body("getcolonymsg", {"msgtype": "getcolonymsg", "colonyname": "dev"}))
    assert isinstance(msg, messages.GetColonyMsg)
    assert msg.colonyname == "dev"
    assert caller == EXECUTOR_ID


def test_protocol_vector2_body_verbatim() -> None:
    raw = (b'{"payloadtype": "getcolonymsg", '
           b'"payload": "eyJtc2d0eXBlIjogImdldGNvbG9ueW1zZyIsICJjb2xvbnluYW1lIjogImRldiJ9", '
           b'"signature": "c7f3e05a972b20e3986201f12cc33a03921b5b3a900c9203541cefe7f8c7b792'
           b'20a19521a852fbb950469677584638f3130003e87fe5a3ab051c71bd3c0113d900"}')
    msg, caller = envelope.parse_request(raw)
    assert msg == messages.GetColonyMsg(colonyname="dev")
    assert caller == EXECUTOR_ID


def test_unknown_keys_are_ignored() -> None:
    # pycolonies sends e.g. "executorid" in getlogsmsg; Go ignores unknown keys.
    msg, _ = envelope.parse_request(body("getcolonymsg", {"msgtype": "getcolonymsg", "colonyname": "dev", "x": [1]}))
    assert msg == messages.GetColonyMsg(colonyname="dev")


def test_missing_fields_take_zero_values() -> None:
    msg, _ = envelope.parse_request(body("getprocessesmsg", {"msgtype": "getprocessesmsg", "colonyname": "dev"}))
    assert isinstance(msg, messages.GetProcessesMsg)
    assert (msg.count, msg.state, msg.executortype) == (0, 0, "")


@pytest.mark.parametrize("payloadtype", sorted(messages.UNSIGNED))
def test_unsigned_messages_have_empty_caller(payloadtype: str) -> None:
    msg, caller = envelope.parse_request(body(payloadtype, {"msgtype": payloadtype}, prv=None))
    assert type(msg) is messages.MESSAGES[payloadtype]
    assert caller == ""


def test_unsigned_versionmsg_with_garbage_signature_is_still_accepted() -> None:
    payload = b64('{"msgtype": "versionmsg", "buildversion": "", "buildtime": ""}')
    raw = json.dumps({"payloadtype": "versionmsg", "payload": payload, "signature": "nonsense"}).encode()
    assert envelope.parse_request(raw)[1] == ""


def test_websocket_only_types_accepted_on_websocket() -> None:
    msg, caller = envelope.parse_request(
        body("subscribeprocessmsg", {"msgtype": "subscribeprocessmsg", "processid": "p", "state": 2, "timeout": 10}),
        websocket=True)
    assert isinstance(msg, messages.SubscribeProcessMsg)
    assert (msg.processid, msg.state, msg.timeout, caller) == ("p", 2, 10, EXECUTOR_ID)


# --- parse_request: invalid -----------------------------------------------------------------
@pytest.mark.parametrize("raw", [b"", b"{bad", b"[]", b'"x"', b"null", b'{"payloadtype": 5}'],
                         ids=["empty", "malformed", "array", "string", "null", "wrongtype"])
def test_bad_envelope_json_is_400(raw: bytes) -> None:
    err = raises(BadRequest, raw)
    assert err.status == 400


def test_unknown_payloadtype_is_403_with_go_message() -> None:
    err = raises(Forbidden, body("x", {"msgtype": "x"}))
    assert err.status == 403
    assert err.message == "invalid rpcMsg.PayloadType: x"


def test_empty_payloadtype_is_403() -> None:
    err = raises(Forbidden, body("", {"msgtype": ""}))
    assert err.message.startswith("invalid rpcMsg.PayloadType: empty")


def test_unregistered_node_types_are_403() -> None:
    # Defined in Go but without a handler (PROTOCOL §1.3 note).
    for name in ("getnodemsg", "getnodesmsg", "getnodesbylocationmsg"):
        assert raises(Forbidden, body(name, {"msgtype": name})).message == f"invalid rpcMsg.PayloadType: {name}"


def test_msgtype_mismatch_is_400() -> None:
    err = raises(BadRequest, body("getcolonymsg", {"msgtype": "getcoloniesmsg"}))
    assert err.status == 400
    assert "msg.MsgType does not match payloadType" in err.message


def test_missing_msgtype_is_400() -> None:
    err = raises(BadRequest, body("getcolonymsg", {"colonyname": "dev"}))
    assert "msg.MsgType does not match payloadType" in err.message


@pytest.mark.parametrize("payload", ["!!!not base64!!!", "eyJtc2d0eXBlIjo", "e30"],
                         ids=["garbage", "truncated", "nopad"])
def test_bad_base64_is_400(payload: str) -> None:
    assert raises(BadRequest, body("getcolonymsg", payload=payload)).status == 400


def test_payload_that_is_not_json_is_400() -> None:
    err = raises(BadRequest, body("getcolonymsg", payload=b64("{not json")))
    assert err.status == 400
    assert "invalid JSON" in err.message


def test_type_mismatch_in_payload_is_400() -> None:
    # PROTOCOL §1.5: a string where an int is expected is "invalid JSON" (400).
    err = raises(BadRequest, body("getprocessesmsg", {"msgtype": "getprocessesmsg", "count": "10"}))
    assert err.status == 400
    err = raises(BadRequest, body("getprocessesmsg", {"msgtype": "getprocessesmsg", "count": 1.5}))
    assert err.status == 400


@pytest.mark.parametrize("value", [2**63, 2**64, 10**30, -(2**63) - 1])
def test_integers_beyond_int64_are_400_anywhere_typed(value: int) -> None:
    """Go decodes into int64 and refuses more; SQLite holds no more either."""
    err = raises(BadRequest, body("getprocessesmsg", {"msgtype": "getprocessesmsg", "count": value}))
    assert err.message.endswith("$.count is out of the int64 range")
    spec = {"funcname": "f", "conditions": {"colonyname": "c", "executortype": "t"}, "maxexectime": value}
    err = raises(BadRequest, body("submitfuncspecmsg", {"msgtype": "submitfuncspecmsg", "spec": spec}))
    assert err.message.endswith("$.spec.maxexectime is out of the int64 range")
    wf = {"colonyname": "c", "functionspecs": [spec | {"maxexectime": 1}, spec | {"maxexectime": 1, "maxretries": value}]}
    err = raises(BadRequest, body("submitworkflowspecmsg", {"msgtype": "submitworkflowspecmsg", "spec": wf}))
    assert err.message.endswith("$.spec.functionspecs[1].maxretries is out of the int64 range")


def test_int64_limits_and_big_numbers_in_free_json_are_accepted() -> None:
    for value in (2**63 - 1, -(2**63)):
        msg, _ = envelope.parse_request(body("getprocessesmsg", {"msgtype": "getprocessesmsg", "count": value}))
        assert msg.count == value
    spec = {"funcname": "f", "args": [2**70], "kwargs": {"n": 2**70}, "conditions": {"colonyname": "c"}}
    msg, _ = envelope.parse_request(body("submitfuncspecmsg", {"msgtype": "submitfuncspecmsg", "spec": spec}))
    assert msg.spec.args == [2**70] and msg.spec.kwargs == {"n": 2**70}


def test_null_string_field_reads_as_empty() -> None:
    msg, _ = envelope.parse_request(body("getcolonymsg", {"msgtype": "getcolonymsg", "colonyname": None}))
    assert msg == messages.GetColonyMsg(colonyname="")


def test_bad_signature_is_403() -> None:
    data = json.loads(body("getcolonymsg", {"msgtype": "getcolonymsg", "colonyname": "dev"}))
    data["signature"] = data["signature"][:-4]
    assert raises(Forbidden, json.dumps(data).encode()).status == 403
    data["signature"] = ""
    assert raises(Forbidden, json.dumps(data).encode()).status == 403


def test_signature_over_other_payload_gives_other_caller() -> None:
    data = json.loads(body("getcolonymsg", {"msgtype": "getcolonymsg", "colonyname": "dev"}))
    data["payload"] = b64(json.dumps({"msgtype": "getcolonymsg", "colonyname": "other"}))
    try:
        _, caller = envelope.parse_request(json.dumps(data).encode())
    except Forbidden:
        return
    assert caller != EXECUTOR_ID


@pytest.mark.parametrize("payloadtype", sorted(messages.WEBSOCKET_ONLY & set(messages.MESSAGES)))
def test_websocket_only_types_refused_on_api(payloadtype: str) -> None:
    err = raises(Forbidden, body(payloadtype, {"msgtype": payloadtype}))
    assert err.message == f"invalid rpcMsg.PayloadType: {payloadtype}"


def test_api_types_refused_on_websocket() -> None:
    raises(Forbidden, body("getcolonymsg", {"msgtype": "getcolonymsg", "colonyname": "dev"}), websocket=True)


# --- replies --------------------------------------------------------------------------------
def test_empty_reply_is_e30() -> None:
    raw = envelope.ok_reply("removecolonymsg", {})
    assert raw == b'{"payloadtype":"removecolonymsg","payload":"e30=","error":false}'


def test_ok_reply_shape_and_key_order() -> None:
    raw = envelope.ok_reply("getcolonymsg", {"colonyid": "c", "name": "dev"})
    data = json.loads(raw)
    assert list(data) == ["payloadtype", "payload", "error"]
    assert data["payloadtype"] == "getcolonymsg"
    assert data["error"] is False
    assert json.loads(base64.b64decode(data["payload"])) == {"colonyid": "c", "name": "dev"}


def test_ok_reply_accepts_structs_lists_and_preencoded_bytes() -> None:
    from colonies_pkg.models import Colony

    assert json.loads(base64.b64decode(json.loads(envelope.ok_reply("x", Colony("c", "dev")))["payload"])) == \
        {"colonyid": "c", "name": "dev"}
    assert json.loads(base64.b64decode(json.loads(envelope.ok_reply("x", []))["payload"])) == []
    assert json.loads(envelope.ok_reply("x", b'{"a":1}'))["payload"] == b64('{"a":1}')


@pytest.mark.parametrize("exc", [BadRequest("bad"), Forbidden("Access denied, not server owner"), NotFound("nope"),
                                 ColoniesError("boom"), ColoniesError()])
def test_error_reply_shape(exc: ColoniesError) -> None:
    status, raw = envelope.error_reply(exc)
    assert status == exc.status
    data = json.loads(raw)
    assert list(data) == ["payloadtype", "payload", "error"]
    assert data["payloadtype"] == "error"
    assert data["error"] is True
    failure = json.loads(base64.b64decode(data["payload"]))
    assert failure == {"status": exc.status, "message": exc.message}
    assert type(failure["status"]) is int  # an integer, not the string of old docs/RPC.md


def test_error_reply_protocol_example() -> None:
    _, raw = envelope.error_reply(Forbidden("Access denied, not server owner"))
    assert raw == (b'{"payloadtype":"error","payload":"eyJzdGF0dXMiOjQwMywibWVzc2FnZSI6IkFjY2VzcyBkZW5pZWQsIG5vdCBzZXJ2'
                   b'ZXIgb3duZXIifQ==","error":true}')


def test_error_message_with_quotes_stays_valid_json() -> None:
    _, raw = envelope.error_reply(BadRequest('bad "name" \\ \n'))
    assert json.loads(base64.b64decode(json.loads(raw)["payload"]))["message"] == 'bad "name" \\ \n'


# --- round trips of every message type ------------------------------------------------------
def test_registry_names_are_lowercase_class_names() -> None:
    assert messages.MESSAGES
    for name, cls in messages.MESSAGES.items():
        assert name == cls.__name__.lower()
        assert name.endswith("msg")
    assert set(messages.MESSAGES) >= messages.UNSIGNED


def _field_strategy(ftype: Any, default: Any) -> st.SearchStrategy[Any]:
    if ftype is str:
        return st.text(max_size=20)
    if ftype is bool:
        return st.booleans()
    if ftype is int:
        return st.integers(min_value=-(2**63), max_value=2**63 - 1)
    return st.just(default)  # nested structs/lists: their default (covered by test_models)


def _instances(cls: type[messages.Msg]) -> st.SearchStrategy[messages.Msg]:
    kwargs = {}
    for f in msgspec.structs.fields(cls):
        default = f.default if f.default is not msgspec.NODEFAULT else f.default_factory()
        kwargs[f.name] = _field_strategy(f.type, default)
    return st.fixed_dictionaries(kwargs).map(lambda kw: cls(**kw))


@pytest.mark.parametrize("name", sorted(messages.MESSAGES))
def test_default_message_round_trip(name: str) -> None:
    cls = messages.MESSAGES[name]
    encoded = msgspec.json.encode(cls())
    assert json.loads(encoded)["msgtype"] == name
    assert messages.decode(name, encoded) == cls()


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_message_round_trip_through_signed_envelope(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(messages.MESSAGES)), label="payloadtype")
    msg = data.draw(_instances(messages.MESSAGES[name]), label="message")
    payload_json = json.dumps(json.loads(msgspec.json.encode(msg)))  # pycolonies-style separators
    prv = None if name in messages.UNSIGNED else EXECUTOR_PRV
    decoded, caller = envelope.parse_request(body(name, payload=b64(payload_json), prv=prv),
                                             websocket=name in messages.WEBSOCKET_ONLY)
    assert decoded == msg
    assert caller == ("" if prv is None else EXECUTOR_ID)
