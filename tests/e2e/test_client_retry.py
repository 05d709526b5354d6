"""colonies_pkg.client retries only what is safe to repeat. A real server sits behind a stand-in
proxy that forwards a request, lets the server commit it, and then drops the client's connection
without a reply: a read is retried and succeeds, a submit/close/fail/add/pack is sent exactly once
and reported as lost."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_process import ThreadServer

from colonies_pkg.client import Client, ConnectionFailed, is_retry_safe
from colonies_pkg.crypto import generate_prvkey, id_of_prvkey
from colonies_pkg.rpc import messages

from .conftest import DEV_COLONY_PRV, DEV_USER_PRV, REPO_ROOT, SERVER_PRV


class DroppingProxy:
    """Forwards each HTTP request to the server; drops the client connection, after the server
    has answered, for the first `drops[msgtype]` requests of a type."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.drops: dict[str, int] = {}
        self.close_after_reply = False
        self.closed_after_reply = threading.Event()
        self.forwarded: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream))
        buf = b""
        with client, upstream:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = client.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, rest = buf.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(rest) < length:
                    rest += client.recv(65536)
                body, buf = rest[:length], rest[length:]
                msgtype = json.loads(body).get("payloadtype", "") if body else ""
                self.forwarded.append(msgtype)
                upstream.sendall(head + b"\r\n\r\n" + body)
                reply = self._read_reply(upstream)
                if self.drops.get(msgtype, 0) > 0:  # the server did it; the client never hears
                    self.drops[msgtype] -= 1
                    return
                client.sendall(reply)
                if self.close_after_reply:  # as a server closing an idle keep-alive connection
                    client.close()
                    self.closed_after_reply.set()
                    return

    @staticmethod
    def _read_reply(sock: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, rest = data.partition(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        while len(rest) < length:
            rest += sock.recv(65536)
        return head + b"\r\n\r\n" + rest

    def count(self, msgtype: str) -> int:
        return self.forwarded.count(msgtype)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ThreadServer, DroppingProxy, dict[str, str]]]:
    with ThreadServer(tmp_path_factory.mktemp("retry")) as srv:
        direct = Client("127.0.0.1", srv.port)
        executor_prv = generate_prvkey()
        direct.rpc({"msgtype": "addcolonymsg", "colony": {"colonyid": id_of_prvkey(DEV_COLONY_PRV), "name": "rt"}},
                   SERVER_PRV)
        direct.rpc({"msgtype": "addusermsg", "user": {"colonyname": "rt", "userid": id_of_prvkey(DEV_USER_PRV),
                                                     "name": "u"}}, DEV_COLONY_PRV)
        direct.rpc({"msgtype": "addexecutormsg", "executor": {"executorname": "e", "executortype": "t",
                    "executorid": id_of_prvkey(executor_prv), "colonyname": "rt"}}, DEV_COLONY_PRV)
        direct.rpc({"msgtype": "approveexecutormsg", "colonyname": "rt", "executorname": "e"}, DEV_COLONY_PRV)
        yield srv, DroppingProxy(srv.port), {"user": DEV_USER_PRV, "executor": executor_prv}


SPEC = {"funcname": "f", "conditions": {"colonyname": "rt", "executortype": "t"}, "maxexectime": -1,
        "maxwaittime": -1}


def processes(srv: ThreadServer, state: int) -> list[dict[str, Any]]:
    return Client("127.0.0.1", srv.port).rpc({"msgtype": "getprocessesmsg", "colonyname": "rt", "count": 100,
                                              "state": state}, DEV_USER_PRV)


def running_process(srv: ThreadServer, keys: dict[str, str]) -> str:
    direct = Client("127.0.0.1", srv.port)
    direct.rpc({"msgtype": "submitfuncspecmsg", "spec": SPEC}, keys["user"])
    return direct.rpc({"msgtype": "assignprocessmsg", "colonyname": "rt", "timeout": 5}, keys["executor"])["processid"]


def test_a_read_is_retried_and_succeeds(stack) -> None:
    _srv, proxy, keys = stack
    proxy.drops["getprocessesmsg"] = 1
    before = proxy.count("getprocessesmsg")
    reply = Client("127.0.0.1", proxy.port).rpc({"msgtype": "getprocessesmsg", "colonyname": "rt", "count": 10,
                                                "state": 0}, keys["user"])
    assert isinstance(reply, list)
    assert proxy.count("getprocessesmsg") - before == 2


def test_a_lost_submit_is_not_repeated(stack) -> None:
    srv, proxy, keys = stack
    waiting = len(processes(srv, 0))
    proxy.drops["submitfuncspecmsg"] = 1
    with pytest.raises(ConnectionFailed, match=r"lost after sending submitfuncspecmsg .*not retried") as info:
        Client("127.0.0.1", proxy.port).rpc({"msgtype": "submitfuncspecmsg", "spec": SPEC}, keys["user"])
    assert "check" in info.value.hint
    assert proxy.count("submitfuncspecmsg") == 1
    assert len(processes(srv, 0)) == waiting + 1  # committed exactly once


@pytest.mark.parametrize("msgtype", ["closesuccessfulmsg", "closefailedmsg", "addlogmsg", "addattributemsg"])
def test_lost_close_fail_add_are_not_repeated(stack, msgtype: str) -> None:
    srv, proxy, keys = stack
    pid = running_process(srv, keys)
    msg = {"closesuccessfulmsg": {"processid": pid, "out": ["x"]}, "closefailedmsg": {"processid": pid, "errors": ["e"]},
           "addlogmsg": {"processid": pid, "message": "m"},
           "addattributemsg": {"attribute": {"targetid": pid, "targetcolonyname": "rt", "key": "k", "value": "v",
                                             "attributetype": 1}}}[msgtype]
    proxy.drops[msgtype] = 1
    before = proxy.count(msgtype)
    with pytest.raises(ConnectionFailed, match="not retried"):
        Client("127.0.0.1", proxy.port).rpc({"msgtype": msgtype, **msg}, keys["executor"])
    assert proxy.count(msgtype) - before == 1


def test_a_lost_pack_is_not_repeated(stack) -> None:
    srv, proxy, keys = stack
    direct = Client("127.0.0.1", srv.port)
    wf = json.dumps({"colonyname": "rt", "functionspecs": [{"nodename": "a", "funcname": "f",
                                                             "conditions": {"executortype": "t"}}]})
    gen = direct.rpc({"msgtype": "addgeneratormsg", "generator": {"colonyname": "rt", "name": "g", "workflowspec": wf,
                                                                  "trigger": 3}}, keys["user"])
    proxy.drops["packgeneratormsg"] = 1
    with pytest.raises(ConnectionFailed, match="not retried"):
        Client("127.0.0.1", proxy.port).rpc({"msgtype": "packgeneratormsg", "generatorid": gen["generatorid"],
                                             "arg": "a1"}, keys["user"])
    assert proxy.count("packgeneratormsg") == 1


def test_a_stale_keep_alive_connection_does_not_fail_a_submit(stack) -> None:
    _srv, proxy, keys = stack
    client = Client("127.0.0.1", proxy.port)
    proxy.close_after_reply = True  # the server side closes each connection after replying
    proxy.closed_after_reply.clear()
    try:
        client.rpc({"msgtype": "getprocessesmsg", "colonyname": "rt", "count": 1, "state": 0}, keys["user"])
        assert proxy.closed_after_reply.wait(10)  # the kept-alive connection is now closed on the server side
        before = proxy.count("submitfuncspecmsg")
        client.rpc({"msgtype": "submitfuncspecmsg", "spec": SPEC}, keys["user"])  # on a fresh connection
        assert proxy.count("submitfuncspecmsg") - before == 1
    finally:
        proxy.close_after_reply = False


def test_cli_submit_whose_reply_is_lost_exits_1_and_runs_once(stack, tmp_path: Path) -> None:
    srv, proxy, keys = stack
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    waiting = len(processes(srv, 0))
    proxy.drops["submitfuncspecmsg"] = 1
    env = dict(os.environ, COLONIES_SERVER_HOST="127.0.0.1", COLONIES_SERVER_PORT=str(proxy.port), COLONIES_TLS="false",
               COLONIES_COLONY_NAME="rt", COLONIES_PRVKEY=keys["user"])
    run = subprocess.run([sys.executable, "colonies.py", "function", "submit", "--spec", str(spec)], cwd=REPO_ROOT,
                         env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "not retried" in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert len(processes(srv, 0)) == waiting + 1


def test_retry_policy_over_the_registry() -> None:
    unsafe = {"submitfuncspecmsg", "submitworkflowspecmsg", "closesuccessfulmsg", "closefailedmsg", "addlogmsg",
              "addattributemsg", "addfunctionmsg", "addcolonymsg", "addusermsg", "addexecutormsg", "addcronmsg",
              "addgeneratormsg", "packgeneratormsg", "assignprocessmsg", "removeprocessmsg", "removeallprocessesmsg",
              "runcronmsg", "addchildmsg", "setoutputmsg", "cancelprocessmsg", "addfilemsg", "createsnapshotmsg"}
    for name in messages.MESSAGES:
        assert is_retry_safe(name) == (name.startswith("get") or name in {
            "versionmsg", "searchlogsmsg", "resolvegeneratormsg", "approveexecutormsg", "rejectexecutormsg",
            "pauseassignmentsmsg", "resumeassignmentsmsg"}), name
        if name in unsafe:
            assert not is_retry_safe(name), name
