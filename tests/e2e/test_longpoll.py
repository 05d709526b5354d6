"""Long-poll assignment (PROTOCOL §6.2, issue 11): one wake-up per assignable process, FIFO among
parked executors, disconnected long-polls leave at once and are never handed a process.

The server runs in this process (uvicorn on a real socket, real SQLite file) so that the tests
can look at its hub: how many parked waiters there are, in which order, how many were woken.
Clients are real sockets: raw HTTP for long-polls we disconnect, pycolonies for the rest.
"""
from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from model import Workflow
from pycolonies import Colonies
from server_process import ThreadServer

from .conftest import ColonyEnv, make_colony, poll_until, sign_envelope

LONG = 30  # long-poll timeout (s) for executors that must still be parked when we look


@pytest.fixture(scope="module")
def inproc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    with ThreadServer(tmp_path_factory.mktemp("inproc"), loops=True, deadline_period_seconds=0.2) as srv:
        yield srv


@pytest.fixture
def env(inproc: ThreadServer) -> ColonyEnv:
    return make_colony(Colonies("127.0.0.1", inproc.port))


class LongPoll:
    """One `assignprocessmsg` over its own raw socket; the reply is read in a thread."""

    def __init__(self, port: int, colonyname: str, prv: str, timeout: int = LONG, *, signature_first: bool = False,
                 availablecpu: str = "") -> None:
        msg = {"msgtype": "assignprocessmsg", "colonyname": colonyname, "timeout": timeout}
        if availablecpu:
            msg["availablecpu"] = availablecpu
        env = sign_envelope(msg, prv)
        if signature_first:  # the Go client's field order: the body does not start with the payload type
            env = {"signature": env["signature"], "payload": env["payload"], "payloadtype": env["payloadtype"]}
        body = json.dumps(env).encode()
        if signature_first:
            assert b"assignprocessmsg" not in body[:64]
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(b"POST /api HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.status: int | None = None
        self.reply: dict[str, Any] | None = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            resp = http.client.HTTPResponse(self.sock)
            resp.begin()
            self.status = resp.status
            self.reply = json.loads(resp.read())
        except OSError:
            pass

    def done(self) -> bool:
        return not self.thread.is_alive()

    def process_id(self) -> str | None:
        """The assigned process id, once the reply came and was a success."""
        if self.reply is None or self.reply.get("error"):
            return None
        import base64

        return json.loads(base64.b64decode(self.reply["payload"]))["processid"]

    def disconnect(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def key_of(env: ColonyEnv) -> tuple[str, str]:
    return (env.name, env.default_type)


def parked(inproc: ThreadServer, env: ColonyEnv) -> list[str]:
    return inproc.on_loop(inproc.hub.queued_names, key_of(env))


def park_in_order(inproc: ThreadServer, env: ColonyEnv, members: list[Any], **kw: Any) -> list[LongPoll]:
    """Start one long-poll per member, each only once the previous one is parked."""
    polls = []
    for i, member in enumerate(members):
        polls.append(LongPoll(inproc.port, env.name, member.prv, **kw))
        poll_until(lambda n=i + 1: len(parked(inproc, env)) == n, 20, 0.02, f"{i + 1} parked long-polls")
    assert parked(inproc, env) == [m.name for m in members]
    return polls


def wakeups(inproc: ThreadServer) -> int:
    return inproc.on_loop(lambda: inproc.hub.wakeups)


def rpc(inproc: ThreadServer, msg: dict[str, Any], prv: str) -> Any:
    reply = requests.post(f"http://127.0.0.1:{inproc.port}/api", json=sign_envelope(msg, prv), timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()


def process_of(env: ColonyEnv, processid: str) -> Any:
    return env.client.get_process(processid, env.user.prv)


# --------------------------------------------------------------------------------------------


def test_k_processes_wake_at_most_k_waiters(inproc: ThreadServer, env: ColonyEnv) -> None:
    executors = [env.new_executor() for _ in range(6)]
    polls = park_in_order(inproc, env, executors)
    before = wakeups(inproc)
    submitted = {env.submit().processid for _ in range(2)}
    poll_until(lambda: sum(p.done() for p in polls) == 2, 20, 0.02, "two assignments")
    assert {p.process_id() for p in polls if p.done()} == submitted
    assert wakeups(inproc) - before <= 2  # the other four were never woken
    assert parked(inproc, env) == [e.name for e, p in zip(executors, polls, strict=True) if not p.done()]
    for p in polls:
        p.disconnect()


def test_waiters_are_served_first_come_first_served(inproc: ThreadServer, env: ColonyEnv) -> None:
    executors = [env.new_executor() for _ in range(5)]
    polls = park_in_order(inproc, env, executors)
    order = []
    for n in range(5):
        pid = env.submit().processid
        poll_until(lambda k=n + 1: sum(p.done() for p in polls) == k, 20, 0.02, "the next assignment")
        (winner,) = [e for e, p in zip(executors, polls, strict=True) if p.done() and e.name not in order]
        assert process_of(env, pid).assignedexecutorid == winner.id
        order.append(winner.name)
    assert order == [e.name for e in executors]


def test_a_targeted_process_wakes_its_named_executor_only(inproc: ThreadServer, env: ColonyEnv) -> None:
    executors = [env.new_executor() for _ in range(3)]
    polls = park_in_order(inproc, env, executors)
    before = wakeups(inproc)
    pid = env.submit(executornames=[executors[2].name]).processid
    poll_until(polls[2].done, 20, 0.02, "the named executor's assignment")
    assert polls[2].process_id() == pid
    assert wakeups(inproc) - before == 1
    assert parked(inproc, env) == [executors[0].name, executors[1].name]
    for p in polls[:2]:
        p.disconnect()


def test_a_process_needing_more_cpu_skips_a_smaller_waiter(inproc: ThreadServer, env: ColonyEnv) -> None:
    small, big = env.new_executor(), env.new_executor()
    polls = [LongPoll(inproc.port, env.name, small.prv, availablecpu="500m")]
    poll_until(lambda: len(parked(inproc, env)) == 1, 20, 0.02, "the small executor parked")
    polls.append(LongPoll(inproc.port, env.name, big.prv, availablecpu="4"))
    poll_until(lambda: len(parked(inproc, env)) == 2, 20, 0.02, "the big executor parked")
    spec = env.spec()
    spec.conditions.cpu = "2"
    pid = env.client.submit_func_spec(spec, env.user.prv).processid
    poll_until(polls[1].done, 20, 0.02, "the big executor's assignment")
    assert polls[1].process_id() == pid
    assert parked(inproc, env) == [small.name]
    polls[0].disconnect()


def test_a_disconnected_long_poll_is_never_assigned(inproc: ThreadServer, env: ColonyEnv) -> None:
    gone, other = env.new_executor(), env.new_executor()
    poll = LongPoll(inproc.port, env.name, gone.prv)
    poll_until(lambda: parked(inproc, env) == [gone.name], 20, 0.02, "the long-poll parked")
    poll.disconnect()
    pid = env.submit().processid  # at once: the disconnect and the submit race
    poll_until(lambda: parked(inproc, env) == [], 20, 0.02, "the disconnected long-poll to leave the queue")
    assert process_of(env, pid).state == 0  # still waiting: handed to nobody
    process = env.client.assign(env.name, 10, other.prv)
    assert process.processid == pid
    assert process_of(env, pid).assignedexecutorid == other.id


def test_many_disconnects_racing_submits_lose_no_process(inproc: ThreadServer, env: ColonyEnv) -> None:
    executors = [env.new_executor() for _ in range(8)]
    polls = park_in_order(inproc, env, executors)
    for p in polls:
        p.disconnect()
    pids = {env.submit().processid for _ in polls}  # the submits race the server noticing the disconnects
    poll_until(lambda: parked(inproc, env) == [], 20, 0.02, "every long-poll gone")
    worker = env.new_executor()
    got = set()
    while len(got) < len(pids):
        process = env.client.assign(env.name, 10, worker.prv)
        got.add(process.processid)
        env.client.close(process.processid, [], worker.prv)
    assert got == pids  # every process went to the one live executor, none to a gone one
    assert all(process_of(env, pid).assignedexecutorid == worker.id for pid in pids)


def test_signature_first_long_poll_is_detected_and_its_disconnect_noticed(inproc: ThreadServer,
                                                                          env: ColonyEnv) -> None:
    ex, other = env.new_executor(), env.new_executor()
    poll = LongPoll(inproc.port, env.name, ex.prv, signature_first=True)
    poll_until(lambda: parked(inproc, env) == [ex.name], 20, 0.02, "the signature-first long-poll parked")
    poll.disconnect()
    poll_until(lambda: parked(inproc, env) == [], 20, 0.02, "its disconnect to be noticed")
    pid = env.submit().processid
    assert process_of(env, pid).state == 0
    assert env.client.assign(env.name, 10, other.prv).processid == pid


def test_signature_first_long_poll_is_answered(inproc: ThreadServer, env: ColonyEnv) -> None:
    ex = env.new_executor()
    poll = LongPoll(inproc.port, env.name, ex.prv, signature_first=True)
    poll_until(lambda: parked(inproc, env) == [ex.name], 20, 0.02, "the long-poll parked")
    pid = env.submit().processid
    poll_until(poll.done, 20, 0.02, "the assignment")
    assert poll.status == 200 and poll.process_id() == pid


def test_a_deadline_requeue_wakes_a_parked_executor(inproc: ThreadServer, env: ColonyEnv) -> None:
    slow, waiting = env.new_executor(), env.new_executor()
    pid = env.submit(maxexectime=1, maxretries=3).processid
    assert env.client.assign(env.name, 10, slow.prv).processid == pid
    poll = LongPoll(inproc.port, env.name, waiting.prv)
    poll_until(lambda: parked(inproc, env) == [waiting.name], 20, 0.02, "the long-poll parked")
    poll_until(poll.done, 20, 0.05, "the re-queued process to be assigned")  # deadline loop: every 0.2 s here
    assert poll.process_id() == pid
    assert process_of(env, pid).retries == 1


def test_a_parents_close_wakes_the_child_executor(inproc: ThreadServer, env: ColonyEnv) -> None:
    parent_ex, child_ex = env.new_executor(), env.new_executor("childtype")
    specs = [env.spec(nodename="a"), env.spec(executortype="childtype", nodename="b", dependencies=["a"])]
    graph = env.client.submit_workflow(Workflow(colonyname=env.name, functionspecs=specs), env.user.prv)
    poll = LongPoll(inproc.port, env.name, child_ex.prv)
    poll_until(lambda: inproc.on_loop(inproc.hub.queued_names, (env.name, "childtype")) == [child_ex.name], 20,
               0.02, "the child executor parked")
    parent = env.client.assign(env.name, 10, parent_ex.prv)
    env.client.close(parent.processid, ["from a"], parent_ex.prv)
    poll_until(poll.done, 20, 0.02, "the child to be assigned")
    child = process_of(env, poll.process_id())
    assert child.processgraphid == graph.processgraphid and child.input == ["from a"]


def test_a_parked_executor_gets_work_submitted_while_paused_after_resume(inproc: ThreadServer,
                                                                           env: ColonyEnv) -> None:
    ex = env.new_executor()
    rpc(inproc, {"msgtype": "pauseassignmentsmsg", "colonyname": env.name}, env.colony_prv)
    poll = LongPoll(inproc.port, env.name, ex.prv)
    pid = env.submit().processid
    assert not poll.done() and process_of(env, pid).state == 0
    rpc(inproc, {"msgtype": "resumeassignmentsmsg", "colonyname": env.name}, env.colony_prv)
    poll_until(poll.done, 20, 0.02, "the assignment after resume")
    assert poll.process_id() == pid


def test_nothing_assigned_twice_under_32_waiters_and_concurrent_submitters(inproc: ThreadServer,
                                                                           env: ColonyEnv) -> None:
    executors = [env.new_executor() for _ in range(32)]
    total, submitters = 160, 4
    assigned: list[tuple[str, str]] = []
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def run_executor(member: Any) -> None:
        client = Colonies("127.0.0.1", inproc.port)
        while not stop.is_set():
            try:
                process = client.assign(env.name, 2, member.prv)
            except Exception:
                continue
            with lock:
                assigned.append((process.processid, member.name))
            try:
                client.close(process.processid, [member.name], member.prv)
            except BaseException as exc:
                errors.append(exc)

    def run_submitter() -> None:
        client = Colonies("127.0.0.1", inproc.port)
        for _ in range(total // submitters):
            client.submit_func_spec(env.spec(), env.user.prv)

    threads = [threading.Thread(target=run_executor, args=(m,), daemon=True) for m in executors]
    for t in threads:
        t.start()
    poll_until(lambda: len(parked(inproc, env)) >= 16, 30, 0.05, "executors parked")
    subs = [threading.Thread(target=run_submitter, daemon=True) for _ in range(submitters)]
    for t in subs:
        t.start()
    for t in subs:
        t.join(120)
    poll_until(lambda: len(assigned) >= total, 120, 0.1, "every process assigned")
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors
    counts = Counter(pid for pid, _ in assigned)
    assert len(counts) == total and max(counts.values()) == 1
    successful = env.client.list_processes(env.name, 100, 2, env.user.prv)
    assert len(successful) == 100  # the page limit; the stats below count them all
    stats = env.client.stats(env.name, env.user.prv)
    assert stats["successfulprocesses"] == total and stats["waitingprocesses"] == 0
    assert stats["runningprocesses"] == 0


def test_polling_keeps_an_idle_executor_heard_from(inproc: ThreadServer, env: ColonyEnv) -> None:
    ex = env.new_executor()

    def heard() -> int:
        return _last_heard(inproc, env, ex.name)

    with pytest.raises(Exception, match="No process available"):
        env.client.assign(env.name, -1, ex.prv)
    first = heard()
    assert first > 0
    time.sleep(1.05)  # refreshed at most once a second
    with pytest.raises(Exception, match="No process available"):
        env.client.assign(env.name, -1, ex.prv)
    assert heard() > first


def _last_heard(inproc: ThreadServer, env: ColonyEnv, name: str) -> int:
    import sqlite3

    with sqlite3.connect(inproc.config.db_path) as conn:
        return conn.execute("SELECT lastheardfromtime FROM executors WHERE colonyname = ? AND executorname = ?",
                            (env.name, name)).fetchone()[0]


@pytest.mark.parametrize("revoke", ["remove", "reject"])
def test_a_busy_executor_is_refused_at_once_when_revoked(inproc: ThreadServer, env: ColonyEnv, revoke: str) -> None:
    """An executor whose last attempt got a process goes straight to an assignment attempt (no
    read-only look first): removed or rejected in between, it is refused all the same, and the
    waiting process is not assigned to it."""
    ex = env.new_executor()
    first = env.submit()
    got = env.client.assign(env.name, 5, ex.prv)
    assert got.processid == first.processid
    env.client.close(got.processid, [], ex.prv)
    waiting = env.submit()
    if revoke == "remove":
        env.client.remove_executor(env.name, ex.name, env.colony_prv)
    else:
        env.client.reject_executor(env.name, ex.name, env.colony_prv)
    for timeout in (-1, 1):  # no wait and long-poll alike
        with pytest.raises(Exception, match=r"Access denied|not approved|not a member|not an executor") as info:
            env.client.assign(env.name, timeout, ex.prv)
        assert "No process available" not in str(info.value)
    after = process_of(env, waiting.processid)
    assert after.state == 0 and not after.assignedexecutorid
