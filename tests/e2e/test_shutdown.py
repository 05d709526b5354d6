"""Stopping a server with SIGINT/SIGTERM while clients wait on it: `dev` and `server start` as
subprocesses, 20 open subscribers (pycolonies `wait()`, raw /pubsub process and channel
subscriptions and the CLI's `function exec --follow`), parked long-polls and writers in flight.

Asserted: exit code 0, one "stopped" line and no traceback; subscribers get a normal close frame
(1000), long-polls the 404 of a timeout; every acknowledged write is in the database afterwards.
(The 2-second bound is measured by hand, not asserted: no timed assertions.)
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from model import Conditions, FuncSpec
from pycolonies import Colonies
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from colonies_pkg.crypto import sign

from .conftest import DEV_USER_ID, DEV_USER_PRV, REPO_ROOT, SERVER_PRV, free_port, new_key

STOPPED = re.compile(r"Colonies server on (?P<where>\S+) stopped on (?P<sig>SIG\w+): (?P<subs>\d+) subscription\(s\) "
                     r"closed, (?P<polls>\d+) long-poll\(s\) answered, queued writes committed")
WAITERS, RAW_SUBSCRIBERS, CLI_FOLLOWERS, LONG_POLLS = 14, 3, 3, 3  # 20 subscribers in all


def envelope(msg: dict[str, Any], prv: str) -> str:
    payload = base64.b64encode(json.dumps(msg).encode()).decode()
    return json.dumps({"payloadtype": msg["msgtype"], "payload": payload, "signature": sign(payload, prv)})


def post(port: int, msg: dict[str, Any], prv: str, timeout: float = 120) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/api", body=envelope(msg, prv))
        resp = conn.getresponse()
        return resp.status, json.loads(base64.b64decode(json.loads(resp.read())["payload"]))
    finally:
        conn.close()


def start(mode: str, tmp_path: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    port, data = free_port(), tmp_path / "data"
    if mode == "dev":
        cmd = ["dev", "--no-executor", "--port", str(port), "--data-dir", str(data)]
    else:
        cmd = ["server", "start", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data)]
    env = dict(os.environ, PYTHONUNBUFFERED="1", COLONIES_SERVER_PRVKEY=SERVER_PRV)
    proc = subprocess.Popen([sys.executable, "colonies.py", *cmd], cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return proc, port, data / "colonies.db"
        except OSError:
            pass
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.1)


def colony_for(mode: str, client: Colonies) -> tuple[str, str, str]:
    """(colony name, user key, executor key) to use on the server."""
    if mode == "dev":
        return "dev", DEV_USER_PRV, DEV_USER_PRV  # dev registers this key as user and executor
    colony_prv, colony_id = new_key()
    client.add_colony({"colonyid": colony_id, "name": "sd"}, SERVER_PRV)
    client.add_user({"colonyname": "sd", "userid": DEV_USER_ID, "name": "u", "email": "", "phone": ""}, colony_prv)
    exec_prv, exec_id = new_key()
    client.add_executor({"executorname": "e", "executorid": exec_id, "colonyname": "sd", "executortype": "t"},
                        colony_prv)
    client.approve_executor("sd", "e", colony_prv)
    return "sd", DEV_USER_PRV, exec_prv


@pytest.mark.parametrize(("mode", "sig"), [("dev", signal.SIGINT), ("server", signal.SIGTERM), ("dev", signal.SIGTERM),
                                           ("server", signal.SIGINT)])
def test_stop_with_open_subscribers(mode: str, sig: signal.Signals, tmp_path: Path) -> None:
    proc, port, db_path = start(mode, tmp_path)
    try:
        client = Colonies("127.0.0.1", port)
        colony, user, executor = colony_for(mode, client)
        spec = FuncSpec(funcname="never", conditions=Conditions(colonyname=colony, executortype="nobody"),
                        maxexectime=-1, maxwaittime=-1, maxretries=0)
        outcomes: dict[str, list[Any]] = {"wait": [], "raw": [], "poll": [], "write": [], "channel": [],
                                          "process": []}
        threads: list[threading.Thread] = []

        def waiter() -> None:
            process = client.submit_func_spec(spec, user)
            try:
                client.wait(process, 100, user)
                outcomes["wait"].append("returned")
            except Exception as exc:  # the server went away after closing the subscription
                outcomes["wait"].append(type(exc).__name__)

        def raw_subscriber(kind: str) -> None:
            status, process = post(port, {"msgtype": "submitfuncspecmsg", "spec": {
                "funcname": "never", "conditions": {"colonyname": colony, "executortype": "nobody"}, "maxexectime": -1,
                "maxwaittime": -1, "channels": ["chat"]}}, user)
            assert status == 200, process
            msg = ({"msgtype": "subscribeprocessmsg", "colonyname": colony, "processid": process["processid"],
                    "executortype": "nobody", "state": 2, "timeout": 100} if kind == "process" else
                   {"msgtype": "subscribechannelmsg", "processid": process["processid"], "name": "chat",
                    "afterseq": 0, "timeout": 100})
            with ws_connect(f"ws://127.0.0.1:{port}/pubsub", open_timeout=10) as ws:
                ws.send(envelope(msg, user))
                frames = []
                try:
                    while True:  # a channel subscription ends with a `[]` frame, then the close
                        frames.append(json.loads(ws.recv(timeout=60)))
                except ConnectionClosed as exc:
                    outcomes["raw"].append(exc.rcvd.code if exc.rcvd else None)
                outcomes[kind].append([(f["error"], json.loads(base64.b64decode(f["payload"]))) for f in frames])

        def long_poll() -> None:
            status, reply = post(port, {"msgtype": "assignprocessmsg", "colonyname": colony, "timeout": 100},
                                 executor)
            outcomes["poll"].append((status, reply.get("message")))

        def writer() -> None:  # keeps submitting across the signal; remembers what was acknowledged
            while True:
                try:
                    status, reply = post(port, {"msgtype": "submitfuncspecmsg", "spec": {
                        "funcname": "w", "conditions": {"colonyname": colony, "executortype": "nobody"},
                        "maxexectime": -1, "maxwaittime": -1}}, user, timeout=10)
                except OSError:
                    return
                if status != 200:
                    return
                outcomes["write"].append(reply["processid"])

        for target, n in ((waiter, WAITERS), (long_poll, LONG_POLLS), (writer, 2)):
            threads += [threading.Thread(target=target, daemon=True) for _ in range(n)]
        threads += [threading.Thread(target=raw_subscriber, args=("channel" if i == 0 else "process",), daemon=True)
                    for i in range(RAW_SUBSCRIBERS)]
        env = dict(os.environ, COLONIES_SERVER_HOST="127.0.0.1", COLONIES_SERVER_PORT=str(port), COLONIES_TLS="false",
                   COLONIES_COLONY_NAME=colony, COLONIES_PRVKEY=user)
        followers = [subprocess.Popen([sys.executable, "colonies.py", "function", "exec", "--func", "never",
                                       "--targettype", "nobody", "--follow"],
                                      cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT) for _ in range(CLI_FOLLOWERS)]
        for t in threads:
            t.start()
        time.sleep(3)  # let every client subscribe or park (not an assertion)
        assert proc.poll() is None
        proc.send_signal(sig)
        out = proc.communicate(timeout=30)[0].decode()
        for t in threads:
            t.join(30)
        follower_out = [f.communicate(timeout=30)[0].decode() for f in followers]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert proc.returncode == 0, out
    assert "Traceback" not in out and "CancelledError" not in out and "ERROR" not in out, out
    stopped = [m for line in out.splitlines() if (m := STOPPED.fullmatch(line))]
    assert len(stopped) == 1, out
    assert stopped[0]["where"] == f"127.0.0.1:{port}" and stopped[0]["sig"] == sig.name
    assert int(stopped[0]["subs"]) >= WAITERS + RAW_SUBSCRIBERS + CLI_FOLLOWERS  # the CLI may hold several
    assert int(stopped[0]["polls"]) == LONG_POLLS
    assert outcomes["raw"] == [1000] * RAW_SUBSCRIBERS
    assert outcomes["channel"] == [[(False, [])]]  # the channel subscription's end-of-stream frame
    assert outcomes["process"] == [[]] * (RAW_SUBSCRIBERS - 1)  # no error frame, just the close
    assert len(outcomes["wait"]) == WAITERS
    assert outcomes["poll"] == [(404, "No process available for assignment")] * LONG_POLLS
    for text in follower_out:
        assert "Traceback" not in text, text
    with sqlite3.connect(db_path) as conn:  # every acknowledged submit survived the stop
        stored = {row[0] for row in conn.execute("SELECT processid FROM processes")}
    assert outcomes["write"] and set(outcomes["write"]) <= stored


def test_second_interrupt_exits_at_once(tmp_path: Path) -> None:
    proc, port, _ = start("dev", tmp_path)
    try:
        client = Colonies("127.0.0.1", port)
        spec = FuncSpec(funcname="never", conditions=Conditions(colonyname="dev", executortype="nobody"),
                        maxexectime=-1, maxwaittime=-1, maxretries=0)
        process = client.submit_func_spec(spec, DEV_USER_PRV)
        with ws_connect(f"ws://127.0.0.1:{port}/pubsub", open_timeout=10) as ws:
            ws.send(envelope({"msgtype": "subscribeprocessmsg", "colonyname": "dev", "processid": process.processid,
                              "executortype": "nobody", "state": 2, "timeout": 100}, DEV_USER_PRV))
            time.sleep(0.5)  # subscribed (not an assertion)
            proc.send_signal(signal.SIGINT)
            time.sleep(0.02)
            proc.send_signal(signal.SIGINT)
            out = proc.communicate(timeout=30)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out
    assert "Traceback" not in out, out
