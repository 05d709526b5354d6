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
from typing import Any

from .crypto import sign
from .errors import BadRequest, ColoniesError, Forbidden, NotFound, Timeout, Unavailable
from .tls import client_context

_BY_STATUS: dict[int, type[ColoniesError]] = {400: BadRequest, 403: Forbidden, 404: NotFound, 408: Timeout,
                                              503: Unavailable}


class ConnectionFailed(ColoniesError):
    """Could not reach the Colonies server"""

    status = 0
    hint: str | None = None


# state-setting calls: sending one twice leaves the same state as sending it once
_IDEMPOTENT = frozenset({"versionmsg", "searchlogsmsg", "resolvegeneratormsg", "approveexecutormsg",
                         "rejectexecutormsg", "pauseassignmentsmsg", "resumeassignmentsmsg"})
FRESH_AFTER_IDLE_SECONDS = 1.0  # well under uvicorn's 5 s keep-alive timeout


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

    def rpc(self, msg: dict[str, Any], prvkey: str | None, timeout: float | None = None) -> Any:
        """Send one message; returns the decoded reply payload (dict/list) or raises."""
        payload = base64.b64encode(json.dumps(msg).encode()).decode()
        body = json.dumps({"payloadtype": msg["msgtype"], "payload": payload,
                           "signature": sign(payload, prvkey) if prvkey else ""})
        wait = timeout if timeout is not None else self.timeout
        retry_safe = is_retry_safe(str(msg.get("msgtype", "")))
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
                conn.request("POST", "/api", body=body.encode())
                resp = conn.getresponse()
                raw = resp.read()
                self._last_used = time.monotonic()
                break
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                self.close()
                if not retry_safe:
                    lost = ConnectionFailed(f"connection to the Colonies server at {self.host}:{self.port} lost "
                                            f"after sending {msg['msgtype']} ({exc}); not retried")
                    lost.hint = "the server may have done it: check (e.g. `colonies process ps`) before repeating"
                    raise lost from exc
                if attempt == 2 or isinstance(exc, TimeoutError):
                    raise ConnectionFailed(f"cannot reach Colonies server at {self.host}:{self.port}: {exc}") from exc
        try:
            reply = json.loads(raw)
            data = json.loads(base64.b64decode(reply["payload"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ColoniesError(f"invalid reply from server (HTTP {resp.status})") from exc
        if reply.get("error"):
            status = int(data.get("status", resp.status))
            exc_cls = _BY_STATUS.get(status, ColoniesError)
            err = exc_cls(data.get("message", "error"))
            err.status = status
            raise err
        return data

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
