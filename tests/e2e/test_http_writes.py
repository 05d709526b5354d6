"""One write per response (`cli.uvicorn_server.http_protocol`, on both parsers uvicorn may use,
httptools and h11): a reply's status line, headers and body leave in one TCP segment, counted by
the client's kernel (`TCP_INFO`'s data_segs_in), on the real server over a real socket; held
headers still go out on their own when no body follows at once (a streamed response, HEAD, an
interim 100 Continue), and bytes keep their order on kept-alive and pipelined connections."""
from __future__ import annotations

import asyncio
import base64
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from server_process import ThreadServer, free_port

from colonies_pkg.cli.uvicorn_server import http_protocol

DATA_SEGS_IN = 152  # offset of tcpi_data_segs_in in Linux's struct tcp_info (since 4.6)


def data_segments_in(sock: socket.socket) -> int:
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    assert len(info) >= DATA_SEGS_IN + 4, "this kernel's tcp_info has no data_segs_in"
    return struct.unpack_from("<I", info, DATA_SEGS_IN)[0]


def version_request() -> bytes:
    payload = base64.b64encode(json.dumps({"msgtype": "versionmsg"}).encode()).decode()
    body = json.dumps({"payloadtype": "versionmsg", "payload": payload, "signature": ""}).encode()
    return b"POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body


class Replies:
    """What a connection receives, read in order: up to a marker, or Content-Length responses one
    by one (kept-alive); bytes past what was asked for stay in `data`."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.data = sock, b""

    def _more(self) -> None:
        part = self.sock.recv(65536)
        assert part, f"connection closed after {self.data!r}"
        self.data += part

    def until(self, marker: bytes) -> bytes:
        """The bytes up to and including the next `marker`."""
        while marker not in self.data:
            self._more()
        head, _, self.data = self.data.partition(marker)
        return head + marker

    def next(self) -> tuple[int, dict[str, str], bytes]:
        head = self.until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")[:-2]
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        length = int(headers["content-length"])
        while len(self.data) < length:
            self._more()
        body, self.data = self.data[:length], self.data[length:]
        return int(lines[0].split()[1]), headers, body


@pytest.fixture(scope="module", params=["httptools", "h11"])
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    with ThreadServer(tmp_path_factory.mktemp(request.param), http=request.param) as server:
        yield server


def test_an_api_reply_is_one_segment(srv: ThreadServer) -> None:
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        replies = Replies(sock)
        for _ in range(3):  # kept alive: every reply, not just the first
            before = data_segments_in(sock)
            sock.sendall(version_request())
            status, headers, body = replies.next()
            assert status == 200 and headers["content-type"].startswith("text/plain")
            assert json.loads(body)["payloadtype"] == "versionmsg"
            assert data_segments_in(sock) - before == 1


def test_pipelined_requests_are_answered_in_order(srv: ThreadServer) -> None:
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(version_request() + b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + version_request())
        replies = Replies(sock)
        first, second, third = replies.next(), replies.next(), replies.next()
        assert replies.data == b""
    assert json.loads(first[2])["payloadtype"] == "versionmsg"
    assert second[0] == 200 and b"payloadtype" not in second[2]
    assert json.loads(third[2])["payloadtype"] == "versionmsg"


def test_expect_100_continue_then_the_reply(srv: ThreadServer) -> None:
    # the interim "100 Continue" is a response's first write too: held, it still goes out before
    # the client sends its body, and the final reply follows it intact
    request = version_request()
    head, _, body = request.partition(b"\r\n\r\n")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(head + b"\r\nExpect: 100-continue\r\n\r\n")
        replies = Replies(sock)
        assert replies.until(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n" and replies.data == b""
        sock.sendall(body)
        status, _, reply = replies.next()
    assert status == 200 and json.loads(reply)["payloadtype"] == "versionmsg"


def test_head_gets_its_headers(srv: ThreadServer) -> None:
    # a HEAD response has no body write: its held headers go out at the end of the loop iteration
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n")
        replies = Replies(sock)
        head = replies.until(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 ") and replies.data == b""


# --- a streamed response, on a small ASGI app served with the same protocol ---------------------

async def streaming_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await asyncio.sleep(0.5)  # the headers must not wait for the first chunk
    await send({"type": "http.response.body", "body": b"first,", "more_body": True})
    await send({"type": "http.response.body", "body": b"second"})


@pytest.fixture(scope="module", params=["httptools", "h11"])
def streaming(request: pytest.FixtureRequest) -> Iterator[int]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(streaming_app, host="127.0.0.1", port=port, log_level="warning",
                                           http=http_protocol(request.param), lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "streaming server did not start"
        time.sleep(0.01)
    yield port
    server.should_exit = True
    thread.join(10)


def test_streamed_headers_leave_before_the_body(streaming: int) -> None:
    with socket.create_connection(("127.0.0.1", streaming), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(0.4)  # less than the app's pause before its first chunk
        replies = Replies(sock)
        head = replies.until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ") and replies.data == b"", head
        sock.settimeout(10)
        rest = replies.until(b"0\r\n\r\n")
    assert rest == b"6\r\nfirst,\r\n6\r\nsecond\r\n0\r\n\r\n"
