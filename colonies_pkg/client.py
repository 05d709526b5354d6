"""A small synchronous ColonyOS client (layer L5): signs requests, posts them, decodes replies.

Used by the CLI and the sample executor. One keep-alive connection per client; not thread-safe
(make one client per thread). Errors come back as `ColoniesError` subclasses by status.
"""
from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import ssl
from typing import Any

from .crypto import sign
from .errors import BadRequest, ColoniesError, Forbidden, NotFound, Timeout, Unavailable

_BY_STATUS: dict[int, type[ColoniesError]] = {400: BadRequest, 403: Forbidden, 404: NotFound, 408: Timeout,
                                              503: Unavailable}


class ConnectionFailed(ColoniesError):
    """Could not reach the Colonies server"""

    status = 0


class Client:
    def __init__(self, host: str = "localhost", port: int = 50080, tls: bool = False, verify: bool = True,
                 timeout: float | None = None) -> None:
        self.host, self.port, self.tls, self.verify, self.timeout = host, port, tls, verify, timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        if self._conn is None:
            if self.tls:
                ctx = ssl.create_default_context()
                if not self.verify:
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                self._conn = http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=ctx)
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
        for attempt in (1, 2):
            try:
                conn = self._connection(wait)
                conn.request("POST", "/api", body=body.encode())
                resp = conn.getresponse()
                raw = resp.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                self.close()
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
