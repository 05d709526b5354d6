"""The signed request envelope and the reply envelope (PROTOCOL §1.2–§1.4).

`parse_request` turns a raw body into (payloadtype, message, caller id); `ok_reply` and
`error_reply` build reply bodies. `error_reply` is the one place a ColoniesError becomes the
ColonyOS Failure envelope.
"""
from __future__ import annotations

import base64
import binascii
import functools
import typing

import msgspec

from ..crypto import recover_id
from ..errors import BadRequest, ColoniesError, Forbidden
from . import messages


class RPCMsg(msgspec.Struct):
    payloadtype: str = ""
    payload: str = ""
    signature: str = ""


class Failure(msgspec.Struct):
    status: int
    message: str


_envelope_decoder = msgspec.json.Decoder(RPCMsg)
_encoder = msgspec.json.Encoder()


def parse_envelope(body: bytes) -> RPCMsg:
    try:
        env = _envelope_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadRequest(f"Failed to parse RPC message, invalid JSON: {exc}") from exc
    return env


def check_payloadtype(payloadtype: str) -> None:
    if not payloadtype:
        raise Forbidden("invalid rpcMsg.PayloadType: empty (the payloadtype field of the RPC message is missing)")
    if payloadtype not in messages.MESSAGES:
        raise Forbidden(f"invalid rpcMsg.PayloadType: {payloadtype}")


def decode_payload(env: RPCMsg) -> messages.Msg:
    """Base64-decode and JSON-decode the payload into its message Struct."""
    try:
        raw = base64.b64decode(env.payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(f"Failed to decode {env.payloadtype}, invalid base64 payload") from exc
    try:
        try:
            msg = messages.decode(env.payloadtype, raw)
            if b'"msgtype"' not in raw:  # a struct's tag may be absent when decoding; Go compares ""
                raise BadRequest(f"Failed to decode {env.payloadtype}, msg.MsgType does not match payloadType")
        except msgspec.ValidationError as exc:
            if "got `null`" not in str(exc):
                raise
            # Go reads null as the zero value: drop null keys so the defaults apply (rare path)
            msg = messages.decode(env.payloadtype, _encoder.encode(_drop_nulls(msgspec.json.decode(raw))))
    except msgspec.ValidationError as exc:
        if "$.msgtype" in str(exc):
            raise BadRequest(f"Failed to decode {env.payloadtype}, msg.MsgType does not match payloadType") from exc
        raise BadRequest(f"Failed to decode {env.payloadtype}, invalid JSON: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise BadRequest(f"Failed to decode {env.payloadtype}, invalid JSON: {exc}") from exc
    _check_int64(env.payloadtype, msg)
    return msg


INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


@functools.cache
def _typed_fields(cls: type[msgspec.Struct]) -> tuple[str, ...]:
    """The fields of a Struct that may hold an unbounded integer: not `Any` somewhere inside
    (JSON data kept as is), not bounded by msgspec already (`Annotated[int, Meta(ge=…, le=…)]`)
    and not plain strings or booleans."""
    hints = typing.get_type_hints(cls, include_extras=True)

    def skip(t: object) -> bool:
        if t is typing.Any or typing.get_origin(t) is typing.Annotated:
            return True
        args = typing.get_args(t)
        return (not args and t in (str, bool, float, bytes, type(None))) or (bool(args) and all(map(skip, args)))

    return tuple(name for name in cls.__struct_fields__ if not skip(hints[name]))


def _check_int64(payloadtype: str, msg: msgspec.Struct) -> None:
    """Go decodes integers into int64 and refuses bigger ones; so do we (SQLite holds int64 too)."""
    where = _out_of_int64(msg)
    if where is not None:
        raise BadRequest(f"Failed to decode {payloadtype}, invalid JSON: ${where} is out of the int64 range")


def _out_of_int64(value: object) -> str | None:
    """The path of the first integer beyond int64 in `value`, or None (the path is built only then)."""
    if isinstance(value, msgspec.Struct):
        for name in _typed_fields(type(value)):
            where = _out_of_int64(getattr(value, name))
            if where is not None:
                return f".{name}{where}"
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            return ""
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            where = _out_of_int64(item)
            if where is not None:
                return f"[{i}]{where}"
    elif isinstance(value, dict):
        for key, item in value.items():
            where = _out_of_int64(item)
            if where is not None:
                return f".{key}{where}"
    return None


def _drop_nulls(value: object) -> object:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def parse_request(body: bytes, *, websocket: bool = False) -> tuple[messages.Msg, str]:
    """Parse, authenticate and decode a request; returns (message, caller id or "")."""
    env = parse_envelope(body)
    if env.payloadtype in messages.UNSIGNED and not websocket:
        return decode_payload(env), ""
    caller = recover_id(env.payload, env.signature)
    check_payloadtype(env.payloadtype)
    if (env.payloadtype in messages.WEBSOCKET_ONLY) != websocket:
        raise Forbidden(f"invalid rpcMsg.PayloadType: {env.payloadtype}")
    return decode_payload(env), caller


def _envelope(payloadtype: str, payload_json: bytes, error: bool) -> bytes:
    b64 = base64.b64encode(payload_json)
    return b"".join(
        (b'{"payloadtype":"', payloadtype.encode(), b'","payload":"', b64,
         b'","error":', b"true}" if error else b"false}")
    )


def ok_reply(payloadtype: str, reply: object) -> bytes:
    """A success envelope; `reply` is a Struct, list, dict, or pre-encoded JSON bytes."""
    payload = reply if isinstance(reply, bytes) else _encoder.encode(reply)
    return _envelope(payloadtype, payload, False)


def error_reply(exc: ColoniesError) -> tuple[int, bytes]:
    """(HTTP status, body) for an error: the only ColoniesError → Failure mapping."""
    return exc.status, _envelope("error", _encoder.encode(Failure(exc.status, exc.message)), True)


def encode(obj: object) -> bytes:
    return _encoder.encode(obj)
