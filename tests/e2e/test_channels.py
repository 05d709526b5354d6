"""Process channels over a real socket: pycolonies 1.0.25 for append/read/subscribe, raw signed
requests and a raw WebSocket where the SDK cannot show the wire (frames, error statuses).

Covers ordering, backlog + live frames, concurrent appenders, a subscriber that goes away,
lifetimes (close, fail, cancel, deadline loop, workflow cancel, removal), the caps and the rate
limit (a server started with small limits), and the authorization refusals.
"""
from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import websocket
from model import FuncSpec, Workflow
from pycolonies import Colonies, ColoniesConnectionError, ColoniesError

from .conftest import SERVER_PRV, ColonyEnv, Member, ServerProcess, make_colony, poll_until, sign_envelope

WS_RECV_TIMEOUT = 15  # a safety net against a hang, never an assertion


# --- helpers ----------------------------------------------------------------------------------
def rpc(port: int, msg: dict[str, Any], prv: str) -> tuple[int, Any]:
    r = requests.post(f"http://127.0.0.1:{port}/api", json=sign_envelope(msg, prv), timeout=30)
    return r.status_code, json.loads(base64.b64decode(r.json()["payload"]))


def append(port: int, prv: str, pid: str, name: str, seq: int, payload: Any = b"", **extra: Any) -> tuple[int, Any]:
    msg = {"msgtype": "channelappendmsg", "processid": pid, "name": name, "sequence": seq, **extra}
    if payload is not None:
        msg["payload"] = list(payload) if isinstance(payload, bytes) else payload
    return rpc(port, msg, prv)


def read(port: int, prv: str, pid: str, name: str, afterseq: int = 0, limit: int = 0) -> tuple[int, Any]:
    return rpc(port, {"msgtype": "channelreadmsg", "processid": pid, "name": name, "afterseq": afterseq,
                      "limit": limit}, prv)


class Sub:
    """A raw /pubsub channel subscription; `frame()` returns the decoded entries or the error."""

    def __init__(self, port: int, prv: str, pid: str, name: str, afterseq: int = 0, timeout: int = 10) -> None:
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}/pubsub", timeout=WS_RECV_TIMEOUT)
        msg = {"processid": pid, "name": name, "afterseq": afterseq, "timeout": timeout,
               "msgtype": "subscribechannelmsg"}
        self.ws.send(json.dumps(sign_envelope(msg, prv)))

    def frame(self) -> Any:
        reply = json.loads(self.ws.recv())
        payload = json.loads(base64.b64decode(reply["payload"]))
        if reply["error"]:
            return {"error": payload}
        assert reply["payloadtype"] == "subscribechannelmsg"
        for entry in payload:
            entry["payload"] = base64.b64decode(entry["payload"]) if entry.get("payload") else entry.get("payload")
        return payload

    def close(self) -> None:
        self.ws.close()


def spec(colony: ColonyEnv, channels: list[str], **kw: Any) -> FuncSpec:
    s = colony.spec(**kw)
    s.channels = channels
    return s


def running(colony: ColonyEnv, channels: list[str], submitter: Member | None = None) -> tuple[Any, Member, Member]:
    """Submit (by a user) and assign (to a fresh executor); returns (process, submitter, executor)."""
    submitter = submitter or colony.user
    executor = colony.new_executor()
    p = colony.client.submit_func_spec(spec(colony, channels), submitter.prv)
    assigned = colony.client.assign(colony.name, 10, executor.prv)
    assert assigned.processid == p.processid
    return p, submitter, executor


def payloads(entries: list[dict[str, Any]]) -> list[bytes]:
    return [e["payload"] for e in entries]


# --- messages, ordering, entry shape ----------------------------------------------------------
def test_append_read_roundtrip_entry_shape_and_window(colony: ColonyEnv, server: ServerProcess) -> None:
    p, user, ex = running(colony, ["chat"])
    c = colony.client
    c.channel_append(p.processid, "chat", 1, "hello", user.prv)
    c.channel_append(p.processid, "chat", 2, b"\x00\xff bytes", ex.prv, in_reply_to=1)
    c.channel_append(p.processid, "chat", 3, "", ex.prv, payload_type="end")
    entries = c.channel_read(p.processid, "chat", 0, 0, user.prv)
    assert [e["sequence"] for e in entries] == [1, 2, 3]
    assert payloads(entries)[:2] == [b"hello", b"\x00\xff bytes"]
    assert [e["type"] for e in entries] == ["data", "data", "end"]
    assert [e["senderid"] for e in entries] == [user.id, ex.id, ex.id]
    assert "inreplyto" not in entries[0] and entries[1]["inreplyto"] == 1
    assert entries[2]["payload"] == ""
    # afterseq is a log index; limit caps the count; reading consumes nothing
    assert [e["sequence"] for e in c.channel_read(p.processid, "chat", 1, 1, ex.prv)] == [2]
    assert c.channel_read(p.processid, "chat", 3, 10, ex.prv) == []
    # a base64 string payload (the Go client's form) and a missing one
    assert append(server.port, ex.prv, p.processid, "chat", 4, base64.b64encode(b"go").decode())[0] == 200
    assert append(server.port, ex.prv, p.processid, "chat", 5, None)[0] == 200
    status, raw = read(server.port, ex.prv, p.processid, "chat", afterseq=3)
    assert status == 200 and [e["payload"] for e in raw] == [base64.b64encode(b"go").decode(), None]


def test_bad_payloads_are_400_and_append_nothing(colony: ColonyEnv, server: ServerProcess) -> None:
    p, user, _ = running(colony, ["c"])
    for bad in ([256], [-1], [1.5], "not base64!", {"a": 1}):
        status, reply = append(server.port, user.prv, p.processid, "c", 1, bad)
        assert status == 400, (bad, reply)
    assert read(server.port, user.prv, p.processid, "c") == (200, [])


def test_one_sender_is_reordered_by_sequence_senders_keep_arrival_order(colony: ColonyEnv) -> None:
    p, user, ex = running(colony, ["log"])
    c = colony.client
    for prv, seq in [(user.prv, 2), (ex.prv, 10), (user.prv, 1), (ex.prv, 11), (user.prv, 3)]:
        c.channel_append(p.processid, "log", seq, f"s{seq}", prv)
    got = [(e["senderid"], e["sequence"]) for e in c.channel_read(p.processid, "log", 0, 0, user.prv)]
    assert got == [(user.id, 1), (user.id, 2), (ex.id, 10), (ex.id, 11), (user.id, 3)]


def test_submitter_may_use_channels_while_waiting_executor_after_assignment(colony: ColonyEnv) -> None:
    c = colony.client
    executor = colony.new_executor()
    p = c.submit_func_spec(spec(colony, ["early"]), colony.user.prv)
    c.channel_append(p.processid, "early", 1, "before assignment", colony.user.prv)
    with pytest.raises(ColoniesConnectionError, match="Not authorized to read from channel"):
        c.channel_read(p.processid, "early", 0, 0, executor.prv)
    c.assign(colony.name, 10, executor.prv)
    assert payloads(c.channel_read(p.processid, "early", 0, 0, executor.prv)) == [b"before assignment"]


# --- subscriptions ----------------------------------------------------------------------------
def test_backlog_in_one_frame_then_one_frame_per_entry_then_timeout_frame(colony: ColonyEnv,
                                                                         server: ServerProcess) -> None:
    p, user, ex = running(colony, ["s"])
    c = colony.client
    for i in (1, 2, 3):
        c.channel_append(p.processid, "s", i, f"old {i}", user.prv)
    sub = Sub(server.port, ex.prv, p.processid, "s", afterseq=1, timeout=3)
    try:
        assert payloads(sub.frame()) == [b"old 2", b"old 3"]  # the backlog from index 1, as one frame
        c.channel_append(p.processid, "s", 4, "live 4", user.prv)
        c.channel_append(p.processid, "s", 5, "live 5", user.prv)
        assert payloads(sub.frame()) == [b"live 4"]
        assert payloads(sub.frame()) == [b"live 5"]
        assert sub.frame() == []  # the timeout frame ends the subscription
    finally:
        sub.close()


def test_empty_channel_sends_no_empty_backlog_and_pycolonies_receives_live(colony: ColonyEnv) -> None:
    p, user, ex = running(colony, ["rt"])
    got: list[dict[str, Any]] = []
    ready = threading.Event()

    def collect(entries: list[dict[str, Any]]) -> bool:
        got.extend(entries)
        return len(got) < 3

    def subscriber() -> None:
        Colonies("127.0.0.1", colony.client.port).subscribe_channel(p.processid, "rt", ex.prv, timeout=20,
                                                                    callback=collect)
        ready.set()

    t = threading.Thread(target=subscriber, daemon=True)
    t.start()
    for i in (1, 2, 3):
        colony.client.channel_append(p.processid, "rt", i, f"m{i}", user.prv)
    t.join(30)
    assert ready.is_set() and payloads(got) == [b"m1", b"m2", b"m3"]


def test_two_subscribers_each_get_every_entry(colony: ColonyEnv, server: ServerProcess) -> None:
    p, user, ex = running(colony, ["fan"])
    subs = [Sub(server.port, prv, p.processid, "fan") for prv in (user.prv, ex.prv)]
    try:
        # a first entry makes sure both subscriptions are registered (backlog or live, never both)
        colony.client.channel_append(p.processid, "fan", 1, "a", user.prv)
        for sub in subs:
            assert payloads(sub.frame()) == [b"a"]
        colony.client.channel_append(p.processid, "fan", 2, "b", ex.prv)
        for sub in subs:
            assert payloads(sub.frame()) == [b"b"]
    finally:
        for sub in subs:
            sub.close()


def test_concurrent_appenders_lose_nothing_and_keep_each_sender_in_order(colony: ColonyEnv,
                                                                       server: ServerProcess) -> None:
    p, user, ex = running(colony, ["busy"])
    sub = Sub(server.port, user.prv, p.processid, "busy", timeout=60)
    per_thread, threads_per_party = 40, 2
    errors: list[BaseException] = []

    def sender(prv: str, base: int) -> None:
        client = Colonies("127.0.0.1", server.port)
        try:
            for i in range(per_thread):
                client.channel_append(p.processid, "busy", base + i, f"{base + i}", prv)
        except BaseException as exc:
            errors.append(exc)

    try:
        # the first frame proves the subscription is registered before the crowd starts
        colony.client.channel_append(p.processid, "busy", 0, "start", user.prv)
        assert payloads(sub.frame()) == [b"start"]
        threads = [threading.Thread(target=sender, args=(prv, 1000 * (k + 1) + 100 * j))
                   for k, prv in enumerate((user.prv, ex.prv)) for j in range(threads_per_party)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors
        total = per_thread * threads_per_party * 2
        pushed = [sub.frame() for _ in range(total)]
        assert all(len(frame) == 1 for frame in pushed)
        entries = colony.client.channel_read(p.processid, "busy", 1, 0, ex.prv)
        assert len(entries) == total
        assert sorted(e["sequence"] for e in entries) == sorted(f[0]["sequence"] for f in pushed)
        for sender_id in (user.id, ex.id):
            mine = [e["sequence"] for e in entries if e["senderid"] == sender_id]
            assert mine == sorted(mine) and len(mine) == total // 2
    finally:
        sub.close()


def test_subscriber_that_disconnects_mid_stream_never_blocks_or_fails_appends(colony: ColonyEnv,
                                                                             server: ServerProcess) -> None:
    p, user, ex = running(colony, ["drop"])
    gone = Sub(server.port, ex.prv, p.processid, "drop", timeout=60)
    colony.client.channel_append(p.processid, "drop", 1, "first", user.prv)
    assert payloads(gone.frame()) == [b"first"]
    gone.ws.sock.shutdown(2)  # vanish without a close handshake
    gone.ws.sock.close()
    for i in range(2, 300):
        colony.client.channel_append(p.processid, "drop", i, f"n{i}", user.prv)
    assert len(colony.client.channel_read(p.processid, "drop", 0, 0, user.prv)) == 299
    fresh = Sub(server.port, ex.prv, p.processid, "drop", afterseq=298, timeout=2)
    try:
        assert payloads(fresh.frame()) == [b"n299"]
        assert fresh.frame() == []
    finally:
        fresh.close()
    assert requests.get(f"http://127.0.0.1:{server.port}/health", timeout=5).status_code == 200


# --- lifetime ---------------------------------------------------------------------------------
def cancel(port: int, pid: str, prv: str) -> None:
    assert rpc(port, {"msgtype": "cancelprocessmsg", "processid": pid}, prv)[0] == 200


@pytest.mark.parametrize("end", ["close", "fail", "cancel"])
def test_process_end_deletes_channels_and_ends_subscriptions(end: str, colony: ColonyEnv,
                                                             server: ServerProcess) -> None:
    p, user, ex = running(colony, ["x"])
    colony.client.channel_append(p.processid, "x", 1, "data", user.prv)
    sub = Sub(server.port, user.prv, p.processid, "x", timeout=60)
    try:
        assert payloads(sub.frame()) == [b"data"]
        if end == "close":
            colony.client.close(p.processid, ["done"], ex.prv)
        elif end == "fail":
            colony.client.fail(p.processid, ["boom"], ex.prv)
        else:
            cancel(server.port, p.processid, user.prv)
        assert sub.frame() == []  # the subscription ends with the `[]` frame
    finally:
        sub.close()
    for prv in (user.prv, ex.prv):
        assert read(server.port, prv, p.processid, "x") == (404, {"status": 404, "message": "Channel not found"})
        assert append(server.port, prv, p.processid, "x", 2, b"late")[0] == 404


def test_deadline_loop_failure_deletes_channels(colony: ColonyEnv, server: ServerProcess) -> None:
    executor = colony.new_executor()
    p = colony.client.submit_func_spec(spec(colony, ["t"], maxexectime=1, maxretries=0), colony.user.prv)
    colony.client.assign(colony.name, 10, executor.prv)
    colony.client.channel_append(p.processid, "t", 1, "x", executor.prv)
    poll_until(lambda: read(server.port, executor.prv, p.processid, "t")[0] == 404, 30, what="channel deleted")
    assert colony.client.get_process(p.processid, colony.user.prv).state == 3


def test_workflow_channels_and_cancel(colony: ColonyEnv, server: ServerProcess) -> None:
    s1 = spec(colony, ["wf"], nodename="a")
    s2 = spec(colony, [], nodename="b", dependencies=["a"])
    graph = colony.client.submit_workflow(Workflow(colonyname=colony.name, functionspecs=[s1, s2]), colony.user.prv)
    root = graph.rootprocessids[0]
    colony.client.channel_append(root, "wf", 1, "to a", colony.user.prv)
    assert payloads(colony.client.channel_read(root, "wf", 0, 0, colony.user.prv)) == [b"to a"]
    assert rpc(server.port, {"msgtype": "cancelprocessgraphmsg", "processgraphid": graph.processgraphid},
               colony.user.prv)[0] == 200
    assert read(server.port, colony.user.prv, root, "wf")[0] == 404


@pytest.mark.parametrize("how", ["process", "all processes", "workflow", "colony"])
def test_removing_processes_frees_channels_and_ends_subscriptions(how: str, colony: ColonyEnv,
                                                                 server: ServerProcess) -> None:
    c = colony.client
    if how == "workflow":
        graph = c.submit_workflow(Workflow(colonyname=colony.name, functionspecs=[spec(colony, ["r"], nodename="n")]),
                                  colony.user.prv)
        pid = graph.rootprocessids[0]
    else:
        pid = c.submit_func_spec(spec(colony, ["r"]), colony.user.prv).processid  # WAITING: may be removed
    c.channel_append(pid, "r", 1, "kept until removal", colony.user.prv)
    sub = Sub(server.port, colony.user.prv, pid, "r", timeout=60)
    try:
        assert payloads(sub.frame()) == [b"kept until removal"]
        if how == "process":
            c.remove_process(pid, colony.user.prv)
        elif how == "all processes":
            c.remove_all_processes(colony.name, colony.colony_prv)
        elif how == "workflow":
            c.remove_processgraph(graph.processgraphid, colony.user.prv)
        else:
            c.del_colony(colony.name, SERVER_PRV)
        assert sub.frame() == []
    finally:
        sub.close()
    assert read(server.port, colony.user.prv, pid, "r") == (404, {"status": 404, "message": "Process not found"})


def test_a_subscriber_callback_may_append_from_inside_its_receive_loop(colony: ColonyEnv) -> None:
    """The chat pattern of pycolonies' own tests: the executor echoes every client message."""
    p, user, ex = running(colony, ["chat"])
    seen: list[dict[str, Any]] = []
    echo = Colonies("127.0.0.1", colony.client.port)

    def on_entries(entries: list[dict[str, Any]]) -> bool:
        for e in entries:
            seen.append(e)
            if e["senderid"] == user.id:
                echo.channel_append(p.processid, "chat", e["sequence"] + 100, b"echo: " + e["payload"], ex.prv,
                                    in_reply_to=e["sequence"])
        return len(seen) < 4

    t = threading.Thread(target=lambda: Colonies("127.0.0.1", colony.client.port).subscribe_channel(
        p.processid, "chat", ex.prv, timeout=30, callback=on_entries), daemon=True)
    t.start()
    colony.client.channel_append(p.processid, "chat", 1, "hi", user.prv)
    colony.client.channel_append(p.processid, "chat", 2, "there", user.prv)
    t.join(40)
    assert not t.is_alive()
    log = colony.client.channel_read(p.processid, "chat", 0, 0, user.prv)
    replies = {e["inreplyto"]: e["payload"] for e in log if e["senderid"] == ex.id}
    assert replies == {1: b"echo: hi", 2: b"echo: there"}


def test_undeclared_channel_and_unknown_process_are_404(colony: ColonyEnv, server: ServerProcess) -> None:
    p, user, _ = running(colony, ["declared"])
    assert read(server.port, user.prv, p.processid, "other") == (404, {"status": 404, "message": "Channel not found"})
    assert append(server.port, user.prv, p.processid, "other", 1, b"x")[0] == 404
    assert read(server.port, user.prv, "0" * 64, "declared") == (404, {"status": 404, "message": "Process not found"})
    sub = Sub(server.port, user.prv, p.processid, "other")
    try:
        assert sub.frame() == {"error": {"status": 404, "message": "Channel not found"}}
    finally:
        sub.close()


def test_subscribe_is_websocket_only(colony: ColonyEnv, server: ServerProcess) -> None:
    p, user, _ = running(colony, ["w"])
    status, reply = rpc(server.port, {"msgtype": "subscribechannelmsg", "processid": p.processid, "name": "w",
                                      "afterseq": 0, "timeout": 1}, user.prv)
    assert status == 403 and "subscribechannelmsg" in reply["message"]


# --- authorization ----------------------------------------------------------------------------
def test_refusals_for_append_read_and_subscribe(colony: ColonyEnv, server: ServerProcess) -> None:
    p, user, _ex = running(colony, ["secret"])
    other_colony = make_colony(colony.client)
    strangers = {
        "non-member (colony owner key)": (colony.colony_prv, f"not a member of Colony with name {colony.name}"),
        "executor of another colony": (other_colony.new_executor().prv, "not a member"),
        "user of another colony": (other_colony.user.prv, "not a member"),
        "unapproved executor here": (colony.new_executor(approve=False).prv, "not a member"),
        "another executor here": (colony.new_executor().prv, "Not authorized to write to channel"),
        "another user here": (colony.new_user().prv, "Not authorized to write to channel"),
    }
    for who, (prv, why) in strangers.items():
        status, reply = append(server.port, prv, p.processid, "secret", 1, b"intrusion")
        assert status == 403 and why in reply["message"], who
        status, reply = read(server.port, prv, p.processid, "secret")
        assert status == 403 and why.replace("write to", "read from") in reply["message"], who
        sub = Sub(server.port, prv, p.processid, "secret")
        try:
            frame = sub.frame()
            assert frame["error"]["status"] == 403, who
            assert why.replace("write to", "subscribe to") in frame["error"]["message"], who
        finally:
            sub.close()
        with pytest.raises(ColoniesError):
            Colonies("127.0.0.1", server.port).subscribe_channel(p.processid, "secret", prv, timeout=1)
    assert read(server.port, user.prv, p.processid, "secret") == (200, [])  # nothing was written


# --- caps and rate limit (a server with small limits) -----------------------------------------
LIMITS = {"COLONIES_CHANNEL_MAX_ENTRIES": "5", "COLONIES_CHANNEL_MAX_BYTES": "64",
          "COLONIES_CHANNEL_PROCESS_MAX_ENTRIES": "8", "COLONIES_CHANNEL_PROCESS_MAX_BYTES": "100",
          "COLONIES_CHANNEL_TOTAL_MAX_BYTES": "200", "COLONIES_CHANNEL_MAX_PAYLOAD": "40",
          "COLONIES_CHANNEL_BURST": "30", "COLONIES_CHANNEL_RATE": "0.001"}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("small")
    srv = ServerProcess(data_dir=base / "data", log_dir=base / "logs", env=LIMITS)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def refused(status_reply: tuple[int, Any], words: str) -> None:
    status, reply = status_reply
    assert status == 413 and words in reply["message"], reply


def test_caps_refuse_with_413_and_ending_a_process_frees_its_bytes(small: ServerProcess) -> None:
    colony = make_colony(Colonies("127.0.0.1", small.port))
    port = small.port
    procs = [running(colony, ["a", "b"]) for _ in range(5)]
    (p1, u1, _), (p2, u2, _), (p3, u3, e3), (p4, u4, e4), (p5, u5, _) = procs
    # entries per channel, and the payload size
    for i in range(5):
        assert append(port, u1.prv, p1.processid, "a", i, b"1")[0] == 200
    refused(append(port, u1.prv, p1.processid, "a", 5, b"1"), "channel log is full (5 entries)")
    refused(append(port, u1.prv, p1.processid, "b", 6, b"x" * 41), "payload exceeds maximum size")
    # bytes per channel
    assert append(port, u2.prv, p2.processid, "a", 1, b"x" * 40)[0] == 200
    refused(append(port, u2.prv, p2.processid, "a", 2, b"x" * 30), "channel log is full (64 bytes")
    assert append(port, u2.prv, p2.processid, "b", 2, b"x" * 20)[0] == 200  # another channel has room
    # entries per process, over both channels and both parties
    for i in range(5):
        assert append(port, u3.prv, p3.processid, "a", i, b"")[0] == 200
    for i in range(3):
        assert append(port, e3.prv, p3.processid, "b", i, b"")[0] == 200
    refused(append(port, u3.prv, p3.processid, "b", 9, b""), "process are full (8 entries)")
    # bytes per process
    for name, size in (("a", 40), ("a", 20), ("b", 40)):
        assert append(port, u4.prv, p4.processid, name, size, b"y" * size)[0] == 200
    refused(append(port, u4.prv, p4.processid, "b", 1, b"y"), "process are full (100 bytes")
    # the server total: 5 + 60 + 0 + 100 = 165 bytes are held, the cap is 200
    refused(append(port, u5.prv, p5.processid, "a", 1, b"z" * 36), "server is full (200 bytes")
    assert read(port, u5.prv, p5.processid, "a") == (200, [])  # refusals change nothing
    colony.client.close(p4.processid, [], e4.prv)  # ending p4 frees its 100 bytes
    assert append(port, u5.prv, p5.processid, "a", 1, b"z" * 36)[0] == 200
    for p, _, e in procs:
        if p is not p4:
            colony.client.close(p.processid, [], e.prv)


def test_rate_limit_counts_every_attempt_per_process(small: ServerProcess) -> None:
    colony = make_colony(Colonies("127.0.0.1", small.port))
    p, u, ex = running(colony, ["a"])
    statuses = [append(small.port, (u if i % 2 else ex).prv, p.processid, "a", i, b"")[0] for i in range(34)]
    # burst 30 (both parties share it), refill 0.001/s; refused appends spend tokens too
    assert statuses == [200] * 5 + [413] * 25 + [429] * 4
    _, reply = append(small.port, u.prv, p.processid, "a", 99, b"")
    assert reply["message"].startswith("rate limit exceeded")
    other, u2, _ = running(colony, ["a"])  # another process has its own bucket
    assert append(small.port, u2.prv, other.processid, "a", 1, b"")[0] == 200
