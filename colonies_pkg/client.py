"""A small synchronous ColonyOS client (layer L5): signs requests, posts them, decodes replies.

Used by the CLI and the sample executor. One keep-alive connection per client; not thread-safe
(make one client per thread). Errors come back as `ColoniesError` subclasses by status.

Retries: a request is sent again after a connection error only when doing it twice is harmless
(reads, and calls that set a state: `is_retry_safe`), or when it never left (connect failed).
Anything else -- a submit, close, fail, add, pack, remove -- is sent once: if its reply is lost,
the caller hears so and nothing runs twice. So that a stale keep-alive connection (closed by the
server while idle) does not fail such a request, it goes out on a fresh connection unless the
current one was used moments ago and is still open.
"""
from __future__ import annotations

import base64
import contextlib
import http.client
import json
import select
import socket
import time
from collections.abc import Mapping
from typing import Any, TypeVar, overload

import msgspec

from .crypto import sign
from .errors import ColoniesError, error_for_status
from .rpc.base import Msg
from .tls import client_context

T = TypeVar("T")
_json = msgspec.json.Encoder()


class ConnectionFailed(ColoniesError):
    """Could not reach the Colonies server"""

    status = 0
    hint: str | None = None


class InvalidReply(ColoniesError):
    """A reply (or /pubsub push) that does not decode into the shape its message has: a missing
    field, a wrong type, or no reply envelope at all. `payload` is the reply as plain JSON when it
    was JSON of another shape (so a caller can still act on what it can read, e.g. an id), else None."""

    status = 502  # as a gateway says of an upstream reply it cannot use; never sent by a server
    hint: str | None = None
    payload: Any = None


# state-setting calls: sending one twice leaves the same state as sending it once
_IDEMPOTENT = frozenset({"versionmsg", "searchlogsmsg", "resolvegeneratormsg", "approveexecutormsg",
                         "rejectexecutormsg", "pauseassignmentsmsg", "resumeassignmentsmsg"})
FRESH_AFTER_IDLE_SECONDS = 1.0  # well under uvicorn's 5 s keep-alive timeout


def to_wire(value: Any) -> Any:
    """A request Struct as JSON-ready builtins: every field under its wire name, the `msgtype` tag
    first, and fields left at None (or UNSET, or at their default in an `omit_defaults` Struct)
    omitted -- the receiver applies its zero value -- so no `null` reaches a Go server that expects
    a list. Dict and list contents (user data) are kept as given."""
    if isinstance(value, msgspec.Struct):
        config = value.__struct_config__
        out: dict[str, Any] = {}
        if config.tag_field is not None:
            out[config.tag_field] = config.tag
        for field in msgspec.structs.fields(value):
            item = getattr(value, field.name)
            if item is None or item is msgspec.UNSET or (config.omit_defaults and _is_default(field, item)):
                continue
            out[field.encode_name] = to_wire(item)
        return out
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    return value


def _is_default(field: msgspec.structs.FieldInfo, item: Any) -> bool:
    if field.default is not msgspec.NODEFAULT:
        return bool(item == field.default)
    if field.default_factory is not msgspec.NODEFAULT:
        return bool(item == field.default_factory())
    return False


def msgtype_of(msg: Msg | Mapping[str, Any]) -> str:
    if isinstance(msg, Msg):
        return str(msg.__struct_config__.tag)
    return str(msg.get("msgtype", ""))


def envelope(msg: Msg | Mapping[str, Any], prvkey: str | None) -> bytes:
    """The signed request body (PROTOCOL §1.2) for a message Struct; a mapping is sent as given
    (tests use that to send what no Struct can hold)."""
    payload = base64.b64encode(_json.encode(to_wire(msg) if isinstance(msg, Msg) else msg)).decode()
    return _json.encode({"payloadtype": msgtype_of(msg), "payload": payload,
                         "signature": sign(payload, prvkey) if prvkey else ""})


def is_retry_safe(msgtype: str) -> bool:
    """True for reads and state-setting calls, which may be sent again after a connection error."""
    return msgtype.startswith("get") or msgtype in _IDEMPOTENT


class Client:
    def __init__(self, host: str = "localhost", port: int = 50080, tls: bool = False, verify: bool = True,
                 timeout: float | None = None) -> None:
        self.host, self.port, self.tls, self.verify, self.timeout = host, port, tls, verify, timeout
        self._conn: http.client.HTTPConnection | None = None
        self._last_used = 0.0

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        if self._conn is None:
            if self.tls:
                self._conn = http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                                         context=client_context(self.verify))
            else:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        self._conn.timeout = timeout
        return self._conn

    def abort(self) -> None:
        """Break off a request in progress from another thread (it fails with ConnectionFailed)."""
        conn = self._conn
        sock = getattr(conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @overload
    def rpc(self, msg: Msg | Mapping[str, Any], prvkey: str | None, timeout: float | None = None, *,
            reply: None = None) -> Any: ...

    @overload
    def rpc(self, msg: Msg | Mapping[str, Any], prvkey: str | None, timeout: float | None = None, *,
            reply: type[T]) -> T: ...

    @overload
    def rpc(self, msg: Msg | Mapping[str, Any], prvkey: str | None, timeout: float | None = None, *,
            reply: object) -> Any: ...  # a type expression such as `list[Colony] | None`

    def rpc(self, msg: Msg | Mapping[str, Any], prvkey: str | None, timeout: float | None = None, *,
            reply: Any = None) -> Any:
        """Send one request Struct (`rpc.messages`); returns the reply payload decoded into `reply`
        (a model or reply Struct, or e.g. `list[Process]`), or as plain JSON when `reply` is None.
        An error reply raises the `errors.py` class of its status. A mapping is sent as given:
        only tests use that, to send what no Struct can hold."""
        msgtype = msgtype_of(msg)
        raw, status = self._post(msgtype, envelope(msg, prvkey), timeout)
        return self._decode(msgtype, raw, status, reply)

    @overload
    def rpc_json(self, msg: Msg, prvkey: str | None, reply: type[T], timeout: float | None = None) -> tuple[T, Any]: ...

    @overload
    def rpc_json(self, msg: Msg, prvkey: str | None, reply: object, timeout: float | None = None) -> tuple[Any, Any]: ...

    def rpc_json(self, msg: Msg, prvkey: str | None, reply: Any, timeout: float | None = None) -> tuple[Any, Any]:
        """`rpc`, returning the reply both decoded into `reply` and as the plain JSON the server
        sent (for printing it as it is: `--json`). Invalid as `reply` raises InvalidReply."""
        msgtype = msgtype_of(msg)
        raw, status = self._post(msgtype, envelope(msg, prvkey), timeout)
        return self._decode(msgtype, raw, status, reply), decode_reply(raw, status)

    def _post(self, msgtype: str, body: bytes, timeout: float | None) -> tuple[bytes, int]:
        """POST one signed body; the raw reply and its HTTP status (with the retry rules above)."""
        wait = timeout if timeout is not None else self.timeout
        retry_safe = is_retry_safe(msgtype)
        if not retry_safe and not self._fresh_enough():
            self.close()  # an unsafe request is sent once: never on a connection that may be stale
        for attempt in (1, 2):
            conn = self._connection(wait)
            try:
                if conn.sock is None:
                    conn.connect()  # nothing sent yet: a failure here is always safe to retry
            except OSError as exc:
                self.close()
                if attempt == 2 or isinstance(exc, TimeoutError):
                    raise ConnectionFailed(f"cannot reach Colonies server at {self.host}:{self.port}: {exc}") from exc
                continue
            try:
                conn.request("POST", "/api", body=body)
                resp = conn.getresponse()
                raw = resp.read()
                self._last_used = time.monotonic()
                break
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                self.close()
                if not retry_safe:
                    lost = ConnectionFailed(f"connection to the Colonies server at {self.host}:{self.port} lost "
                                            f"after sending {msgtype} ({exc}); not retried")
                    lost.hint = "the server may have done it: check (e.g. `colonies process ps`) before repeating"
                    raise lost from exc
                if attempt == 2 or isinstance(exc, TimeoutError):
                    raise ConnectionFailed(f"cannot reach Colonies server at {self.host}:{self.port}: {exc}") from exc
        return raw, resp.status

    def _decode(self, msgtype: str, raw: bytes, status: int, reply: Any) -> Any:
        try:
            return decode_reply(raw, status, reply)
        except InvalidReply as exc:
            exc.hint = (f"the server at {self.host}:{self.port} sent a {msgtype} reply of another shape: is it "
                        "a Colonies server of a version this client speaks?")
            raise

    def _fresh_enough(self) -> bool:
        """The kept-alive connection was used a moment ago and the server has not closed it."""
        conn = self._conn
        if conn is None or conn.sock is None or time.monotonic() - self._last_used > FRESH_AFTER_IDLE_SECONDS:
            return False
        try:
            readable, _, _ = select.select([conn.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable  # an idle HTTP connection turns readable only when the server closed it

    def health(self) -> bool:
        try:
            conn = self._connection(2.0)
            conn.request("GET", "/health")
            resp = conn.getresponse()
            resp.read()
            return resp.status == 200
        except (OSError, http.client.HTTPException):
            self.close()
            return False


class _Envelope(msgspec.Struct):
    payload: str = ""
    error: bool = False


class _Failure(msgspec.Struct):
    status: int = 0
    message: str = "error"


def decode_reply(raw: bytes | str, http_status: int, reply: Any = None, *, where: str | None = None) -> Any:
    """The payload of a reply envelope, decoded into `reply` (plain JSON if None); an error
    envelope raises the exception class of its status (`errors.error_for_status`), anything that
    is not the envelope of a `reply` raises InvalidReply. `where` names a reply that came other
    than over HTTP (a /pubsub push)."""
    payload: Any = None
    try:
        env = msgspec.json.decode(raw, type=_Envelope)
        data = base64.b64decode(env.payload)
        if env.error:
            failure = msgspec.json.decode(data, type=_Failure)
        elif reply is None:
            return json.loads(data)
        else:
            try:
                return msgspec.json.decode(data, type=reply)
            except msgspec.ValidationError:
                payload = json.loads(data)  # JSON of another shape (else a ValueError: not JSON at all)
                raise
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
        invalid = InvalidReply(f"invalid reply from server ({where or f'HTTP {http_status}'}): {exc}")
        invalid.payload = payload
        raise invalid from exc
    raise error_for_status(failure.status or http_status, failure.message)
