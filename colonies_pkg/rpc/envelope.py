"""The signed request envelope and the reply envelope (PROTOCOL §1.2–§1.4).

`parse_request` turns a raw body into (payloadtype, message, caller id); `ok_reply` and
`error_reply` build reply bodies. `error_reply` is the one place a ColoniesError becomes the
ColonyOS Failure envelope.
"""
from __future__ import annotations

import base64
import binascii
import re

import msgspec

from ..crypto import recover_id
from ..errors import BadRequest, ColoniesError, Forbidden
from . import messages
from .base import Msg


class RPCMsg(msgspec.Struct):
    payloadtype: str = ""
    payload: str = ""
    signature: str = ""


class Failure(msgspec.Struct):
    status: int
    message: str


_envelope_decoder = msgspec.json.Decoder(RPCMsg)
_INT64_BOUND = re.compile(r"Expected `int` (?:<= 9223372036854775807|>= -9223372036854775808) - at `(\$[^`]*)`")
_encoder = msgspec.json.Encoder()

MAX_JSON_DEPTH = 100  # arrays/objects nested deeper than this are refused before any decoding
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
_ONE_KIND = bytes.maketrans(b"{}", b"[]")


def check_depth(raw: bytes, what: str) -> None:
    """Raise BadRequest if the JSON text `raw` nests arrays/objects deeper than MAX_JSON_DEPTH.

    Done on the raw bytes, without recursion: short texts are cleared by counting brackets;
    otherwise strings are cut out and innermost bracket pairs are peeled off, one level per round.
    """
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return
    brackets = _JSON_STRING.sub(b"", raw).translate(_ONE_KIND, _NOT_BRACKETS)
    for level in range(MAX_JSON_DEPTH + 1):
        if not brackets:
            return
        peeled = brackets.replace(b"[]", b"")
        if len(peeled) == len(brackets):  # only unmatched brackets left: invalid JSON
            if level + brackets.count(b"[") <= MAX_JSON_DEPTH:
                return  # shallow enough: the decoder reports the syntax error
            break
        brackets = peeled
    raise BadRequest(f"Failed to decode {what}, JSON nested deeper than {MAX_JSON_DEPTH} levels")


def parse_envelope(body: bytes) -> RPCMsg:
    check_depth(body, "RPC message")
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


def decode_payload(env: RPCMsg) -> Msg:
    """Base64-decode and JSON-decode the payload into its message Struct."""
    try:
        raw = base64.b64decode(env.payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(f"Failed to decode {env.payloadtype}, invalid base64 payload") from exc
    check_depth(raw, env.payloadtype)
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
        out_of_range = _INT64_BOUND.fullmatch(str(exc))
        if out_of_range:  # the bound of models.ints.Int64
            raise BadRequest(f"Failed to decode {env.payloadtype}, invalid JSON: {out_of_range[1]} is out of the "
                             "int64 range") from exc
        raise BadRequest(f"Failed to decode {env.payloadtype}, invalid JSON: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise BadRequest(f"Failed to decode {env.payloadtype}, invalid JSON: {exc}") from exc
    return msg


def _drop_nulls(value: object) -> object:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def parse_request(body: bytes, *, websocket: bool = False) -> tuple[Msg, str]:
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
