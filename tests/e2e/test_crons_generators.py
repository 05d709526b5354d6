"""Crons and generators over a real socket with pycolonies 1.0.25 (PROTOCOL §4.10, §4.11, §6.7, §6.8).

The module's server runs `dev --no-executor`, so every workflow a cron or generator starts stays
WAITING and can be counted; each test works in a fresh colony. Interval crons and packs have no
pycolonies method, so they go through the SDK's private signed RPC.
"""
from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from model import Conditions, FuncSpec, Workflow
from pycolonies import Colonies, ColoniesConnectionError

from .conftest import ColonyEnv, ServerProcess, make_colony, new_key, poll_until, uniq

WORKFLOW_STATES = ("waitingworkflows", "runningworkflows", "successfulworkflows", "failedworkflows",
                   "cancelledworkflows")
FAR_FUTURE = "0 0 0 1 1 *"  # once a year: never fires during a test


def rpc(client: Colonies, msg: dict[str, Any], prv: str) -> Any:
    return client._Colonies__rpc(msg, prv)  # type: ignore[attr-defined]


def workflow(colony: ColonyEnv, *, nodes: int = 1, args: list[Any] | None = None) -> Workflow:
    specs = [FuncSpec(
        nodename=f"n{i}", funcname="echo", args=list(args or []) if i == 0 else ["child"], maxexectime=60,
        conditions=Conditions(colonyname=colony.name, executortype=colony.default_type,
                              dependencies=[f"n{i - 1}"] if i else []))
        for i in range(nodes)]
    return Workflow(colonyname=colony.name, functionspecs=specs)


def workflow_json(colony: ColonyEnv, **kw: Any) -> str:
    return json.dumps(workflow(colony, **kw).model_dump(by_alias=True))


def workflow_count(colony: ColonyEnv) -> int:
    stats = colony.client.stats(colony.name, colony.user.prv)
    return sum(stats[k] for k in WORKFLOW_STATES)


def graphs(colony: ColonyEnv) -> list[dict[str, Any]]:
    found = colony.client.get_processgraphs(colony.name, 100, colony.user.prv, state=-1)
    assert isinstance(found, list)
    return found


def root_args(colony: ColonyEnv, graph: dict[str, Any]) -> list[Any]:
    assert len(graph["rootprocessids"]) == 1
    p = colony.client.get_process(graph["rootprocessids"][0], colony.user.prv)
    return list(p.spec.args)


def add_interval_cron(colony: ColonyEnv, name: str, interval: int, random: bool = False,
                      expression: str = "", wait: bool = False) -> dict[str, Any]:
    cron = {"name": name, "colonyname": colony.name, "cronexpression": expression, "interval": interval,
            "random": random, "waitforprevprocessgraph": wait, "workflowspec": workflow_json(colony)}
    return rpc(colony.client, {"msgtype": "addcronmsg", "cron": cron}, colony.user.prv)


def count_after(colony: ColonyEnv, started: float, seconds: float) -> int:
    time.sleep(max(0.0, started + seconds - time.monotonic()))
    return workflow_count(colony)


# --- crons -----------------------------------------------------------------------------------------
def test_every_second_cron_spawns_one_workflow_per_second(colony: ColonyEnv) -> None:
    c, prv = colony.client, colony.user.prv
    started = time.monotonic()
    cron = c.add_cron(uniq("cron"), "0/1 * * * * *", False, workflow(colony), colony.name, prv)
    assert cron["interval"] == -1 and cron["cronexpression"] == "0/1 * * * * *"
    try:
        n = count_after(colony, started, 5.0)
    finally:
        c.del_cron(cron["cronid"], prv)
    assert 4 <= n <= 6, n
    got = c.get_crons(colony.name, 10, prv)
    assert got == []
    # the workflows are ordinary graphs of the cron's spec, initiated by the cron's creator; counted
    # again now that the cron is gone (it may have fired once more between the count and the delete)
    total = workflow_count(colony)
    assert total >= n
    found = graphs(colony)
    assert len(found) == total
    assert {g["initiatorid"] for g in found} == {colony.user.id}
    assert root_args(colony, found[0]) == []


def test_interval_cron(colony: ColonyEnv) -> None:
    c, prv = colony.client, colony.user.prv
    started = time.monotonic()
    cron = add_interval_cron(colony, uniq("interval"), 1)
    assert cron["interval"] == 1 and cron["random"] is False and cron["cronexpression"] == ""
    try:
        n = count_after(colony, started, 4.5)  # fires 1, 2, 3, 4 s after it was added
        got = c.get_cron(cron["cronid"], prv)
    finally:
        c.del_cron(cron["cronid"], prv)
    assert 3 <= n <= 5, n
    assert got["interval"] == 1 and got["checkerperiod"] == 1000
    assert got["lastrun"] != "0001-01-01T00:00:00Z" and got["prevprocessgraphid"]


def test_random_interval_cron_spawns_about_one_per_window(colony: ColonyEnv) -> None:
    c, prv = colony.client, colony.user.prv
    started = time.monotonic()
    cron = add_interval_cron(colony, uniq("random"), 1, random=True)
    assert cron["random"] is True
    try:
        n = count_after(colony, started, 5.5)  # windows 1..4 surely, 5 maybe (window 0: none)
    finally:
        c.del_cron(cron["cronid"], prv)
    assert 3 <= n <= 6, n


def test_waitforprevious_with_an_unserved_process_blocks_further_runs(colony: ColonyEnv) -> None:
    c, prv = colony.client, colony.user.prv
    # pycolonies sends the flag misspelled as `waitforprevprocessgrap`; the server accepts it
    cron = c.add_cron(uniq("wait"), "0/1 * * * * *", True, workflow(colony), colony.name, prv)
    try:
        assert c.get_cron(cron["cronid"], prv)["waitforprevprocessgraph"] is True
        poll_until(lambda: workflow_count(colony) >= 1, 3.0, what="the first run")
        time.sleep(2.5)
        assert workflow_count(colony) == 1  # nobody runs the first graph: no more runs
        first = graphs(colony)[0]
        assert c.get_cron(cron["cronid"], prv)["prevprocessgraphid"] == first["processgraphid"]
        # a cancelled previous graph does not block
        rpc(c, {"msgtype": "cancelprocessgraphmsg", "processgraphid": first["processgraphid"]}, prv)
        poll_until(lambda: workflow_count(colony) == 2, 3.0, what="a run after the cancel")
    finally:
        c.del_cron(cron["cronid"], prv)


def test_run_cron_now(colony: ColonyEnv) -> None:
    c, prv = colony.client, colony.user.prv
    cron = c.add_cron(uniq("now"), FAR_FUTURE, False, workflow(colony, args=["x"]), colony.name, prv)
    assert workflow_count(colony) == 0
    before = c.run_cron(cron["cronid"], prv)
    assert before["cronid"] == cron["cronid"] and before["prevprocessgraphid"] == ""  # the cron before the run
    assert workflow_count(colony) == 1  # started before the reply
    after = c.get_cron(cron["cronid"], prv)
    [graph] = graphs(colony)
    assert after["prevprocessgraphid"] == graph["processgraphid"]
    assert after["lastrun"] != "0001-01-01T00:00:00Z"
    assert root_args(colony, graph) == ["x"]
    # a stranger may not run it, and nothing runs
    stranger_prv, _ = new_key()
    with pytest.raises(ColoniesConnectionError, match=r"(?i)access denied|not a member"):
        c.run_cron(cron["cronid"], stranger_prv)
    assert workflow_count(colony) == 1
    c.del_cron(cron["cronid"], prv)


@pytest.mark.parametrize("cronexpr, words", [
    ("61 * * * * *", "Invalid cron expression"),
    ("every second", "6 fields"),
    ("@every 10x", "duration"),
    ("TZ=Mars/Olympus 0/1 * * * * *", "time zone"),
])
def test_cron_with_an_invalid_expression_is_rejected(colony: ColonyEnv, cronexpr: str, words: str) -> None:
    c, prv = colony.client, colony.user.prv
    with pytest.raises(ColoniesConnectionError, match=words):
        c.add_cron(uniq("bad"), cronexpr, False, workflow(colony), colony.name, prv)
    assert c.get_crons(colony.name, 10, prv) == []


def test_cron_schedule_errors(colony: ColonyEnv) -> None:
    c, prv = colony.client, colony.user.prv
    with pytest.raises(ColoniesConnectionError, match=r"Cron interval must be -1 \(disabled\) or larger than 0"):
        add_interval_cron(colony, uniq("zero"), 0)
    with pytest.raises(ColoniesConnectionError, match="Random cron is only supported when specifying intervals"):
        add_interval_cron(colony, uniq("rnd"), -1, random=True, expression="0/1 * * * * *")
    name = uniq("dup")
    c.add_cron(name, FAR_FUTURE, False, workflow(colony), colony.name, prv)
    with pytest.raises(ColoniesConnectionError, match="already exists"):
        c.add_cron(name, FAR_FUTURE, False, workflow(colony), colony.name, prv)
    stranger_prv, _ = new_key()
    with pytest.raises(ColoniesConnectionError, match=r"(?i)access denied|not a member"):
        c.add_cron(uniq("x"), FAR_FUTURE, False, workflow(colony), colony.name, stranger_prv)
    assert len(c.get_crons(colony.name, 10, prv)) == 1


def test_get_crons_get_cron_and_delete(colony: ColonyEnv) -> None:
    c, prv = colony.client, colony.user.prv
    a = c.add_cron("cron-a", FAR_FUTURE, False, workflow(colony), colony.name, prv)
    b = c.add_cron("cron-b", "@daily", False, workflow(colony, nodes=2), colony.name, prv)
    listed = c.get_crons(colony.name, 10, prv)
    assert sorted(x["name"] for x in listed) == ["cron-a", "cron-b"]
    assert len(c.get_crons(colony.name, 1, prv)) == 1
    got = c.get_cron(b["cronid"], prv)
    assert got["cronid"] == b["cronid"] and got["name"] == "cron-b" and got["colonyname"] == colony.name
    assert got["cronexpression"] == "@daily" and got["interval"] == -1 and got["random"] is False
    assert got["initiatorid"] == colony.user.id and got["initiatorname"] == colony.user.name
    assert got["checkerperiod"] == 1000
    assert got["nextrun"] != "0001-01-01T00:00:00Z"
    spec = json.loads(got["workflowspec"])
    assert [f["nodename"] for f in spec["functionspecs"]] == ["n0", "n1"]
    c.del_cron(a["cronid"], prv)
    with pytest.raises(ColoniesConnectionError, match="cron is nil"):
        c.get_cron(a["cronid"], prv)
    assert [x["name"] for x in c.get_crons(colony.name, 10, prv)] == ["cron-b"]
    with pytest.raises(ColoniesConnectionError):
        c.del_cron(a["cronid"], prv)
    c.del_cron(b["cronid"], prv)
    assert c.get_crons(colony.name, 10, prv) == []



def test_get_crons_has_no_max_count(colony: ColonyEnv) -> None:
    c, prv = colony.client, colony.user.prv
    c.add_cron(uniq("c"), FAR_FUTURE, False, workflow(colony), colony.name, prv)
    assert len(c.get_crons(colony.name, 500, prv)) == 1

# --- generators ------------------------------------------------------------------------------------
def add_generator(colony: ColonyEnv, trigger: int, timeout: int = -1, name: str | None = None,
                  nodes: int = 2) -> dict[str, Any]:
    return colony.client.add_generator({
        "name": name or uniq("gen"), "colonyname": colony.name,
        "workflowspec": workflow_json(colony, nodes=nodes, args=["replaced"]),
        "trigger": trigger, "timeout": timeout}, colony.user.prv)


def pack(client: Colonies, generatorid: str, arg: str, prv: str) -> Any:
    return rpc(client, {"msgtype": "packgeneratormsg", "generatorid": generatorid, "arg": arg}, prv)


def test_generator_by_count(colony: ColonyEnv) -> None:
    c, prv = colony.client, colony.user.prv
    gen = add_generator(colony, 5)
    assert gen["trigger"] == 5 and gen["timeout"] == -1 and gen["initiatorid"] == colony.user.id
    args = [f"hello{i}" for i in range(1, 6)]
    for a in args[:4]:
        pack(c, gen["generatorid"], a, prv)
    assert c.get_generator(gen["generatorid"], prv)["queuesize"] == 4
    assert workflow_count(colony) == 0
    pack(c, gen["generatorid"], args[4], prv)
    assert workflow_count(colony) == 1  # started in the same unit of work as the 5th pack
    [graph] = graphs(colony)
    assert root_args(colony, graph) == args
    child = [pid for pid in graph["processids"] if pid not in graph["rootprocessids"]]
    assert [list(c.get_process(pid, prv).spec.args) for pid in child] == [["child"]]  # non-roots unchanged
    got = c.get_generator(gen["generatorid"], prv)
    assert got["queuesize"] == 0 and got["checkerperiod"] == 1000
    assert got["firstpack"] != "0001-01-01T00:00:00Z" and got["lastrun"] != "0001-01-01T00:00:00Z"


def test_generator_by_timeout(colony: ColonyEnv) -> None:
    c, prv = colony.client, colony.user.prv
    gen = add_generator(colony, 10, timeout=1)
    assert gen["timeout"] == 1
    started = time.monotonic()
    for a in ("t1", "t2", "t3"):
        pack(c, gen["generatorid"], a, prv)
    assert workflow_count(colony) == 0
    poll_until(lambda: workflow_count(colony) == 1, 4.0, interval=0.1, what="the timeout flush")
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed <= 3.0, elapsed
    [graph] = graphs(colony)
    assert root_args(colony, graph) == ["t1", "t2", "t3"]
    assert c.get_generator(gen["generatorid"], prv)["queuesize"] == 0
    time.sleep(1.2)
    assert workflow_count(colony) == 1  # nothing left to flush


def test_concurrent_packers_lose_and_duplicate_nothing(colony: ColonyEnv, server: ServerProcess) -> None:
    prv = colony.user.prv
    gen = add_generator(colony, 10, nodes=1)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def packer(t: int) -> None:
        client = Colonies("127.0.0.1", server.port)
        barrier.wait()
        for i in range(25):
            try:
                pack(client, gen["generatorid"], f"t{t}-{i:02d}", prv)
            except BaseException as e:
                errors.append(e)

    threads = [threading.Thread(target=packer, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors, errors[:3]
    assert workflow_count(colony) == 10
    found = graphs(colony)
    assert len(found) == 10
    batches = [root_args(colony, g) for g in found]
    assert all(len(b) == 10 for b in batches)
    everything = [a for b in batches for a in b]
    assert len(everything) == len(set(everything)) == 100
    assert set(everything) == {f"t{t}-{i:02d}" for t in range(4) for i in range(25)}
    for b in batches:  # within a batch, each packer's args keep their order
        for t in range(4):
            mine = [a for a in b if a.startswith(f"t{t}-")]
            assert mine == sorted(mine)
    assert colony.client.get_generator(gen["generatorid"], prv)["queuesize"] == 0


def test_list_and_remove_generator(colony: ColonyEnv) -> None:
    c, prv = colony.client, colony.user.prv
    a = add_generator(colony, 10, name="gen-a")
    b = add_generator(colony, 10, timeout=1, name="gen-b")
    pack(c, b["generatorid"], "orphan?", prv)
    assert sorted(g["name"] for g in c.get_generators(colony.name, prv)) == ["gen-a", "gen-b"]
    c.remove_generator(b["generatorid"], prv)
    with pytest.raises(ColoniesConnectionError, match="generator is nil"):
        c.get_generator(b["generatorid"], prv)
    assert [g["name"] for g in c.get_generators(colony.name, prv)] == ["gen-a"]
    with pytest.raises(ColoniesConnectionError):
        pack(c, b["generatorid"], "late", prv)
    time.sleep(1.5)  # the generator loop must not flush the removed generator's arg
    assert workflow_count(colony) == 0
    c.remove_generator(a["generatorid"], prv)
    assert c.get_generators(colony.name, prv) == []


@pytest.mark.parametrize("trigger", [0, -1])
def test_generator_trigger_must_be_positive(colony: ColonyEnv, trigger: int) -> None:
    with pytest.raises(ColoniesConnectionError, match="trigger"):
        add_generator(colony, trigger)
    assert colony.client.get_generators(colony.name, colony.user.prv) == []


def test_generator_rejects_strangers_and_bad_specs(colony: ColonyEnv) -> None:
    c, prv = colony.client, colony.user.prv
    stranger_prv, _ = new_key()
    with pytest.raises(ColoniesConnectionError, match=r"(?i)access denied|not a member"):
        c.add_generator({"name": "g", "colonyname": colony.name, "workflowspec": workflow_json(colony),
                         "trigger": 1, "timeout": -1}, stranger_prv)
    with pytest.raises(ColoniesConnectionError):
        c.add_generator({"name": "g", "colonyname": colony.name, "workflowspec": "not json",
                         "trigger": 1, "timeout": -1}, prv)
    gen = add_generator(colony, 2)
    with pytest.raises(ColoniesConnectionError, match=r"(?i)access denied|not a member"):
        pack(c, gen["generatorid"], "x", stranger_prv)
    assert c.get_generator(gen["generatorid"], prv)["queuesize"] == 0


# --- restart -----------------------------------------------------------------------------------------
def _submitted(graph: dict[str, Any]) -> float:
    head, _, frac = graph["submissiontime"].rstrip("Z").partition(".")
    secs = datetime.fromisoformat(head + "+00:00").timestamp()
    return secs + (int(frac.ljust(9, "0")[:9]) / 1e9 if frac else 0.0)


def test_after_a_restart_a_missed_cron_fires_once_without_a_burst(server: ServerProcess, client: Colonies) -> None:
    """Runs last: it restarts the module's server (same port, same data dir)."""
    once_colony, every_colony = make_colony(client), make_colony(client)
    target = int(time.time()) + 4  # a whole second while the server is down
    t = datetime.fromtimestamp(target, UTC)
    once_expr = f"TZ=UTC {t.second} {t.minute} {t.hour} {t.day} {t.month} *"  # fires once a year: at `target`
    once = client.add_cron(uniq("once"), once_expr, False, workflow(once_colony), once_colony.name,
                           once_colony.user.prv)
    every = client.add_cron(uniq("every"), "0/1 * * * * *", False, workflow(every_colony), every_colony.name,
                            every_colony.user.prv)
    server.stop()
    assert time.time() < target - 0.5, "the server took too long to stop"
    time.sleep(max(0.0, target + 1.0 - time.time()))  # down for ~4 missed seconds, and past `target`
    restarted = time.time()
    server.start(server.port)
    up = time.monotonic()
    try:
        time.sleep(max(0.0, up + 1.2 - time.monotonic()))
        [g] = graphs(once_colony)  # the missed run, exactly once
        assert _submitted(g) >= restarted
        after = [x for x in graphs(every_colony) if _submitted(x) >= restarted]
        # one catch-up run at start-up plus the whole seconds since; a burst would add ~4 more
        assert 2 <= len(after) <= 4, sorted(_submitted(x) - restarted for x in after)
        nxt = client.get_cron(once["cronid"], once_colony.user.prv)["nextrun"]
        assert nxt.startswith(str(t.year + 1)), nxt  # next year
    finally:
        client.del_cron(once["cronid"], once_colony.user.prv)
        client.del_cron(every["cronid"], every_colony.user.prv)
