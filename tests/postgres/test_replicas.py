"""Two `server start` replicas on one real PostgreSQL, driven over real sockets.

Covers: a long-poll parked on B is woken by a submit on A; pycolonies `wait()` on A sees a close
done on B; 8 executors across both replicas assign 2,000 processes exactly once; a replica killed
with SIGKILL under load loses no acknowledged write and its leader duties (crons) move to the
other; crons fire once per tick with two replicas running.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from colonies_pkg.client import Client
from colonies_pkg.crypto import generate_prvkey, id_of_prvkey
from colonies_pkg.errors import ColoniesError

REPO = Path(__file__).resolve().parents[2]
SERVER_PRV = generate_prvkey()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Replica:
    def __init__(self, name: str, url: str, base: Path) -> None:
        self.name, self.url, self.port = name, url, free_port()
        base.mkdir(parents=True, exist_ok=True)
        self.log = base / f"{name}.log"
        env = dict(os.environ, COLONIES_SERVER_PRVKEY=SERVER_PRV, COLONIES_DATABASE_URL=url,
                   COLONIES_REPLICA_NAME=name, PYTHONUNBUFFERED="1")
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "colonies.py", "server", "start", "--host", "127.0.0.1", "--port", str(self.port),
                 "--data-dir", str(base / name)], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"replica {name} exited:\n{self.log.read_text()[-3000:]}"
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"replica {name} did not start:\n{self.log.read_text()[-3000:]}")

    def client(self) -> Client:
        return Client("127.0.0.1", self.port)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Colony:
    """A colony with an approved executor per name, set up through replica A."""

    def __init__(self, client: Client, name: str = "c") -> None:
        self.name, self.prv = name, generate_prvkey()
        self.user_prv = generate_prvkey()
        client.rpc({"msgtype": "addcolonymsg", "colony": {"colonyid": id_of_prvkey(self.prv), "name": name}},
                   SERVER_PRV)
        client.rpc({"msgtype": "addusermsg", "user": {"colonyname": name, "userid": id_of_prvkey(self.user_prv),
                                                      "name": "u", "email": "", "phone": ""}}, self.prv)

    def executor(self, client: Client, name: str, etype: str = "t") -> str:
        prv = generate_prvkey()
        client.rpc({"msgtype": "addexecutormsg", "executor": {
            "executorname": name, "executorid": id_of_prvkey(prv), "colonyname": self.name, "executortype": etype}},
            self.prv)
        client.rpc({"msgtype": "approveexecutormsg", "colonyname": self.name, "executorname": name}, self.prv)
        return prv

    def spec(self, etype: str = "t", **kw: Any) -> dict[str, Any]:
        return {"funcname": "f", "maxexectime": -1, "maxwaittime": -1, "maxretries": -1,
                "conditions": {"colonyname": self.name, "executortype": etype}, **kw}

    def submit(self, client: Client, **kw: Any) -> str:
        return client.rpc({"msgtype": "submitfuncspecmsg", "spec": self.spec(**kw)}, self.user_prv)["processid"]


def assign(client: Client, colony: str, prv: str, timeout: int) -> dict[str, Any] | None:
    try:
        return client.rpc({"msgtype": "assignprocessmsg", "colonyname": colony, "timeout": timeout}, prv,
                          timeout=timeout + 10)
    except ColoniesError as exc:
        if exc.status == 404:
            return None
        raise


def close(client: Client, processid: str, prv: str) -> None:
    client.rpc({"msgtype": "closesuccessfulmsg", "processid": processid, "out": ["done"]}, prv)


def sql(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def metrics(replica: Replica) -> dict[str, float]:
    """The unlabelled samples of a replica's /metrics, by name."""
    text = requests.get(f"http://127.0.0.1:{replica.port}/metrics", timeout=10).text
    return {name: float(value) for name, _, value in
            (line.partition(" ") for line in text.splitlines() if line and not line.startswith("#") and "{" not in line)}


@pytest.fixture
def replicas(pg_cluster, tmp_path) -> Iterator[tuple[Replica, Replica, str]]:
    url = pg_cluster.new_database()
    a = Replica("replica-a", url, tmp_path)
    try:
        b = Replica("replica-b", url, tmp_path)
    except BaseException:
        a.stop()
        raise
    try:
        yield a, b, url
    finally:
        for r in (a, b):
            r.stop()


def test_a_submit_on_a_wakes_a_long_poll_parked_on_b(replicas) -> None:
    a, b, _ = replicas
    colony = Colony(a.client())
    prv = colony.executor(a.client(), "e1")
    got: list[Any] = []
    parked = threading.Thread(target=lambda: got.append(assign(b.client(), "c", prv, 30)))
    parked.start()
    time.sleep(0.5)  # let it park on B (nothing is waiting yet)
    started = time.monotonic()
    pid = colony.submit(a.client())
    parked.join(timeout=40)
    print(f"\ncross-replica wake-up: {1000 * (time.monotonic() - started):.1f} ms from submit on A "
          "to assignment on B")
    assert got and got[0] is not None and got[0]["processid"] == pid
    assert got[0]["assignedexecutorid"] == id_of_prvkey(prv)
    # what /metrics says about the pool, the bridge and the lease on each replica
    on_a, on_b = metrics(a), metrics(b)
    assert on_a["colonies_replica_leader"] + on_b["colonies_replica_leader"] == 1
    assert on_a["colonies_replica_notifications_sent_total"] >= 1  # the submit's wake-up
    assert on_b["colonies_replica_notifications_received_total"] >= 1
    for m in (on_a, on_b):
        assert 2 <= m["colonies_db_pool_size"] <= 10
        assert 0 <= m["colonies_db_pool_available"] <= m["colonies_db_pool_size"]
        assert m["colonies_db_pool_requests_waiting"] == 0
        assert m["colonies_replica_listener_reconnects_total"] == 0
        assert m["colonies_db_tx_retries_total"] >= 0 and m["colonies_db_pool_timeouts_total"] == 0


def test_wait_on_a_sees_a_close_done_on_b(replicas) -> None:
    from pycolonies import Colonies  # the SDK's own wait() over the /pubsub WebSocket of replica A

    a, b, _ = replicas
    colony = Colony(a.client())
    prv = colony.executor(a.client(), "e1")
    pid = colony.submit(a.client())
    sdk = Colonies("127.0.0.1", a.port)
    process = sdk.get_process(pid, colony.user_prv)
    assigned = assign(b.client(), "c", prv, 10)
    assert assigned is not None and assigned["processid"] == pid
    threading.Timer(0.5, lambda: close(b.client(), pid, prv)).start()
    done = sdk.wait(process, 30, colony.user_prv)
    assert done.processid == pid and done.state == 2 and done.output == ["done"]


def test_eight_executors_on_two_replicas_assign_2000_processes_exactly_once(replicas) -> None:
    a, b, url = replicas
    colony = Colony(a.client())
    prvs = [colony.executor(a.client(), f"e{i}") for i in range(8)]
    total, submitted = 2000, []

    def submit_many(replica: Replica, n: int) -> None:
        client = replica.client()
        submitted.extend(colony.submit(client) for _ in range(n))

    assigned: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    submit_done = threading.Event()

    def work(replica: Replica, prv: str) -> None:
        client = replica.client()
        try:
            while True:
                p = assign(client, "c", prv, 1)
                if p is None:
                    if submit_done.is_set():
                        return
                    continue
                assigned.append((p["processid"], p["assignedexecutorid"]))
                close(client, p["processid"], prv)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=((a, b)[i % 2], prv)) for i, prv in enumerate(prvs)]
    submitters = [threading.Thread(target=submit_many, args=(r, total // 4)) for r in (a, b, a, b)]
    started = time.monotonic()
    for t in workers + submitters:
        t.start()
    for t in submitters:
        t.join()
    submit_done.set()
    for t in workers:
        t.join(timeout=300)
    elapsed = time.monotonic() - started
    print(f"\n{total} processes through 2 replicas with 8 executors in {elapsed:.1f} s "
          f"({total / elapsed:.0f} processes/s)")
    assert not errors, errors[:3]
    assert len(submitted) == total
    ids = [pid for pid, _ in assigned]
    assert len(ids) == total and set(ids) == set(submitted)  # every process once, none twice
    assert len({e for _, e in assigned}) > 1
    assert sql(url, "SELECT state, COUNT(*) FROM processes GROUP BY state") == [(2, total)]


def _add_cron(client: Client, colony: Colony, name: str) -> str:
    workflow = json.dumps({"colonyname": "c", "functionspecs": [
        {"nodename": "n", "funcname": "tick", "maxexectime": -1, "conditions": {"executortype": "cron"}}]})
    return client.rpc({"msgtype": "addcronmsg", "cron": {
        "name": name, "colonyname": "c", "interval": 1, "workflowspec": workflow}}, colony.user_prv)["cronid"]


def _cron_graphs(url: str) -> list[int]:
    return [r[0] for r in sql(url, "SELECT submissiontime FROM processgraphs ORDER BY submissiontime")]


def _leader(url: str) -> str:
    rows = sql(url, "SELECT holder FROM leases WHERE name = 'leader' AND expires > now()")
    return rows[0][0] if rows else ""


def test_crons_fire_once_per_tick_with_two_replicas(replicas) -> None:
    a, b, url = replicas
    colony = Colony(a.client())
    _add_cron(b.client(), colony, "every-second")
    time.sleep(5.5)
    times = _cron_graphs(url)
    assert len(times) >= 3
    anchor = sql(url, "SELECT anchor FROM crons")[0][0]
    # ticks are due at anchor + 1 s, + 2 s, …; one workflow per tick means the k-th workflow was
    # started at or after tick k, so a tick fired twice (by two schedulers) breaks this count
    assert len(times) <= (times[-1] - anchor) // 1_000_000_000, (anchor, times)
    assert _leader(url) in ("replica-a", "replica-b")


def test_sigkill_under_load_loses_no_acknowledged_write_and_leadership_moves(replicas) -> None:
    a, b, url = replicas
    colony = Colony(a.client())
    _add_cron(a.client(), colony, "every-second")
    deadline = time.monotonic() + 15
    while not _leader(url) and time.monotonic() < deadline:
        time.sleep(0.2)
    leader_name = _leader(url)
    victim, survivor = (a, b) if leader_name == "replica-a" else (b, a)
    acknowledged: list[str] = []
    stop = threading.Event()

    def load(replica: Replica) -> None:
        client = replica.client()
        while not stop.is_set():
            try:
                acknowledged.append(colony.submit(client))
            except (ColoniesError, OSError):
                if replica is victim and victim.proc.poll() is not None:
                    return
    threads = [threading.Thread(target=load, args=(r,)) for r in (victim, victim, survivor)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    victim.kill()
    killed_at = time.monotonic()
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    stored = {r[0] for r in sql(url, "SELECT processid FROM processes")}
    missing = [p for p in acknowledged if p not in stored]
    assert acknowledged and not missing, f"{len(missing)} acknowledged submissions lost"
    # the survivor takes the lease over once it expires, and crons keep firing there
    while _leader(url) != survivor.name and time.monotonic() < killed_at + 30:
        time.sleep(0.2)
    assert _leader(url) == survivor.name
    print(f"\nleadership moved {time.monotonic() - killed_at:.1f} s after SIGKILL")
    before = len(_cron_graphs(url))
    time.sleep(3.5)
    assert len(_cron_graphs(url)) >= before + 2
    p = assign(survivor.client(), "c", colony.executor(survivor.client(), "late"), 5)
    assert p is not None  # the survivor keeps serving


def test_a_lost_listening_connection_is_restored_and_waiters_rechecked(replicas) -> None:
    """Kill B's LISTEN connection from the database side (as a network failure or a PostgreSQL
    restart would); B reconnects, re-checks its waiters, and cross-replica wake-ups work again."""
    a, b, url = replicas
    colony = Colony(a.client())
    prv = colony.executor(a.client(), "e1")
    killed = sql(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = 'colonies-listener' AND pid != pg_backend_pid()")
    assert len(killed) == 2  # one listener per replica
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        listeners = sql(url, "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'colonies-listener'")
        if listeners[0][0] == 2 and "re-checking every waiter" in b.log.read_text():
            break
        time.sleep(0.2)
    assert "re-checking every waiter" in b.log.read_text()
    assert metrics(b)["colonies_replica_listener_reconnects_total"] >= 1
    got: list[Any] = []
    parked = threading.Thread(target=lambda: got.append(assign(b.client(), "c", prv, 30)))
    parked.start()
    time.sleep(0.5)
    pid = colony.submit(a.client())
    parked.join(timeout=40)
    assert got and got[0] is not None and got[0]["processid"] == pid
