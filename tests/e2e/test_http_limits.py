"""Oversized and stalled request bodies on POST /api, over raw sockets, with both HTTP parsers
uvicorn may pick (h11, httptools): refused with the error envelope and the connection closed,
without reading the rest; the server keeps serving."""
from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator

import pytest
from server_process import ThreadServer

LIMIT = 64 * 1024
HTTP_IMPLS = ["h11", "httptools"]


@pytest.fixture(scope="module", params=HTTP_IMPLS)
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    with ThreadServer(tmp_path_factory.mktemp(request.param), http=request.param, max_body_bytes=LIMIT,
                      body_timeout_seconds=1.0) as server:
        yield server


def exchange(port: int, head: bytes, body: bytes = b"", wait: float = 20.0) -> tuple[int, dict, bytes]:
    """Send a request head and part of a body; read the reply until the server closes the
    connection. Returns (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(head + body)
        data = b""
        while True:
            try:
                part = sock.recv(65536)
            except ConnectionResetError:
                break
            if not part:
                break
            data += part
    head_raw, _, reply = data.partition(b"\r\n\r\n")
    lines = head_raw.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, reply


def failure(reply: bytes) -> dict:
    envelope = json.loads(reply)
    assert envelope["error"] is True and envelope["payloadtype"] == "error"
    return json.loads(base64.b64decode(envelope["payload"]))


def alive(port: int) -> None:
    status, _, _ = exchange(port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200


def test_declared_length_over_the_limit_is_413_before_the_body(srv: ThreadServer) -> None:
    # the client announces 10^12 bytes and sends none: the answer comes without waiting for them
    status, headers, reply = exchange(srv.port, b"POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n")
    assert status == 413
    assert headers.get("connection") == "close"
    assert failure(reply) == {"status": 413, "message": f"Request body of 1000000000000 bytes is larger than the "
                                                        f"limit of {LIMIT} bytes"}
    alive(srv.port)


def test_chunked_body_growing_past_the_limit_is_413(srv: ThreadServer) -> None:
    chunk = b"x" * 4096
    body = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * (LIMIT // len(chunk) + 2)
    status, headers, reply = exchange(srv.port, b"POST /api HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                                      body)
    assert status == 413 and headers.get("connection") == "close"
    assert failure(reply)["message"] == f"Request body larger than the limit of {LIMIT} bytes"
    alive(srv.port)


def test_absurd_chunk_size_is_413(srv: ThreadServer) -> None:
    # a chunk announced as 2^60 bytes: refused once the limit is crossed, the rest is never read
    head = b"POST /api HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    status, _, reply = exchange(srv.port, head, b"1000000000000000\r\n" + b"y" * (LIMIT + 1))
    assert status == 413 and failure(reply)["status"] == 413
    alive(srv.port)


def test_stalled_body_is_cut_off_with_408(srv: ThreadServer) -> None:
    head = b"POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
    status, headers, reply = exchange(srv.port, head, b'{"payloadtype":')  # ... and nothing more
    assert status == 408 and headers.get("connection") == "close"
    assert failure(reply) == {"status": 408, "message": "Request body not received within 1 seconds (15 bytes arrived)"}
    alive(srv.port)


def test_stalled_chunked_body_is_cut_off_with_408(srv: ThreadServer) -> None:
    head = b"POST /api HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    status, _, reply = exchange(srv.port, head, b"ffffffffff\r\nabc")
    assert status == 408 and failure(reply)["status"] == 408
    alive(srv.port)


def test_body_within_limits_still_served_on_a_kept_alive_connection(srv: ThreadServer) -> None:
    payload = base64.b64encode(json.dumps({"msgtype": "versionmsg"}).encode()).decode()
    body = json.dumps({"payloadtype": "versionmsg", "payload": payload, "signature": ""}).encode()
    head = b"POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=20) as sock:
        for _ in range(2):
            sock.sendall(head + body)
            data = sock.recv(65536)
            assert data.startswith(b"HTTP/1.1 200 ")


def test_silent_pubsub_client_gets_408_and_a_normal_close(srv: ThreadServer) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{srv.port}/pubsub", open_timeout=10) as ws:  # ... and says nothing
        assert failure(ws.recv(timeout=30).encode()) == {"status": 408,
                                                         "message": "No subscription message received in time"}
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000


def test_binary_pubsub_frame_is_read_like_text(srv: ThreadServer) -> None:
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{srv.port}/pubsub", open_timeout=10) as ws:
        ws.send(b"\x00\xffnot json")
        assert failure(ws.recv(timeout=30).encode())["status"] == 400
    with connect(f"ws://127.0.0.1:{srv.port}/pubsub", open_timeout=10) as ws:
        ws.send(json.dumps({"payloadtype": "subscribeprocessmsg", "payload": "", "signature": "00"}).encode())
        assert failure(ws.recv(timeout=30).encode())["status"] in (400, 403)


@pytest.mark.parametrize(("request_line", "status", "message"), [
    (b"GET /api", 405, "Method Not Allowed: GET /api"),
    (b"POST /nowhere", 404, "Not Found: POST /nowhere"),
    (b"DELETE /health", 405, "Method Not Allowed: DELETE /health"),
])
def test_unknown_paths_and_methods_get_the_error_envelope(srv: ThreadServer, request_line: bytes, status: int,
                                                          message: str) -> None:
    got, _, reply = exchange(srv.port, request_line + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                                                      b"Connection: close\r\n\r\n")
    assert got == status and failure(reply) == {"status": status, "message": message}
